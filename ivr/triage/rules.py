"""The triage rules file (configs/triage/<locale>.yaml) as a typed, validated model.

Engineers edit keywords, weights, negations and overrides in YAML; this model is what
`gateway check-config` and :func:`ivr.triage.load_triage` validate it into, so a broken
regex or a service cue pretending to be an emergency is reported with its line number.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Route = Literal["110", "119", "120", "12345", "mediation"]
CueKind = Literal["must_accept", "danger", "veto", "service", "ask_person"]

EMERGENCY_ROUTES = frozenset({"110", "119", "120"})
SERVICE_CATEGORIES: dict[str, frozenset[str]] = {
    "12345": frozenset(
        {
            "move_car",
            "noise",
            "municipal",
            "utilities",
            "consumer",
            "labour",
            "policy",
            "environment",
            "property",
            "traffic_admin",
        }
    ),
    "mediation": frozenset({"neighbour", "family", "tenancy", "other_dispute"}),
}

# A service cue with this category strengthens its route's best category (or the fallback).
ANY_CATEGORY = "*"
FALLBACK_CATEGORY = {"12345": "municipal", "mediation": "other_dispute"}

# In patterns, "…" means "a few more characters of the same clause" (see clause_gap).
GAP_MARK = "…"
CLAUSE_PUNCTUATION = "，。！？；：,.!?;:"


def expand_pattern(pattern: str, clause_gap: int) -> str:
    """Turn the rules' shorthand into a Python regex."""
    gap = f"[^{re.escape(CLAUSE_PUNCTUATION)}]{{0,{clause_gap}}}"
    return pattern.replace(GAP_MARK, gap)


def _compiles(pattern: str) -> str:
    if not pattern.strip():
        raise ValueError("empty pattern")
    try:
        compiled = re.compile(expand_pattern(pattern, 8))
    except re.error as exc:
        raise ValueError(f"not a valid pattern: {exc}") from None
    if compiled.match(""):
        raise ValueError("pattern matches the empty string")
    return pattern


Pattern = Annotated[str, AfterValidator(_compiles)]


class Cue(BaseModel):
    """A situation the caller may describe, the words that reveal it, and where it goes."""

    model_config = ConfigDict(extra="forbid")

    route: Route
    category: str = Field(min_length=1)
    kind: CueKind = Field(
        description=(
            "must_accept: hard rule, never diverted, never outvoted; danger: emergency cue, "
            "its weight counts toward the danger threshold; veto: a harm word that alone does "
            "not route but makes any diversion impossible (the call stays on 110); "
            "service: 12345/mediation evidence; ask_person: the caller wants a human at 110"
        )
    )
    weight: float = Field(1.0, gt=0, le=10)
    priority: int = Field(
        0, description="among emergency cues the highest priority picks the route"
    )
    patterns: list[Pattern] = Field(min_length=1)
    negatable: bool | None = Field(
        None,
        description=(
            "does a negation before the cue cancel it? Default: yes for emergency cues "
            "(没人受伤), no for service topics (没交房租 is still about rent)"
        ),
    )
    unless: list[Pattern] = Field(
        default_factory=list,
        description="if any of these occurs in the utterance the cue does not count",
    )

    @property
    def honours_negation(self) -> bool:
        return self.kind != "service" if self.negatable is None else self.negatable

    @model_validator(mode="after")
    def _route_fits_kind(self) -> Cue:
        if self.kind == "service":
            allowed = SERVICE_CATEGORIES.get(self.route)
            if allowed is None:
                raise ValueError(
                    f"a service cue must route to 12345 or mediation, not {self.route}"
                )
            if self.category != ANY_CATEGORY and self.category not in allowed:
                raise ValueError(
                    f"category {self.category!r} is not a {self.route} category "
                    f"(one of {', '.join(sorted(allowed))})"
                )
        elif self.category == ANY_CATEGORY:
            raise ValueError("only service cues may use the category '*'")
        elif self.route not in EMERGENCY_ROUTES:
            raise ValueError(f"a {self.kind} cue must route to 110, 119 or 120, not {self.route}")
        if self.kind in ("must_accept", "veto") and self.unless:
            raise ValueError(f"a {self.kind} cue cannot be switched off by 'unless' (safety rule)")
        return self


class Normalisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(2000, ge=50, description="longer input is cut (and noted)")
    fillers: list[str] = Field(default_factory=list, description="words that carry no content")
    homophones: dict[str, str] = Field(
        default_factory=dict, description="frequent ASR mis-hearings, replaced before matching"
    )

    @model_validator(mode="after")
    def _no_empty_homophone(self) -> Normalisation:
        for wrong in self.homophones:
            if not wrong:
                raise ValueError("a homophone key cannot be empty")
        return self


class Negation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: list[str] = Field(min_length=1, description="negators placed just before a cue")
    window: int = Field(3, ge=0, le=10, description="characters allowed between negator and cue")
    not_negation: list[str] = Field(
        default_factory=list, description="look like negators but are not (是不是, 不停 …)"
    )
    breakers: list[str] = Field(
        default_factory=list, description="words that end a negation's scope (就是, 但是 …)"
    )


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    danger: float = Field(1.0, gt=0, description="summed danger weight that overrides service")
    immediate: float = Field(1.0, gt=0, description="weight of one cue that acts mid-sentence")
    min_confidence: float = Field(0.55, ge=0, le=1, description="below this, stay on 110")
    min_content_chars: int = Field(2, ge=1, description="fewer meaningful characters: unclear")
    min_chinese_ratio: float = Field(0.3, ge=0, le=1, description="below this share: not Chinese")
    weak_danger_penalty: float = Field(
        0.35, ge=0, le=1, description="confidence lost per unit of weak danger weight"
    )
    saturation: float = Field(0.6, gt=0, description="service score s gives s/(s+saturation)")
    rival_min: float = Field(
        0.5, ge=0, description="the other diversion route counts as a rival from this score"
    )


class TriageRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: str
    clause_gap: int = Field(8, ge=1, le=40, description="how far '…' in a pattern reaches")
    normalise: Normalisation = Field(default_factory=Normalisation)
    negation: Negation
    thresholds: Thresholds = Field(default_factory=Thresholds)
    cues: dict[str, Cue] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_both_sides(self) -> TriageRules:
        kinds = {cue.kind for cue in self.cues.values()}
        if "service" not in kinds or not kinds & {"danger", "must_accept"}:
            raise ValueError("rules need both emergency (danger/must_accept) and service cues")
        return self
