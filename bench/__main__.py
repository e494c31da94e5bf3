"""Every benchmark, one after the other: `./dev.sh bench [--quick]`.

Each prints its own table; the figures in README.md come from these runs. The machines
are shared and noisy: compare medians and ratios, not single numbers.
"""

from __future__ import annotations

import subprocess
import sys

BENCHES = (
    "bench.bench_triage",
    "bench.bench_audiosocket",
    "bench.bench_asr",
    "bench.bench_tickets",
    "bench.bench_calls",
)


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    quick_args = {
        "bench.bench_triage": ["--rounds", "2"],
        "bench.bench_audiosocket": ["--calls", "50", "100", "--seconds", "3"],
    }
    failed = 0
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        args = quick_args.get(name, ["--quick"]) if quick else []
        failed += subprocess.call([sys.executable, "-m", name, *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
