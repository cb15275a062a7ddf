"""Sharded run-all end to end: four shard processes side by side against real services,
merged, give the same pass/fail set as one run-all (issue 15)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from support import REPO, run_envctl

KAFKA = """
name: {name}
dependency_mode: real
external_services:
  kafka: {{type: kafka, topics: [orders]}}
steps:
  - publish: {{topic: orders, key: "{name}", value: {{n: 1}}}}
  - expect_message: {{topic: orders, match: {{key: "{key}"}}, within: {within}}}
"""

REDIS = """
name: {name}
dependency_mode: real
external_services:
  cache: {{type: redis}}
steps:
  - redis: {{command: [SET, k, v]}}
  - redis: {{command: [GET, k], expect: v}}
"""


def _tree(root: Path) -> tuple[Path, dict[str, str]]:
    expected: dict[str, str] = {}
    for i in range(7):
        name, failing = f"k{i}", i == 3
        text = KAFKA.format(
            name=name, key="never" if failing else name, within=1 if failing else 10
        )
        path = root / "integration" / f"scenario_{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
        expected[name] = "failed" if failing else "passed"
    for i in range(2):
        (root / "integration" / f"scenario_r{i}.yaml").write_text(REDIS.format(name=f"r{i}"))
        expected[f"r{i}"] = "passed"
    return root, expected


def test_four_shards_in_parallel_merge_to_one_run_all(
    test_env: dict[str, str], no_leaks: None, tmp_path: Path
) -> None:
    scenarios, expected = _tree(tmp_path / "scenarios")
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    shards = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "envctl",
                "--scenarios-dir",
                str(scenarios),
                "run-all",
                "--shard",
                f"{i}/4",
                "--json",
                str(tmp_path / f"shard{i}.json"),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(1, 5)
    ]
    outputs = [shard.communicate(timeout=300) for shard in shards]
    codes = [shard.returncode for shard in shards]
    assert sorted(codes) == [0, 0, 0, 1], outputs  # only the shard holding k3 fails
    merged = run_envctl(
        "report",
        "merge",
        *(str(tmp_path / f"shard{i}.json") for i in range(1, 5)),
        "--json",
        str(tmp_path / "merged.json"),
        env=env,
    )
    assert merged.returncode == 1, merged.stdout + merged.stderr  # k3 fails
    got = json.loads((tmp_path / "merged.json").read_text())["scenarios"]
    assert {n: e["status"] for n, e in got.items()} == expected
    assert sorted({e["shard"] for e in got.values()}) == [1, 2, 3, 4]

    whole = run_envctl(
        "--scenarios-dir",
        str(scenarios),
        "run-all",
        "--json",
        str(tmp_path / "whole.json"),
        env=env,
    )
    assert whole.returncode == merged.returncode
    once = json.loads((tmp_path / "whole.json").read_text())["scenarios"]
    assert {n: e["status"] for n, e in once.items()} == expected
