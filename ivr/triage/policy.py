"""Safety-first decision from the cues found: emergencies first, doubt to 110.

Order of the steps (each one can decide, the first that does wins):

1. nothing usable (empty, too short, not Chinese)            → 110 unclear
2. a must_accept cue (drowning, suicide, collision, gas …)     → its emergency route, always
3. danger cues whose weights reach the danger threshold        → the strongest emergency route
4. the caller asks for a person                                → 110
5. a veto cue (a harm word: 血, 刀, 救, 淹, 走丢 …)               → 110 harm-veto
6. service cues (12345 / mediation), confidence from the score,
   lowered by any weak danger cue; below min_confidence        → 110 low-confidence

The veto is the structural safety net: an emergency told in words the danger cues do
not know yet still carries some harm word, and a harm word alone never lets a call leave
110 — a person judges it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ivr.triage.matcher import Hit
from ivr.triage.rules import ANY_CATEGORY, FALLBACK_CATEGORY, Thresholds


@dataclass(frozen=True)
class Verdict:
    route: str
    category: str
    confidence: float
    rule: str
    deciding: tuple[Hit, ...]  # the hits behind the decision (shown first in evidence)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Group:
    route: str
    category: str
    score: float
    priority: int
    hits: tuple[Hit, ...]


def _groups(hits: Iterable[Hit]) -> list[_Group]:
    """Sum weights per (route, category). A cue counts once per distinct wording, at most
    twice ("呕吐" and "头晕" are two symptoms; "报警" said three times is one)."""
    words_per_cue: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        same_cue = words_per_cue[hit.name]
        if all(h.words != hit.words for h in same_cue) and len(same_cue) < 2:
            same_cue.append(hit)
    by_category: dict[tuple[str, str], list[Hit]] = defaultdict(list)
    for same_cue in words_per_cue.values():
        for hit in same_cue:
            by_category[(hit.cue.route, hit.cue.category)].append(hit)
    return [
        _Group(
            route=route,
            category=category,
            score=sum(h.cue.weight for h in group),
            priority=max(h.cue.priority for h in group),
            hits=tuple(group),
        )
        for (route, category), group in by_category.items()
    ]


def _strongest(groups: list[_Group]) -> _Group:
    return max(groups, key=lambda g: (g.priority, g.score))


def unclear(rule: str, note: str = "", hits: tuple[Hit, ...] = ()) -> Verdict:
    return Verdict("110", "unclear", 0.0, rule, hits, (note,) if note else ())


def emergency(hits: list[Hit], limits: Thresholds) -> Verdict | None:
    """Steps 2 and 3: an emergency decision, or None when no credible danger was said."""
    counted = [h for h in hits if h.counts and h.cue.kind in ("must_accept", "danger")]
    if not counted:
        return None
    hard = [h for h in counted if h.cue.kind == "must_accept"]
    groups = _groups(counted)
    total = sum(g.score for g in groups)
    if not hard and total < limits.danger:
        return None
    # must_accept makes it an emergency; priority picks the route (violence first)
    top = _strongest(groups)
    if hard:
        rule, confidence = "must-accept", 0.97
    else:
        rule, confidence = "danger-override", min(0.95, 0.55 + 0.2 * total)
    deciding = top.hits + tuple(h for h in counted if h not in top.hits)
    return Verdict(top.route, top.category, round(confidence, 3), rule, deciding)


def _service_groups(hits: list[Hit]) -> list[_Group]:
    """Category groups, with route-wide ('*') cues added to their route's categories."""
    specific = _groups(h for h in hits if h.cue.category != ANY_CATEGORY)
    shared = _groups(h for h in hits if h.cue.category == ANY_CATEGORY)
    for bonus in shared:
        mine = [g for g in specific if g.route == bonus.route]
        if not mine:
            mine = [_Group(bonus.route, FALLBACK_CATEGORY[bonus.route], 0.0, 0, ())]
            specific.extend(mine)
        for group in mine:
            specific[specific.index(group)] = _Group(
                group.route,
                group.category,
                group.score + bonus.score,
                group.priority,
                group.hits + bonus.hits,
            )
    return specific


def weak_danger_weight(hits: list[Hit]) -> float:
    return sum(g.score for g in _groups(h for h in hits if h.counts and h.cue.kind == "danger"))


VETO_CONFIDENCE = 0.3  # a harm word was said: a person at 110 must judge the call


def veto(hits: list[Hit]) -> Verdict | None:
    """Step 5: a harm word keeps the call on 110 whatever service cues say."""
    vetoes = [h for h in hits if h.counts and h.cue.kind == "veto"]
    if not vetoes:
        return None
    top = _strongest(_groups(vetoes))
    services = tuple(h for h in hits if h.counts and h.cue.kind == "service")
    weak = tuple(h for h in hits if h.counts and h.cue.kind == "danger")
    return Verdict(
        "110",
        top.category,
        VETO_CONFIDENCE,
        "harm-veto",
        top.hits + tuple(h for h in vetoes if h not in top.hits) + weak + services,
        ("a harm word was said: no diversion",),
    )


def service(hits: list[Hit], limits: Thresholds) -> Verdict:
    """Step 6: the best 12345/mediation category, or 110 when not sure enough."""
    counted = [h for h in hits if h.counts and h.cue.kind == "service"]
    weak = [h for h in hits if h.counts and h.cue.kind == "danger"]
    weak_weight = weak_danger_weight(hits)
    if not counted:
        if weak:
            top = _strongest(_groups(weak))
            return Verdict("110", top.category, 0.4, "weak-danger-only", tuple(weak))
        return unclear("no-cue", "nothing the rules recognise")
    groups = sorted(_service_groups(counted), key=lambda g: g.score, reverse=True)
    best = groups[0]
    confidence = best.score / (best.score + limits.saturation)
    rival = next(
        (g for g in groups[1:] if g.route != best.route and g.score >= limits.rival_min), None
    )
    if rival is not None:
        # a close call between 12345 and mediation is less certain
        confidence *= 0.75 + 0.25 * (best.score - rival.score) / best.score
    confidence -= limits.weak_danger_penalty * weak_weight
    confidence = round(max(0.0, min(0.95, confidence)), 3)
    deciding = best.hits + tuple(weak)
    notes = tuple(f"also {g.route}/{g.category} {g.score:.2f}" for g in groups[1:3])
    if confidence < limits.min_confidence:
        return Verdict(
            "110",
            "unclear",
            confidence,
            "low-confidence",
            deciding,
            (f"best guess {best.route}/{best.category}", *notes),
        )
    return Verdict(best.route, best.category, confidence, "service", deciding, notes)


def ask_person(hits: list[Hit]) -> Verdict | None:
    asked = tuple(h for h in hits if h.counts and h.cue.kind == "ask_person")
    if not asked:
        return None
    return Verdict("110", asked[0].cue.category, 0.9, "asks-for-person", asked)


def immediate(hits: list[Hit], limits: Thresholds) -> bool:
    """A partial utterance already carries a cue strong enough to act on now."""
    return any(
        h.counts
        and (
            h.cue.kind == "must_accept"
            or (h.cue.kind == "danger" and h.cue.weight >= limits.immediate)
        )
        for h in hits
    )
