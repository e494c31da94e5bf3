"""What can go wrong with speech recognition, as exceptions the IVR can act on."""

from __future__ import annotations


class AsrError(Exception):
    """Base class: any ASR failure means the call falls back to the keypad and 110."""


class ModelUnavailable(AsrError):
    """The model is missing or does not load; the message names the command that fetches it."""


class AsrSaturated(AsrError):
    """Every recogniser slot is taken: told at once, never queued behind other calls."""


class AsrFailed(AsrError):
    """Vosk failed while decoding this call's audio."""
