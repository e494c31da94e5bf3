"""What triage says about a caller's words: the contract between triage and the dialog."""

from __future__ import annotations

from dataclasses import dataclass, field

EMERGENCY_ROUTES = frozenset({"110", "119", "120"})


@dataclass(frozen=True)
class Evidence:
    """One reason for the decision: the rule, the words it matched and where."""

    rule: str  # e.g. "weapon", "must_accept.drowning", "move_car", "negated:injury"
    words: str  # the matched text
    start: int  # character offsets into the text triage was given
    end: int
    weight: float = 0.0


@dataclass(frozen=True)
class Entity:
    kind: str  # "plate" | "address" | "landmark" | "phone"
    value: str  # normalised (赣A一二三 → 赣A123)
    start: int
    end: int


@dataclass(frozen=True)
class TriageResult:
    route: str  # "110" | "119" | "120" | "12345" | "mediation"
    category: str  # taxonomy in DESIGN.md; "unclear" when nothing usable
    confidence: float  # 0..1
    evidence: tuple[Evidence, ...] = ()
    entities: tuple[Entity, ...] = ()
    rule: str = ""  # the policy step that decided, e.g. "danger-override", "low-confidence"
    notes: tuple[str, ...] = field(default=())
    # the diversion asked for before something kept the call on 110 (a trunk down, …)
    wanted_route: str = ""

    @property
    def is_emergency(self) -> bool:
        return self.route in EMERGENCY_ROUTES and self.category != "unclear"

    def explain(self) -> str:
        words = ", ".join(f"{e.rule}『{e.words}』@{e.start}" for e in self.evidence) or "none"
        return (
            f"route={self.route} category={self.category} confidence={self.confidence:.2f} "
            f"rule={self.rule or '-'} evidence={words}"
        )
