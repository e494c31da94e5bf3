"""Typed failures of AMI actions. Catch :class:`AmiFailure` to catch them all."""

from __future__ import annotations

from gateway.retry import ActionTimeout


class AmiFailure(Exception):
    """Base of every AMI failure."""


class AmiError(AmiFailure):
    """Asterisk answered ``Response: Error``; ``message`` is its ``Message:`` verbatim."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI {action} failed: {message}")
        self.action = action
        self.message = message


class AmiLoginFailed(AmiError):
    """Bad credentials (``Authentication failed``): retried slowly, never in a tight loop."""


class AmiTimeout(AmiFailure, ActionTimeout):
    """No reply in time. The action is NOT re-sent: its effect on the call is unknown."""

    def __init__(self, what: str, seconds: float) -> None:
        ActionTimeout.__init__(self, what, seconds)


class AmiNotConnected(AmiFailure, ConnectionError):
    """No logged-in AMI link, or it was lost before the reply (the action is not re-sent)."""
