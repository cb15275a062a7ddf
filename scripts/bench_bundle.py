#!/usr/bin/env python3
"""Size and write time of a failure bundle and a run-all report (issue 14's targets: a
failed orders_flow_real bundle under 1 MB, written in under 0.5 s). Prints figures;
asserts nothing.

Runs orders_flow_real with --trace on (real with --test-images, else mocks), then writes its
bundle again N times and reports the median time and the size.

Usage: scripts/bench_bundle.py [--test-images] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from envctl.report.bundle import write_bundle  # noqa: E402

TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-images", action="store_true")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    env = dict(os.environ)
    mode: list[str] = []
    if args.test_images:
        env.update(TEST_IMAGES)
    else:
        mode = ["--force-dependency-mode", "mock"]
    with tempfile.TemporaryDirectory(prefix="envctl-bench-bundle-") as tmp:
        env["ENVCTL_STATE_DIR"] = tmp
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "envctl",
                "run",
                "-s",
                "orders_flow_real",
                "--trace",
                "on",
                "--json",
                *mode,
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        outcome = json.loads(done.stdout)
        folder = Path(outcome["run_dir"])
        times = []
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            path = write_bundle(folder)
            times.append(time.perf_counter() - t0)
        size = path.stat().st_size
        print(f"orders_flow_real ({outcome['dependency_mode']}, {outcome['status']})")
        print(
            f"bundle: {size / 1024:.1f} KiB (target < 1024 KiB: "
            f"{'met' if size < 1 << 20 else 'NOT met'})"
        )
        print(
            f"write:  first (cold: jinja2 import, template compile) {times[0] * 1000:.1f} ms, "
            f"then median {statistics.median(times[1:]) * 1000:.1f} ms over "
            f"{args.rounds - 1} (target < 500 ms: {'met' if times[0] < 0.5 else 'NOT met'})"
        )
        print(f"run --json output: {len(done.stdout) / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
