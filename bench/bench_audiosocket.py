"""AudioSocket edge under load: N concurrent calls, each getting a paced prompt from the
server while sending 20 ms caller frames, like Asterisk does.

    .venv/bin/python -m bench.bench_audiosocket [--calls 50 100 200] [--seconds 5]

The server (this process) is measured alone: the callers run in a child process. Two
pacing designs are compared:

- ``shared``: the gateway's AudioSocketServer - one FrameClock timer for every call;
- ``task``:   a baseline with one asyncio task per call sleeping to its own 20 ms grid.

Columns: frames/s the server sent and received, jitter of the frame arrival times at the
callers (|gap - 20 ms|, p50/p99), server CPU %, server event-loop lag p99 (a 10 ms probe).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

from gateway.audiosocket import AudioSocketCall, AudioSocketServer
from gateway.audiosocket.protocol import HEADER, FrameDecoder, Kind, encode_audio, encode_uuid
from gateway.logs import configure_logging
from gateway.settings import AudioSocketSettings

FRAME_S = 0.020
FRAME_BYTES = 320
PROMPT = bytes((i * 37) % 256 for i in range(FRAME_BYTES * 50 * 3))  # 3 s, looped


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# ------------------------------------------------------------------ servers


async def prompt_forever(call: AudioSocketCall) -> None:
    async def consume() -> None:
        async for _ in call.incoming():
            pass

    consumer = asyncio.create_task(consume())
    try:
        while not call.closed.is_set():
            await call.play(PROMPT)
    finally:
        consumer.cancel()


class SharedClockServer:
    """The production server."""

    def __init__(self) -> None:
        settings = AudioSocketSettings(host="127.0.0.1", port=0, idle_timeout=30)
        self.server = AudioSocketServer(settings, prompt_forever)

    async def start(self) -> int:
        return (await self.server.start())[1]

    def frames(self) -> tuple[int, int]:
        calls = self.server.calls
        return sum(c.counters.frames_out for c in calls), sum(c.counters.frames_in for c in calls)

    async def stop(self) -> None:
        await self.server.stop()


class TaskPerCallServer:
    """Baseline: the same work with a reader task and a pacing task per connection."""

    def __init__(self) -> None:
        self.out = 0
        self.inn = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pacer = asyncio.create_task(self.pace(writer))
        self.tasks.add(pacer)
        decoder = FrameDecoder(4096)
        try:
            while data := await reader.read(65536):
                self.inn += len(decoder.feed(data))
        except ConnectionError:
            pass
        pacer.cancel()
        writer.close()

    async def pace(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        header = HEADER.pack(Kind.AUDIO, FRAME_BYTES)
        frames = [header + PROMPT[i : i + FRAME_BYTES] for i in range(0, len(PROMPT), FRAME_BYTES)]
        start = loop.time()
        index = 0
        while True:
            index += 1
            await asyncio.sleep(max(0.0, start + index * FRAME_S - loop.time()))
            writer.write(frames[index % len(frames)])
            self.out += 1

    def frames(self) -> tuple[int, int]:
        return self.out, self.inn

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.server.close()


# ------------------------------------------------------------------ measuring


@dataclass
class Row:
    mode: str
    calls: int
    frames_out: float
    frames_in: float
    jitter_p50_ms: float
    jitter_p99_ms: float
    cpu_percent: float
    lag_p99_ms: float


async def loop_lag_probe(samples: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.010)
        samples.append(loop.time() - before - 0.010)


async def measure(mode: str, calls: int, seconds: float) -> Row:
    server = SharedClockServer() if mode == "shared" else TaskPerCallServer()
    port = await server.start()
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bench_audiosocket",
        "--client",
        "--port",
        str(port),
        "--calls",
        str(calls),
        "--seconds",
        str(seconds),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert client.stdout is not None
    ready = await client.stdout.readline()  # the callers are connected and warmed up
    assert ready.strip() == b"ready", ready
    lag: list[float] = []
    stop = asyncio.Event()
    probe = asyncio.create_task(loop_lag_probe(lag, stop))
    out0, in0 = server.frames()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result_line = await client.stdout.readline()
    cpu1, wall1 = time.process_time(), time.perf_counter()
    out1, in1 = server.frames()
    stop.set()
    await probe
    assert client.stdin is not None
    client.stdin.close()  # now the callers may hang up
    await client.wait()
    await server.stop()
    jitter = json.loads(result_line)
    wall = wall1 - wall0
    return Row(
        mode,
        calls,
        (out1 - out0) / wall,
        (in1 - in0) / wall,
        jitter["p50"] * 1000,
        jitter["p99"] * 1000,
        100 * (cpu1 - cpu0) / wall,
        percentile(lag, 0.99) * 1000,
    )


# ------------------------------------------------------------------ callers (child process)


class Caller(asyncio.Protocol):
    def __init__(self, gaps: list[float], record: list[bool]) -> None:
        self.decoder = FrameDecoder(4096)
        self.gaps = gaps
        self.record = record
        self.last = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(encode_uuid(uuid.uuid4()))

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        for _ in self.decoder.feed(data):
            if self.last and self.record[0]:
                self.gaps.append(abs(now - self.last - FRAME_S))
            self.last = now


async def run_callers(port: int, calls: int, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    record = [False]
    callers = []
    for _ in range(calls):
        _, caller = await loop.create_connection(lambda: Caller(gaps, record), "127.0.0.1", port)
        callers.append(caller)
    frame = encode_audio(bytes(FRAME_BYTES))
    done = asyncio.Event()
    start = loop.time()
    ticks = 0

    def tick() -> None:  # the callers' own 20 ms media clock (one timer for all)
        nonlocal ticks
        ticks += 1
        for caller in callers:
            if caller.transport is not None:
                caller.transport.write(frame)
        if not done.is_set():
            loop.call_at(start + (ticks + 1) * FRAME_S, tick)

    loop.call_at(start + FRAME_S, tick)
    await asyncio.sleep(1.0)  # warm-up: every call connected and playing
    record[0] = True
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    record[0] = False
    done.set()
    print(json.dumps({"p50": percentile(gaps, 0.5), "p99": percentile(gaps, 0.99)}), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # the server has read its counters
    for caller in callers:
        if caller.transport is not None:
            caller.transport.close()


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--modes", nargs="+", default=["shared", "task"])
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        asyncio.run(run_callers(args.port, args.calls[0], args.seconds))
        return
    configure_logging(level="error")  # resets at teardown are expected here
    print(
        f"AudioSocket edge: N calls, each receiving a paced prompt and sending 20 ms frames; "
        f"{args.seconds:g} s per row"
    )
    header = (
        f"{'pacing':<8}{'calls':>6}{'frames/s out':>14}{'frames/s in':>13}"
        f"{'jitter p50':>12}{'jitter p99':>12}{'CPU %':>8}{'loop lag p99':>14}"
    )
    print(header)
    print("-" * len(header))
    for calls in args.calls:
        for mode in args.modes:
            row = asyncio.run(measure(mode, calls, args.seconds))
            print(
                f"{row.mode:<8}{row.calls:>6}{row.frames_out:>14.0f}{row.frames_in:>13.0f}"
                f"{row.jitter_p50_ms:>10.2f}ms{row.jitter_p99_ms:>10.2f}ms"
                f"{row.cpu_percent:>8.1f}{row.lag_p99_ms:>12.2f}ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
