#!/usr/bin/env python3
"""A sharded run-all simulated on one machine: N shard processes side by side against one
`run-all` process, the same generated scenarios, with real services. Prints figures (wall
times, the ratio, the balance of the shards) and checks that the merged shards give the same
pass/fail set as the single run; asserts no timing.

On one machine the shards share its cores and its Docker daemon, so the ratio shows the
overhead and the balance of the split, not the speed-up N machines give (there each shard
has a machine of its own: the expected wall time is the longest shard's, about total / N
plus one environment start-up).

Usage: scripts/bench_shards.py [--test-images] [--shards N] [--scenarios K] [-- RUN_ALL_ARGS]
  --test-images  use the locally built envctl-test/* images (as the tests do)
  RUN_ALL_ARGS   passed to every run-all (e.g. --parallel 4, or --reuse where available)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
}

KAFKA = """\
name: bench_k{index:02d}
dependency_mode: real
external_services:
  kafka: {{type: kafka, topics: [bench]}}
steps:
  - publish: {{topic: bench, key: "{index}", value: {{n: {index}}}}}
  - expect_message: {{topic: bench, match: {{value.n: {index}}}, within: 10}}
"""
REDIS = """\
name: bench_r{index:02d}
dependency_mode: real
external_services:
  cache: {{type: redis}}
steps:
  - redis: {{command: [SET, "k{index}", v]}}
  - redis: {{command: [GET, "k{index}"], expect: v}}
"""
POSTGRES = """\
name: bench_p{index:02d}
dependency_mode: real
external_services:
  db: {{type: postgres}}
steps:
  - sql: {{service: db, query: "CREATE TABLE t{index} (id int)"}}
  - sql: {{service: db, query: "INSERT INTO t{index} VALUES (1)"}}
"""


def write_tree(root: Path, count: int) -> Path:
    scenarios = root / "scenarios" / "integration"
    scenarios.mkdir(parents=True)
    templates = [KAFKA, KAFKA, REDIS, POSTGRES]
    for index in range(count):
        template = templates[index % len(templates)]
        (scenarios / f"scenario_{index:02d}.yaml").write_text(template.format(index=index))
    return root / "scenarios"


def envctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "envctl", *args]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-images", action="store_true")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--scenarios", type=int, default=16)
    parser.add_argument("run_all_args", nargs="*")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.test_images:
        env.update(TEST_IMAGES)
    with tempfile.TemporaryDirectory(prefix="envctl-bench-shards-") as tmp:
        root = Path(tmp)
        tree = write_tree(root, args.scenarios)
        env["ENVCTL_STATE_DIR"] = str(root / "state")
        base = ["--scenarios-dir", str(tree), "run-all", *args.run_all_args]

        t0 = time.monotonic()
        whole = subprocess.run(
            envctl(*base, "--json", str(root / "whole.json")),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        one = time.monotonic() - t0

        t0 = time.monotonic()
        procs = [
            subprocess.Popen(
                envctl(*base, "--shard", f"{i}/{args.shards}", "--json", str(root / f"s{i}.json")),
                env=env,
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(1, args.shards + 1)
        ]
        for proc in procs:
            proc.communicate()
        sharded = time.monotonic() - t0
        merged = subprocess.run(
            envctl(
                "report",
                "merge",
                *(str(root / f"s{i}.json") for i in range(1, args.shards + 1)),
                "--json",
                str(root / "merged.json"),
            ),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        if not (root / "merged.json").exists():
            print(merged.stdout + merged.stderr, file=sys.stderr)
            return 1
        want = json.loads((root / "whole.json").read_text())["scenarios"]
        got = json.loads((root / "merged.json").read_text())
        same = {n: e["status"] for n, e in want.items()} == {
            n: e["status"] for n, e in got["scenarios"].items()
        }
        shard_seconds = [float(s["seconds"] or 0) for s in got["shards"].values()]
        counts = [
            sum(1 for e in got["scenarios"].values() if e["shard"] == i)
            for i in range(1, args.shards + 1)
        ]
        print(
            f"scenarios: {args.scenarios} (kafka, kafka, redis, postgres, ...), "
            f"run-all args: {' '.join(args.run_all_args) or '(defaults)'}"
        )
        print(f"one run-all process:            {one:7.2f} s  (exit {whole.returncode})")
        print(
            f"{args.shards} shard processes side by side: {sharded:7.2f} s  "
            f"(ratio {sharded / one:.2f}x of one process)"
        )
        print(f"shards' own seconds:            {' '.join(f'{s:.2f}' for s in shard_seconds)}")
        print(f"scenarios per shard:            {' '.join(map(str, counts))}")
        print(f"merged result equals the single run: {'yes' if same else 'NO'}")
        print(
            f"expected on {args.shards} machines: about the longest shard, "
            f"{max(shard_seconds):.2f} s here with shared cores"
        )
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
