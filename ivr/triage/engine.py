"""Triage: a caller's words → TriageResult. Pure and synchronous; rules are loaded once."""

from __future__ import annotations

from pathlib import Path

from gateway.configfile import load_model
from ivr.triage import policy
from ivr.triage.entities import extract_entities
from ivr.triage.matcher import CueMatcher, Hit
from ivr.triage.normalise import Normaliser, NormalText, is_cjk
from ivr.triage.result import Evidence, TriageResult
from ivr.triage.rules import TriageRules

DEFAULT_RULES = Path(__file__).resolve().parents[2] / "configs" / "triage" / "zh-CN.yaml"


class Triage:
    def __init__(self, rules: TriageRules) -> None:
        self.rules = rules
        self._normalise = Normaliser(rules.normalise.homophones, rules.normalise.max_chars)
        self._matcher = CueMatcher(rules)
        self._fillers = sorted(rules.normalise.fillers, key=len, reverse=True)

    def decide(self, text: str) -> TriageResult:
        """Final text → a decision. Always returns; doubt goes to 110."""
        norm = self._normalise(text if isinstance(text, str) else "")
        limits = self.rules.thresholds
        hits = self._matcher.find(norm.text)
        verdict = (
            self._unusable(norm)
            or policy.emergency(hits, limits)
            or policy.ask_person(hits)
            or policy.veto(hits)
            or policy.service(hits, limits)
        )
        return self._result(norm, hits, verdict)

    def decide_partial(self, text: str) -> TriageResult | None:
        """Text so far while the caller speaks: a result only for a strong emergency cue."""
        norm = self._normalise(text if isinstance(text, str) else "")
        # a cue whose exception may still follow ("还在打" → "还在打桩") waits for more words
        hits = [h for h in self._matcher.find(norm.text) if self._matcher.settled(h, norm.text)]
        if not policy.immediate(hits, self.rules.thresholds):
            return None
        verdict = policy.emergency(hits, self.rules.thresholds)
        if verdict is None:  # an immediate cue always reaches the danger threshold
            return None
        return self._result(norm, hits, verdict, partial=True)

    def _unusable(self, norm: NormalText) -> policy.Verdict | None:
        text = norm.text
        letters = [c for c in text if c.isalnum()]
        chinese = sum(1 for c in letters if is_cjk(c))
        if not letters:
            return policy.unclear("empty", "no words")
        if chinese / len(letters) < self.rules.thresholds.min_chinese_ratio:
            return policy.unclear("not-chinese", "too little Chinese text to judge")
        content = text
        for filler in self._fillers:
            content = content.replace(filler, "")
        if sum(1 for c in content if is_cjk(c)) < self.rules.thresholds.min_content_chars:
            return policy.unclear("too-short", "only greetings or fillers")
        return None

    def _result(
        self, norm: NormalText, hits: list[Hit], verdict: policy.Verdict, partial: bool = False
    ) -> TriageResult:
        evidence = [self._evidence(norm, h, h.name) for h in verdict.deciding]
        for hit in hits:
            if hit.negated:
                evidence.append(self._evidence(norm, hit, f"negated:{hit.name}"))
            elif hit.suppressed_by:
                evidence.append(
                    self._evidence(norm, hit, f"unless[{hit.suppressed_by}]:{hit.name}")
                )
        notes = list(verdict.notes)
        if norm.truncated:
            notes.append(f"input cut to {len(norm.origin)} of {norm.original_length} characters")
        if partial:
            notes.append("decided on partial text")
        return TriageResult(
            route=verdict.route,
            category=verdict.category,
            confidence=verdict.confidence,
            evidence=tuple(evidence),
            entities=extract_entities(norm),
            rule=verdict.rule,
            notes=tuple(notes),
        )

    @staticmethod
    def _evidence(norm: NormalText, hit: Hit, rule: str) -> Evidence:
        start, end = norm.span(hit.start, hit.end)
        return Evidence(rule=rule, words=hit.words, start=start, end=end, weight=hit.cue.weight)


def load_triage(path: str | Path | None = None) -> Triage:
    """Load and validate a rules file (default: configs/triage/zh-CN.yaml). Raises ConfigError."""
    return Triage(load_model(path or DEFAULT_RULES, TriageRules))
