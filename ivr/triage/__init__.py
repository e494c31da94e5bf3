"""Triage: decide 110 / 119 / 120 / 12345 / mediation from a caller's Chinese description."""

from ivr.triage.engine import DEFAULT_RULES, Triage, load_triage
from ivr.triage.result import Entity, Evidence, TriageResult

__all__ = ["DEFAULT_RULES", "Entity", "Evidence", "Triage", "TriageResult", "load_triage"]
