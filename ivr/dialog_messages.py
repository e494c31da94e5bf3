"""What goes into and comes out of the IVR dialog: events, commands, states, reasons.

Times are plain seconds (``now``) on whatever monotonic clock the orchestrator uses;
the dialog never reads a clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ivr.triage.result import Evidence, TriageResult

# ----------------------------------------------------------------------------- events in


@dataclass(frozen=True)
class Started:
    """The call was answered and its audio is connected: greet the caller."""

    now: float


@dataclass(frozen=True)
class Dtmf:
    digit: str
    now: float


@dataclass(frozen=True)
class SpeechStarted:
    """The energy detector heard the caller start speaking."""

    now: float


@dataclass(frozen=True)
class SpeechStopped:
    now: float


@dataclass(frozen=True)
class Partial:
    """ASR partial text of the current utterance (replaces the previous partial)."""

    text: str
    now: float


@dataclass(frozen=True)
class Final:
    """ASR final text of one utterance; ``confidence`` 0..1 (1.0 if the ASR gives none)."""

    text: str
    confidence: float
    now: float


@dataclass(frozen=True)
class PromptFinished:
    """The prompt played to its end (not sent for a prompt stopped by StopPlayback).

    It answers the Play of ``prompt_id`` that is playing now, which the dialog returned
    from an earlier ``handle`` call; any other PromptFinished is stale and ignored.
    """

    prompt_id: str
    now: float


@dataclass(frozen=True)
class Tick:
    """Sent by the orchestrator at ``dialog.next_deadline``."""

    now: float


@dataclass(frozen=True)
class CallerHungUp:
    now: float


@dataclass(frozen=True)
class AsrUnavailable:
    """No recogniser for this call (model missing, workers saturated, worker died)."""

    now: float


Event = (
    Started
    | Dtmf
    | SpeechStarted
    | SpeechStopped
    | Partial
    | Final
    | PromptFinished
    | Tick
    | CallerHungUp
    | AsrUnavailable
)

# ----------------------------------------------------------------------------- commands out


@dataclass(frozen=True)
class Play:
    """Start playing a prompt (nothing else is playing: a new Play follows a StopPlayback
    or a PromptFinished). Answer with PromptFinished when it ends."""

    prompt_id: str
    text: str
    barge_in: bool = True


@dataclass(frozen=True)
class StopPlayback:
    """Stop the current prompt at once (barge-in, or the call is being routed)."""


@dataclass(frozen=True)
class Route:
    """The dialog's one decision: hand the call to ``route``. The dialog is finished."""

    route: str  # "110" | "119" | "120" | "12345" | "mediation"
    category: str
    confidence: float
    reason: str  # a Reason value, or "guard:<why>" when the diversion guard overruled
    evidence: tuple[Evidence, ...]
    transcript: str
    triage: TriageResult | None
    at: float
    announce: str | None = None  # prompt id the orchestrator MAY play during the hand-off
    # when a diversion was wanted but the call stays on 110 (guard, trunk, …): which one
    wanted_route: str = ""


@dataclass(frozen=True)
class RaiseCallback:
    """The caller hung up inside the IVR: a possible emergency cut short; 110 calls back."""

    reason: str
    transcript: str
    at: float
    stage: str  # the dialog state when the caller hung up


@dataclass(frozen=True)
class Log:
    """Something to record in the call's timeline (the orchestrator adds the call id)."""

    kind: str  # "transition" | "decision" | "ignored" | "guard" | "timer"
    data: dict[str, Any] = field(default_factory=dict)


Command = Play | StopPlayback | Route | RaiseCallback | Log

# ----------------------------------------------------------------------------- states, reasons


class State(Enum):
    WAITING = "waiting"  # before Started
    GREETING = "greeting"  # greeting or re-prompt playing
    LISTENING = "listening"  # prompt done, waiting for the caller to speak
    DESCRIBING = "describing"  # caller speaking, or words held until the final text
    CONFIRMING = "confirming"  # confirmation prompt(s) playing
    CONFIRM_WINDOW = "confirm_window"  # waiting for 1 / a refusal / a yes
    KEYPAD = "keypad"  # ASR unavailable: keypad greeting, then 110
    ROUTED = "routed"  # finished: a Route was emitted
    ABANDONED = "abandoned"  # finished: the caller hung up inside the IVR


FINISHED_STATES = frozenset({State.ROUTED, State.ABANDONED})


class Reason:
    """Route reasons (strings, so they travel in channel variables and logs unchanged)."""

    DTMF = "dtmf-{digit}"  # an emergency key (1 or 0) at any moment
    PERSON_WORD = "person-word"  # 报警 / 人工 / 警察 …
    PARTIAL_EMERGENCY = "partial-emergency"  # strong cue while the caller was still talking
    EMERGENCY = "emergency"  # triage of the finished description: 110/119/120
    TRIAGE_110 = "triage-110"  # a police matter with a category
    UNCLEAR = "unclear"  # triage found nothing usable
    SILENCE = "silence"  # nothing said after the greeting and the re-prompts
    NOTHING_USABLE = "nothing-usable"  # sound but no words, re-prompts used up
    LOW_CONFIDENCE = "low-confidence"  # triage or ASR too unsure to divert
    BUDGET = "budget"  # the IVR's time budget ran out (or could not fit a confirmation)
    CALLER_REFUSED = "caller-refused"  # spoken refusal in the confirmation window
    UNEXPECTED_KEY = "unexpected-key"  # a key other than yes during the confirmation
    # Words (a yes included) or a key 2 over the confirmation before its question started,
    # other words before the question ended, or a second wordless interruption.
    CONFIRMATION_INTERRUPTED = "confirmation-interrupted"
    OPT_IN_NO_ANSWER = "opt-in-no-answer"  # opt-in city, no explicit yes
    CONFIRMED = "confirmed"  # explicit yes (short reply or consent key) once asked
    NO_OBJECTION = "no-objection"  # opt-out: question heard out, window passed, no 1/refusal
    ASR_UNAVAILABLE = "asr-unavailable"
    TRIAGE_ERROR = "triage-error"  # the classifier raised or returned nonsense
    NO_PROMPT = "no-prompt"  # no confirmation prompt for this destination
    GUARD = "guard:{why}"  # a diversion overruled by the final guard
    CALLER_HUNG_UP = "caller-hung-up"  # RaiseCallback reason
