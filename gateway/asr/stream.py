"""One call's recognition stream: the event-loop side of a CallDecoder.

``feed`` runs on the event loop and only gates and queues (microseconds). A pump task
hands the queued audio to the engine's worker pool, one job at a time per call, so a
call's recogniser is never used by two threads and every call gets its turn.
The audio queue is bounded: when decoding falls behind, the OLDEST audio is dropped
and the utterance's results say ``dropped_audio=True`` (newest speech matters most to
the IVR: it holds the emergency words being said now).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor

from gateway.asr.decoder import CallDecoder
from gateway.asr.errors import AsrFailed
from gateway.asr.gate import EnergyGate, GatedAudio
from gateway.asr.result import AsrResult
from gateway.logs import get_logger

log = get_logger(__name__)

RESULTS_KEPT = 256  # unread results beyond this: the oldest partials are discarded


class RecognitionStream:
    """Feed 8 kHz s16le mono frames; iterate partial and final results."""

    def __init__(
        self,
        call_id: str,
        decoder: CallDecoder,
        gate: EnergyGate,
        executor: Executor,
        *,
        queue_bytes: int,
        on_close: Callable[[RecognitionStream], None],
    ) -> None:
        self.call_id = call_id
        self._decoder: CallDecoder | None = decoder
        self._gate = gate
        self._executor = executor
        self._queue_bytes = queue_bytes
        self._on_close = on_close
        self._pending: deque[GatedAudio] = deque()
        self._pending_size = 0
        self._dropped_since_job = False
        self.dropped_bytes = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._results: deque[AsrResult | None] = deque()  # None marks the end
        self._results_ready = asyncio.Event()
        self._finishing = False
        self._closing = False
        self._closed = False
        self._flushed: asyncio.Future[AsrResult | None] = asyncio.get_running_loop().create_future()
        self.failure: BaseException | None = None
        self._pump_task = asyncio.create_task(self._pump(), name=f"asr-pump-{call_id}")

    # ---- audio in (event loop, non-blocking) ----

    @property
    def speaking(self) -> bool:
        """The caller is audible right now (energy, with hangover): for barge-in."""
        return self._gate.speaking

    @property
    def clock(self) -> float:
        """Seconds of call audio fed so far; result times are on this clock."""
        return self._gate.clock

    def feed(self, pcm: bytes) -> None:
        """Queue one frame (any size). Never blocks; ignored once finishing or closed."""
        if self._finishing or self._closing:
            return
        gated = self._gate.push(pcm)
        if gated is None:
            return
        self._pending.append(gated)
        self._pending_size += len(gated.audio)
        self._drop_oldest_over_limit()
        self._idle.clear()
        self._wake.set()

    async def wait_idle(self) -> None:
        """Return once everything fed so far has been decoded (tests, benchmarks)."""
        await self._idle.wait()

    def _drop_oldest_over_limit(self) -> None:
        index = 0
        while self._pending_size > self._queue_bytes and index < len(self._pending) - 1:
            oldest = self._pending[index]
            if not oldest.audio:
                index += 1
                continue
            self._pending_size -= len(oldest.audio)
            self.dropped_bytes += len(oldest.audio)
            self._dropped_since_job = True
            if oldest.finalize:  # the utterance boundary survives its audio
                self._pending[index] = GatedAudio(oldest.start, b"", finalize=True)
                index += 1
            else:
                del self._pending[index]

    # ---- results out ----

    async def results(self) -> AsyncIterator[AsrResult]:
        """Partials while speech goes on, a final at each endpoint; ends at finish/close.

        Raises AsrFailed (after the results already decoded) if Vosk failed.
        """
        while True:
            while not self._results:
                self._results_ready.clear()
                await self._results_ready.wait()
            item = self._results.popleft()
            if item is None:
                self._results.appendleft(None)  # later iterators end too
                if self.failure is not None:
                    raise AsrFailed(f"recognition failed for call {self.call_id}") from (
                        self.failure
                    )
                return
            yield item

    def _publish(self, item: AsrResult | None) -> None:
        if item is not None and len(self._results) >= RESULTS_KEPT:
            self._discard_oldest_partial()
        self._results.append(item)
        self._results_ready.set()

    def _discard_oldest_partial(self) -> None:
        for index, queued in enumerate(self._results):
            if queued is not None and queued.kind == "partial":
                del self._results[index]
                return

    # ---- end of call ----

    async def finish(self) -> AsrResult | None:
        """Stop accepting audio, decode what is queued, flush Vosk: the last final or None.

        The flushed final is returned here, not yielded by ``results()`` (which then ends).
        Returns None as well when recognition had failed (see ``failure``).
        """
        if not self._closing:
            self._finishing = True
            self._wake.set()
        return await asyncio.shield(self._flushed)

    async def close(self) -> None:
        """Free the recogniser slot; queued audio is discarded. Idempotent."""
        if self._closed:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.shield(self._pump_task)
            if self._decoder is not None:  # finalise + pool the recogniser off the loop
                await asyncio.get_running_loop().run_in_executor(
                    self._executor, self._decoder.release
                )
        finally:
            if not self._closed:
                self._closed = True
                self._decoder = None
                self._on_close(self)

    # ---- the pump: one decoding job at a time on the worker pool ----

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self._closing:
                if self._pending:
                    await self._decode_pending(loop)
                elif self._finishing:
                    await self._flush(loop)
                    return
                else:
                    self._idle.set()
                    await self._wake.wait()
                    self._wake.clear()
        except Exception as exc:  # a Vosk failure ends this call's ASR, not the gateway
            self.failure = exc
            log.error("asr_failed", call_id=self.call_id, error=repr(exc))
        finally:
            self._idle.set()
            if not self._flushed.done():
                self._flushed.set_result(None)
            self._publish(None)

    async def _decode_pending(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = list(self._pending)
        self._pending.clear()
        self._pending_size = 0
        dropped, self._dropped_since_job = self._dropped_since_job, False
        assert self._decoder is not None
        results = await loop.run_in_executor(self._executor, self._decoder.process, batch, dropped)
        for result in results:
            self._publish(result)

    async def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._decoder is not None
        finals = await loop.run_in_executor(self._executor, self._decoder.flush)
        for earlier in finals[:-1]:
            self._publish(earlier)
        self._flushed.set_result(finals[-1] if finals else None)
