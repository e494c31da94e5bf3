"""Driving a Dialog in tests: a tiny orchestrator stand-in and explicit classifier inputs.

``KeywordTriage`` is a test INPUT, not a fake of behaviour under test: each test decides
which triage outcome the dialog receives (triage itself is tested with its own rules).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.settings import IvrSettings
from ivr.dialog import Dialog
from ivr.dialog_messages import (
    Command,
    Dtmf,
    Event,
    Final,
    Log,
    Partial,
    Play,
    PromptFinished,
    RaiseCallback,
    Route,
    SpeechStarted,
    SpeechStopped,
    Started,
    StopPlayback,
    Tick,
)
from ivr.prompts import PromptCatalog, load_prompt_catalog
from ivr.prompts_cli import default_texts
from ivr.triage.result import Evidence, TriageResult

CATALOG = load_prompt_catalog(default_texts("zh-CN"))
UNCLEAR = TriageResult("110", "unclear", 0.0, rule="nothing-usable")


def result(route: str, category: str, confidence: float = 0.9, words: str = "") -> TriageResult:
    evidence = (Evidence(category, words, 0, len(words), 1.0),) if words else ()
    return TriageResult(route, category, confidence, evidence, rule="test-input")


# Final-text outcomes, first match wins (so "打我" outranks "堵" in a mixed transcript).
FINAL_TABLE: tuple[tuple[str, TriageResult], ...] = (
    ("拿刀", result("110", "weapon", 0.95, "拿刀")),
    ("打我", result("110", "assault", 0.9, "打我")),
    ("着火", result("119", "fire", 0.95, "着火")),
    ("头晕", result("120", "collapse", 0.4, "头晕")),
    ("晕倒", result("120", "collapse", 0.9, "晕倒")),
    ("偷", result("110", "theft", 0.9, "偷")),
    ("挪车", result("12345", "move_car", 0.9, "挪车")),
    ("堵", result("12345", "move_car", 0.9, "堵")),
    ("吵", result("mediation", "neighbour", 0.85, "吵")),
    ("路灯", result("12345", "streetlight", 0.9, "路灯")),  # no category prompt: generic
    ("噪音", result("12345", "noise", 0.4, "噪音")),  # too unsure to divert
)
# Strong cues acted on while the caller is still talking.
PARTIAL_TABLE: tuple[tuple[str, TriageResult], ...] = (
    ("救命", result("110", "danger", 0.95, "救命")),
    ("拿刀", result("110", "weapon", 0.95, "拿刀")),
    ("着火", result("119", "fire", 0.95, "着火")),
    ("晕倒", result("120", "collapse", 0.9, "晕倒")),
)


class KeywordTriage:
    """Explicit classifier input: a keyword table → the outcome the test wants."""

    def __init__(self) -> None:
        self.final_calls: list[str] = []
        self.partial_calls: list[str] = []

    def final(self, text: str) -> TriageResult:
        self.final_calls.append(text)
        compact = re.sub(r"\s+", "", text)
        for word, outcome in FINAL_TABLE:
            if word in compact:
                return outcome
        return UNCLEAR

    def partial(self, text: str) -> TriageResult | None:
        self.partial_calls.append(text)
        compact = re.sub(r"\s+", "", text)
        for word, outcome in PARTIAL_TABLE:
            if word in compact:
                return outcome
        return None


def make_dialog(
    consent: str = "opt_out",
    *,
    settings: IvrSettings | None = None,
    catalog: PromptCatalog = CATALOG,
    triage: KeywordTriage | None = None,
    **overrides: object,
) -> Dialog:
    triage = triage or KeywordTriage()
    config = settings or IvrSettings(**overrides)  # type: ignore[arg-type]
    return Dialog(
        config,
        consent=consent,  # type: ignore[arg-type]
        classify_final=triage.final,
        classify_partial=triage.partial,
        prompts=catalog,
    )


@dataclass
class Call:
    """Plays the orchestrator's part: keeps what is playing and every command returned."""

    dialog: Dialog
    commands: list[Command] = field(default_factory=list)
    playing: str | None = None
    now: float = 0.0

    def send(self, event: Event) -> list[Command]:
        self.now = max(self.now, event.now)
        out = self.dialog.handle(event)
        for command in out:
            if isinstance(command, Play):
                assert self.playing is None, f"{command.prompt_id} over {self.playing}"
                self.playing = command.prompt_id
            elif isinstance(command, StopPlayback):
                self.playing = None
        self.commands.extend(out)
        return out

    # -- conveniences, each one real event --------------------------------------------
    def start(self, at: float = 0.0) -> list[Command]:
        return self.send(Started(at))

    def finish_prompt(self, at: float) -> list[Command]:
        assert self.playing is not None, "nothing is playing"
        prompt, self.playing = self.playing, None
        return self.send(PromptFinished(prompt, at))

    def finish_prompts(self, at: float, step: float = 1.0) -> float:
        """Let every queued prompt play out, ``step`` seconds each; returns the end time."""
        while self.playing is not None and not self.dialog.finished:
            at += step
            self.finish_prompt(at)
        return at

    def key(self, digit: str, at: float) -> list[Command]:
        return self.send(Dtmf(digit, at))

    def say(self, text: str, at: float, seconds: float = 2.0, confidence: float = 0.95) -> float:
        """Speech start, a partial, speech stop, the final; returns when the final arrived."""
        self.send(SpeechStarted(at))
        if self.dialog.finished:
            return at
        self.send(Partial(text, at + seconds / 2))
        if self.dialog.finished:
            return at + seconds / 2
        self.send(SpeechStopped(at + seconds))
        self.send(Final(text, confidence, at + seconds + 0.3))
        return at + seconds + 0.3

    def tick_until(self, until: float) -> None:
        """Send Tick at each deadline up to ``until`` (what the orchestrator's timer does)."""
        while True:
            deadline = self.dialog.next_deadline
            if deadline is None or deadline > until:
                return
            self.send(Tick(deadline))

    # -- what happened ----------------------------------------------------------------
    def of(self, kind: type) -> list:
        return [c for c in self.commands if isinstance(c, kind)]

    @property
    def plays(self) -> list[str]:
        return [c.prompt_id for c in self.of(Play)]

    @property
    def routes(self) -> list[Route]:
        return self.of(Route)

    @property
    def route(self) -> Route:
        routes = self.routes
        assert len(routes) == 1, f"expected one Route, got {routes}"
        return routes[0]

    @property
    def callbacks(self) -> list[RaiseCallback]:
        return self.of(RaiseCallback)

    def logs(self, kind: str) -> list[Log]:
        return [c for c in self.of(Log) if c.kind == kind]


def greeted_call(consent: str = "opt_out", **kwargs: object) -> Call:
    """A call answered at t=0 whose greeting played to its end at t=5."""
    call = Call(make_dialog(consent, **kwargs))  # type: ignore[arg-type]
    call.start(0.0)
    call.finish_prompt(5.0)
    return call


def confirming_call(
    consent: str = "opt_out", text: str = "有辆车堵住我车库门口，打不通车主电话", **kwargs: object
) -> tuple[Call, float]:
    """A call whose description was triaged move_car; the confirmation is playing."""
    call = greeted_call(consent, **kwargs)
    end = call.say(text, 6.0)
    assert call.playing is not None and call.playing.startswith("confirm_12345"), call.commands
    return call, end


def expect_only_logs(commands: Sequence[Command]) -> None:
    assert all(isinstance(c, Log) for c in commands), commands
