"""Triage speed: utterances per second and per-call latency for decide / decide_partial.

Run: .venv/bin/python -m bench.bench_triage [--rounds N]
Texts: the dev corpus (clean and ASR forms, tests/triage/corpus/dev.jsonl) and built-in samples,
plus the long-input worst case (10,000 characters, cut to the rules' max_chars).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from ivr.triage import Triage, load_triage

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "triage" / "corpus" / "dev.jsonl"
OWN = ROOT / "tests" / "triage" / "heldout_own.jsonl"
SAMPLES = [
    "有人拿刀砍人",
    "有台车堵在我家车库门口，车上没留电话",
    "喂 那个 隔壁 工地 半夜 还在 打桩 吵 得 睡 不着",
    "没打架，就是我跟我老婆为彩礼的事吵得厉害",
]


def _texts(path: Path) -> list[str]:
    texts: list[str] = []
    if not path.is_file():
        return texts
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        texts.extend(record[k] for k in ("text", "asr_text") if k in record)
    return texts


def _partials(texts: list[str]) -> list[str]:
    """Growing prefixes, as the ASR delivers them while the caller speaks."""
    return [t[:cut] for t in texts for cut in range(4, len(t) + 1, 4)]


def _measure(call: Callable[[str], object], texts: list[str], rounds: int) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter_ns()
            call(text)
            samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def _row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    per_second = 1_000_000 / statistics.fmean(samples)
    return (
        f"{name:<34}{len(samples):>8}{per_second:>14,.0f}"
        f"{statistics.median(samples):>12.1f}{p99:>10.1f}{ordered[-1]:>10.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    triage: Triage = load_triage()
    load_ms = (time.perf_counter() - started) * 1000
    texts = _texts(DEV) + _texts(OWN) or SAMPLES
    long_text = ("隔壁装修好吵，" * 1500)[:10_000]

    for text in texts[:20]:  # warm caches (regex, unicodedata)
        triage.decide(text)

    print(f"rules loaded and compiled in {load_ms:.1f} ms; {len(texts)} utterances")
    print(
        f"{'call':<34}{'calls':>8}{'utterances/s':>14}{'median µs':>12}{'p99 µs':>10}{'max µs':>10}"
    )
    print(_row("decide (corpus, both forms)", _measure(triage.decide, texts, args.rounds)))
    print(
        _row(
            "decide_partial (growing prefixes)",
            _measure(triage.decide_partial, _partials(texts), 1),
        )
    )
    print(_row("decide (10,000 characters)", _measure(triage.decide, [long_text], 20)))


if __name__ == "__main__":
    main()
