"""Streaming speech recognition with Vosk: models, recognisers off the event loop."""

from gateway.asr.engine import SpeechEngine
from gateway.asr.errors import AsrError, AsrFailed, AsrSaturated, ModelUnavailable
from gateway.asr.result import AsrResult, Word
from gateway.asr.stream import RecognitionStream

__all__ = [
    "AsrError",
    "AsrFailed",
    "AsrResult",
    "AsrSaturated",
    "ModelUnavailable",
    "RecognitionStream",
    "SpeechEngine",
    "Word",
]
