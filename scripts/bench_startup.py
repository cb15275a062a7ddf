#!/usr/bin/env python3
"""Start-up cost of envctl: ``import envctl`` and ``envctl --help``, each in a fresh
interpreter, the median of N runs; with ``--against PATH`` (another checkout, e.g. a worktree
of an older commit) both trees are measured interleaved and the ratios printed.

Usage: scripts/bench_startup.py [--runs N] [--against PATH]

Prints figures, asserts nothing. ``python3 -X importtime -c "import envctl"`` says where the
time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "import envctl": [sys.executable, "-c", "import envctl"],
    "envctl --help": [sys.executable, "-m", "envctl", "--help"],
}


def once(command: list[str], root: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = time.perf_counter()
    subprocess.run(command, env=env, cwd=root, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--against", type=Path, default=None)
    args = parser.parse_args()
    roots = {"this tree": REPO}
    if args.against is not None:
        roots["against"] = args.against.resolve()
    for name, command in CASES.items():
        times: dict[str, list[float]] = {label: [] for label in roots}
        for _ in range(args.runs):
            for label, root in roots.items():  # interleaved: load on the machine hits both
                times[label].append(once(command, root))
        medians = {label: statistics.median(values) for label, values in times.items()}
        line = ", ".join(f"{label} {value * 1000:.0f} ms" for label, value in medians.items())
        if "against" in medians:
            line += f"; ratio {medians['this tree'] / medians['against']:.2f}"
        print(f"{name}: median of {args.runs}: {line}")


if __name__ == "__main__":
    main()
