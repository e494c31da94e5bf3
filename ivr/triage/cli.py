"""`gateway triage "文本"` and `gateway eval FILE.jsonl`: triage from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.configfile import ConfigError
from ivr.triage.engine import DEFAULT_RULES, Triage, load_triage
from ivr.triage.scoring import ROUTES, Scorecard, read_labelled, score

EXIT_OK, EXIT_EMERGENCY_MISROUTED, EXIT_BAD_INPUT = 0, 1, 2


def _load(rules: str | None) -> Triage | None:
    try:
        return load_triage(Path(rules) if rules else DEFAULT_RULES)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None


def run_triage(args: argparse.Namespace) -> int:
    triage = _load(args.rules)
    if triage is None:
        return EXIT_BAD_INPUT
    result = triage.decide(args.text)
    print(f"route:      {result.route}")
    print(f"category:   {result.category}")
    print(f"confidence: {result.confidence:.2f}")
    print(f"rule:       {result.rule}")
    print("evidence:")
    for ev in result.evidence or ():
        print(f"  {ev.rule:<28} 『{ev.words}』 @{ev.start}-{ev.end} weight {ev.weight:g}")
    if not result.evidence:
        print("  (none)")
    print("entities:")
    for entity in result.entities:
        print(f"  {entity.kind:<9} {entity.value} @{entity.start}-{entity.end}")
    if not result.entities:
        print("  (none)")
    for note in result.notes:
        print(f"note: {note}")
    return EXIT_OK


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.3f}"


def _print_report(card: Scorecard, summary: dict[str, object]) -> None:
    print("confusion matrix (rows: gold route, columns: predicted route)")
    print("gold\\pred " + "".join(f"{r:>10}" for r in ROUTES))
    for gold, row in card.confusion.items():
        print(f"{gold:<10}" + "".join(f"{row[p]:>10}" for p in ROUTES))
    print()
    print(f"{'route':<10}{'precision':>10}{'recall':>10}")
    for route, (precision, recall) in card.precision_recall().items():
        print(f"{route:<10}{_fmt(precision):>10}{_fmt(recall):>10}")
    print()
    misrouted = card.emergency_misrouted
    print(f"emergency items sent to 12345/mediation: {len(misrouted)}")
    for s in misrouted:
        print(
            f"  line {s.item.line} {s.item.id}: gold {s.item.route}/{s.item.category} -> "
            f"{s.result.route}/{s.result.category}  {s.item.text}"
        )
    print()
    for key, value in summary.items():
        print(f"{key}: {value}")


def run_eval(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if not path.is_file():
        print(f"error: {path}: no such file", file=sys.stderr)
        return EXIT_BAD_INPUT
    triage = _load(args.rules)
    if triage is None:
        return EXIT_BAD_INPUT
    report = read_labelled(path, args.field)
    for problem in report.problems:
        print(f"warning: {path}: {problem} (skipped)", file=sys.stderr)
    if not report.items:
        why = "is empty" if not report.problems and not report.skipped else "has no usable items"
        print(
            f"error: {path} {why}: nothing to score for field {args.field!r} "
            f"({report.skipped} lacking the field, {len(report.problems)} bad lines)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    card = score(report.items, triage.decide)
    summary = card.summary()
    if args.json:
        summary |= {
            "field": args.field,
            "skipped": report.skipped,
            "bad_lines": len(report.problems),
            "emergency_misrouted_items": [
                {
                    "line": s.item.line,
                    "id": s.item.id,
                    "gold": s.item.route,
                    "predicted": s.result.route,
                }
                for s in card.emergency_misrouted
            ],
        }
        print(json.dumps(summary, ensure_ascii=False))
    else:
        if report.skipped:
            print(f"({report.skipped} items lack {args.field!r} and were skipped)")
        _print_report(card, summary)
    return EXIT_EMERGENCY_MISROUTED if card.emergency_misrouted else EXIT_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules_help = f"triage rules YAML (default {DEFAULT_RULES})"
    triage = sub.add_parser("triage", help="decide where a caller's description belongs")
    triage.add_argument("text", help="what the caller said")
    triage.add_argument("--rules", default=None, help=rules_help)
    triage.set_defaults(func=run_triage)

    evaluate = sub.add_parser("eval", help="score triage on a labelled JSONL file")
    evaluate.add_argument("file", help="one JSON object per line: text, asr_text?, route, category")
    evaluate.add_argument("--field", choices=("text", "asr_text"), default="text")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--rules", default=None, help=rules_help)
    evaluate.set_defaults(func=run_eval)
