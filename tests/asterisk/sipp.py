"""Real SIP on both sides of the test Asterisk, with SIPp (Debian's sip-tester).

- :class:`CallTakers`: one SIPp UAS per trunk (the 110/119/120/12345/mediation
  call-takers of every city). Each answers, is busy, refuses, rings forever, or is
  down (no process), and logs every SIP message, so a test reads the X-GW-* headers of
  the INVITE that reached it.
- :class:`Caller`: one SIPp UAC per call into the carrier trunk, with RTP voice and
  RFC 4733 keys played from pcap files on a script (speak, keep quiet, press a key,
  hang up).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape

from gateway.retry import bounded
from tests.asterisk import rtp_pcap
from tests.asterisk.polling import poll_until
from tests.asterisk.ports import free_block, free_port

SCENARIOS = Path(__file__).resolve().parent / "sipp"
SIPP = shutil.which("sipp")
# "key:<digit>": answers, then presses the key 1.5 s later (a citizen in a survey)
Behaviour = Literal["answer", "busy", "refuse", "ring", "down"] | str


@dataclass(frozen=True)
class SipMessage:
    direction: Literal["received", "sent"]
    first_line: str
    headers: dict[str, str]

    @property
    def method(self) -> str:
        return self.first_line.split(" ", 1)[0]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


_ENTRY = re.compile(
    r"^-+ .*?\n(?P<dir>UDP message received|message sent)[^\n]*\n\n?(?P<body>.*?)(?=^-+ |\Z)",
    re.MULTILINE | re.DOTALL,
)


def parse_message_log(text: str) -> list[SipMessage]:
    """SIPp's -message_file: each entry a dashed line with a timestamp, then the message."""
    messages = []
    for entry in _ENTRY.finditer(text):
        lines = entry.group("body").strip("\n").splitlines()
        if not lines:
            continue
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line.strip():
                break
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        direction = "received" if entry.group("dir").startswith("UDP message received") else "sent"
        messages.append(SipMessage(direction, lines[0].strip(), headers))
    return messages


class SippProcess:
    """One SIPp run on 127.0.0.1, its messages logged to a file of its own."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        if SIPP is None:
            raise RuntimeError("sipp not found: install Debian's sip-tester")
        self.name = name
        self.workdir = workdir
        self.messages_file = workdir / f"{name}.messages.log"
        self.errors_file = workdir / f"{name}.errors.log"
        self._args = args
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> SippProcess:
        self.messages_file.unlink(missing_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            SIPP,
            *self._args,
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.messages_file),
            "-trace_err",
            "-error_file",
            str(self.errors_file),
            cwd=self.workdir,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return self

    def messages(self) -> list[SipMessage]:
        try:
            return parse_message_log(self.messages_file.read_text(errors="replace"))
        except FileNotFoundError:
            return []

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await bounded(self.proc.wait(), timeout, f"sipp {self.name} to finish")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


class CallTakers:
    """A SIPp UAS on every trunk's address; the trunk's behaviour can change mid-test."""

    def __init__(self, trunks: Iterable[str], workdir: Path) -> None:
        self.workdir = workdir
        self.addresses = {trunk: f"127.0.0.1:{free_port()}" for trunk in sorted(trunks)}
        self.behaviour: dict[str, Behaviour] = {}
        self._peers: dict[str, SippProcess] = {}
        self._seen: dict[str, list[SipMessage]] = {}  # from far ends since replaced
        self._skip: dict[str, int] = {}  # messages of the current far end before a reset

    def port(self, trunk: str) -> int:
        return int(self.addresses[trunk].rsplit(":", 1)[1])

    async def start(self) -> None:
        await asyncio.gather(*(self.set(trunk, "answer") for trunk in self.addresses))

    async def set(self, trunk: str, behaviour: Behaviour) -> None:
        """Replace the trunk's far end (``down``: nothing listens on its port)."""
        old = self._peers.pop(trunk, None)
        if old is not None:
            kept = old.messages()[self._skip.pop(trunk, 0) :]
            self._seen.setdefault(trunk, []).extend(kept)
            await old.stop()
        self.behaviour[trunk] = behaviour
        if behaviour == "down":
            return
        port = self.port(trunk)
        serial = len(self._seen.get(trunk, []))
        peer = SippProcess(
            [
                "-sf",
                str(self._scenario(trunk, behaviour, serial)),
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-mp",
                str(free_block(4)),
                "-rtp_echo",
                "-aa",
                "-t",
                "u1",
            ],
            self.workdir,
            f"{trunk}-{behaviour.replace(':', '')}-{serial}",
        )
        self._peers[trunk] = await peer.start()

    def _scenario(self, trunk: str, behaviour: Behaviour, serial: int) -> Path:
        if not behaviour.startswith("key:"):
            return SCENARIOS / f"callee_{behaviour}.xml"
        digit = behaviour.removeprefix("key:")
        key = rtp_pcap.write_dtmf(self.workdir / f"{trunk}-key{digit}.pcap", digit)
        press = (
            '  <pause milliseconds="1500"/>\n'
            f'  <nop><action><exec play_pcap_audio="{escape(str(key))}"/></action></nop>\n'
            '  <pause milliseconds="300"/>\n'
        )
        text = (SCENARIOS / "callee_answer.xml").read_text()
        anchor = '<recv request="ACK" crlf="true"/>\n'
        assert anchor in text
        path = self.workdir / f"{trunk}-key{digit}-{serial}.xml"
        path.write_text(text.replace(anchor, anchor + press))
        return path

    def invites(self, trunk: str) -> list[SipMessage]:
        """INVITEs that reached this trunk's far end so far (across behaviour changes)."""
        peer = self._peers.get(trunk)
        current = peer.messages()[self._skip.get(trunk, 0) :] if peer else []
        messages = [*self._seen.get(trunk, []), *current]
        return [m for m in messages if m.direction == "received" and m.method == "INVITE"]

    async def wait_for_invite(self, trunk: str, timeout: float = 10.0) -> SipMessage:
        async def arrived() -> SipMessage | None:
            found = self.invites(trunk)
            return found[-1] if found else None

        return await poll_until(arrived, timeout, f"an INVITE at {trunk}")

    def all_invites(self) -> dict[str, list[SipMessage]]:
        return {trunk: found for trunk in self.addresses if (found := self.invites(trunk))}

    async def reset(self) -> None:
        """Every trunk answering again and its log forgotten (between tests)."""
        for trunk, behaviour in list(self.behaviour.items()):
            if behaviour != "answer":
                await self.set(trunk, "answer")
        self._seen.clear()
        self._skip = {trunk: len(peer.messages()) for trunk, peer in self._peers.items()}

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self._peers.values()))
        self._peers.clear()


# ------------------------------------------------------------------ callers


@dataclass(frozen=True)
class Speak:
    seconds: float


@dataclass(frozen=True)
class Quiet:
    seconds: float


@dataclass(frozen=True)
class Key:
    digit: str


Step = Speak | Quiet | Key


@dataclass
class CallerScript:
    """What the caller does once answered, then how long they stay before hanging up
    (unless Asterisk hangs up first). RTP keeps flowing while they hold (a real phone)."""

    steps: list[Step] = field(default_factory=list)
    hold: float = 20.0


_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="caller {caller}">
  <send retrans="500">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""

_TAIL = """  <recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>
  <send next="done">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <label id="hangup"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]caller[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:{caller}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <label id="done"/>
</scenario>
"""


class Caller:
    """One caller: SIPp dials ``did`` on the carrier trunk as ``number``."""

    def __init__(self, number: str, did: str, script: CallerScript, workdir: Path) -> None:
        self.number = number
        self.did = did
        self.script = script
        self.workdir = workdir / f"caller-{number}"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: SippProcess | None = None

    def _scenario(self) -> str:
        body = []
        for index, step in enumerate(self.script.steps):
            match step:
                case Speak(seconds):
                    pcap = rtp_pcap.write_audio(
                        self.workdir / f"{index}-voice.pcap", rtp_pcap.voice(seconds)
                    )
                    wait = seconds
                case Quiet(seconds):
                    pcap = rtp_pcap.write_audio(
                        self.workdir / f"{index}-quiet.pcap", rtp_pcap.silence(seconds)
                    )
                    wait = seconds
                case Key(digit):
                    pcap = rtp_pcap.write_dtmf(self.workdir / f"{index}-key.pcap", digit)
                    wait = 0.25
            body.append(
                f'  <nop><action><exec play_pcap_audio="{escape(str(pcap))}"/></action></nop>\n'
                f'  <pause milliseconds="{int(wait * 1000)}"/>\n'
            )
        # the line stays open with comfort noise until a hang-up
        hold = rtp_pcap.write_audio(
            self.workdir / "hold.pcap", rtp_pcap.silence(self.script.hold + 5)
        )
        body.append(
            f'  <nop><action><exec play_pcap_audio="{escape(str(hold))}"/></action></nop>\n'
        )
        head = _HEAD.format(caller=self.number)
        tail = _TAIL.format(caller=self.number, hold_ms=int(self.script.hold * 1000))
        return head + "".join(body) + tail

    async def dial(self, asterisk_sip: str) -> Caller:
        scenario = self.workdir / "caller.xml"
        scenario.write_text(self._scenario())
        self.process = SippProcess(
            [
                "-sf",
                str(scenario),
                "-m",
                "1",
                "-s",
                self.did,
                "-i",
                "127.0.0.1",
                "-p",
                str(free_port()),
                "-mp",
                str(free_block(4)),
                "-t",
                "u1",
                asterisk_sip,
            ],
            self.workdir,
            "caller",
        )
        await self.process.start()
        return self

    def messages(self) -> list[SipMessage]:
        return self.process.messages() if self.process else []

    @property
    def remote_hung_up(self) -> bool:
        """Asterisk sent the BYE (the caller did not hang up first)."""
        return any(m.direction == "received" and m.method == "BYE" for m in self.messages())

    async def finished(self, timeout: float) -> int:
        assert self.process is not None
        return await self.process.wait(timeout)

    async def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(Exception):
                await self.process.stop()
