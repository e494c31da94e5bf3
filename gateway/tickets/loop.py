"""The closed loop's state machine: 受理 → 流转 → 处置 → 反馈 → 回访 (→ 办结 / 退回110).

Pure and synchronous. ``apply`` takes a ticket and a requested step and says what
happens: the step is applied, it is a repeat of a step already taken (a no-op), or
it is refused with a reason (e.g. feedback before the ticket was transferred).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from gateway.tickets.model import TERMINAL_STATES, LoopState, Ticket, TimelineEntry


class Step(StrEnum):
    TRANSFER = "transfer"  # the receiver accepted the hand-off (webhook 2xx)
    ACKNOWLEDGE = "acknowledge"  # the centre started handling (处置)
    FEEDBACK = "feedback"  # the centre reports the outcome (反馈)
    FOLLOW_UP = "follow_up"  # the caller was asked (回访)
    CLOSE = "close"
    ESCALATE = "escalate"  # back to 110


TARGET: dict[Step, LoopState] = {
    Step.TRANSFER: LoopState.TRANSFERRED,
    Step.ACKNOWLEDGE: LoopState.HANDLING,
    Step.FEEDBACK: LoopState.FEEDBACK,
    Step.FOLLOW_UP: LoopState.FOLLOWED_UP,
    Step.CLOSE: LoopState.CLOSED,
    Step.ESCALATE: LoopState.ESCALATED,
}

# Which states each step may start from.
SOURCES: dict[Step, frozenset[LoopState]] = {
    Step.TRANSFER: frozenset({LoopState.ACCEPTED}),
    # a receiver may acknowledge before its 2xx to our webhook reached us: transfer implied
    Step.ACKNOWLEDGE: frozenset({LoopState.ACCEPTED, LoopState.TRANSFERRED}),
    # a centre may report straight after taking the ticket; handling is then implied
    Step.FEEDBACK: frozenset({LoopState.TRANSFERRED, LoopState.HANDLING}),
    Step.FOLLOW_UP: frozenset({LoopState.FEEDBACK}),
    Step.CLOSE: frozenset(set(LoopState) - TERMINAL_STATES),
    Step.ESCALATE: frozenset(set(LoopState) - TERMINAL_STATES),
}

FEEDBACK_OUTCOMES = frozenset({"resolved", "unresolved", "referred", "no_contact"})
SURVEY_RESULTS = {"1": "satisfied", "2": "unsatisfied"}


LINEAR: tuple[LoopState, ...] = (
    LoopState.ACCEPTED,
    LoopState.TRANSFERRED,
    LoopState.HANDLING,
    LoopState.FEEDBACK,
    LoopState.FOLLOWED_UP,
)


def _already_past(current: LoopState, target: LoopState) -> bool:
    """A late repeat of an earlier step (e.g. a second 'ack' after feedback)."""
    if current not in LINEAR or target not in LINEAR:
        return False
    return LINEAR.index(current) >= LINEAR.index(target)


class Verdict(StrEnum):
    APPLIED = "applied"
    NOOP = "noop"
    REFUSED = "refused"


@dataclass(frozen=True)
class Transition:
    verdict: Verdict
    ticket: Ticket  # unchanged unless applied
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.verdict is Verdict.APPLIED


def _refuse(ticket: Ticket, reason: str) -> Transition:
    return Transition(Verdict.REFUSED, ticket, reason)


def _check_detail(step: Step, detail: dict[str, Any]) -> str:
    if step is Step.FEEDBACK and detail.get("outcome") not in FEEDBACK_OUTCOMES:
        return f"feedback needs an outcome, one of {sorted(FEEDBACK_OUTCOMES)}"
    if step is Step.FOLLOW_UP and detail.get("satisfaction") not in ("satisfied", "unsatisfied"):
        return "follow-up needs satisfaction 'satisfied' or 'unsatisfied'"
    return ""


def apply(
    ticket: Ticket,
    step: Step,
    *,
    actor: str,
    at: datetime,
    detail: dict[str, Any] | None = None,
) -> Transition:
    """Decide and, when allowed, apply one loop step."""
    detail = dict(detail or {})
    target = TARGET[step]
    current = ticket.state
    if current is target or _already_past(current, target):
        return Transition(Verdict.NOOP, ticket, f"already {current.value}")
    if current in TERMINAL_STATES:
        if ticket.reached(target):
            return Transition(Verdict.NOOP, ticket, f"already {target.value}")
        return _refuse(ticket, f"ticket is {current.value}; no further steps")
    if current not in SOURCES[step]:
        needed = " or ".join(sorted(s.value for s in SOURCES[step]))
        return _refuse(ticket, f"cannot {step.value} while {current.value} (needs {needed})")
    problem = _check_detail(step, detail)
    if problem:
        return _refuse(ticket, problem)
    changes: dict[str, Any] = {}
    if step is Step.FEEDBACK:
        changes["outcome"] = detail["outcome"]
    if step is Step.FOLLOW_UP:
        changes["satisfaction"] = detail["satisfaction"]
    ticket = _implied_steps(ticket, step, actor, at)
    entry = TimelineEntry(target.value, at, actor, detail)
    return Transition(Verdict.APPLIED, ticket.with_entry(entry, **changes))


def _implied_steps(ticket: Ticket, step: Step, actor: str, at: datetime) -> Ticket:
    """Record the step a later one proves happened, marked as implied."""
    implied = {"implied_by": step.value}
    if step is Step.ACKNOWLEDGE and ticket.state is LoopState.ACCEPTED:
        return ticket.with_entry(TimelineEntry(LoopState.TRANSFERRED.value, at, actor, implied))
    if step is Step.FEEDBACK and ticket.state is LoopState.TRANSFERRED:
        return ticket.with_entry(TimelineEntry(LoopState.HANDLING.value, at, actor, implied))
    return ticket


def note(ticket: Ticket, *, actor: str, at: datetime, detail: dict[str, Any]) -> Ticket:
    """A remark on the timeline that does not change the state (alerts, survey tries)."""
    return ticket.with_entry(TimelineEntry("note", at, actor, detail))


def survey_satisfaction(result: str | int) -> str | None:
    """SurveyResult digit → satisfaction, None for anything else."""
    return SURVEY_RESULTS.get(str(result).strip())
