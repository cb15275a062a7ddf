#!/usr/bin/env python3
"""Benchmark: the native runtime against Docker. Prints ratios, asserts nothing.

1. Time to ready (``envctl up`` in this process: start, readiness probe, setup, until every
   service is ready) of kafka, postgres, redis and the three together, native vs Docker;
   the median of --repeat runs each (teardown not timed). Native PostgreSQL is also timed
   once cold (an empty native dir: the server's binaries copied and ``initdb`` run once).
   Target: native >= 5x faster than Docker for the three together.
2. ``envctl run --scenario orders_flow_real`` (the CLI in a subprocess, as a user runs it)
   natively, in mock mode and in Docker: wall time and the run's own seconds.

Docker uses the local test images unless ENVCTL_IMAGE_<TYPE> says otherwise
(scripts/build-test-images); the native servers come from the `envctl[native]` extra.

Usage: scripts/bench_native.py [--repeat N]
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

TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
}
SERVICES = {
    "kafka": {"type": "kafka"},
    "postgres": {"type": "postgres"},
    "redis": {"type": "redis"},
}
SETS = {
    "kafka": ["kafka"],
    "postgres": ["postgres"],
    "redis": ["redis"],
    "all three": ["kafka", "postgres", "redis"],
}


def time_to_ready(services: list[str], environ: dict[str, str]) -> float:
    from envctl.engine import Engine
    from envctl.runtime.docker import DockerRuntime
    from envctl.scenario.models import Scenario
    from envctl.settings import Settings

    settings = Settings.load(environ=environ, cwd=Path(environ["BENCH_CWD"]))
    scenario = Scenario.model_validate(
        {
            "name": "bench_native",
            "dependency_mode": "real",
            "external_services": {name: SERVICES[name] for name in services},
        }
    )
    engine = Engine(settings, lambda: DockerRuntime.connect(settings.environ))
    began = time.monotonic()
    env = engine.up(scenario)
    took = time.monotonic() - began
    errors = env.down()
    if errors:
        raise SystemExit(f"teardown failed: {errors}")
    return took


def run_cli(environ: dict[str, str], *args: str) -> tuple[float, float, str]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "envctl", "run", "--scenario", "orders_flow_real", "--json", *args],
        env=environ,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - began
    try:
        outcome = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SystemExit(f"envctl run failed: {done.stderr.strip()[-500:]}") from None
    return wall, float(outcome.get("seconds", 0.0)), str(outcome.get("status"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="envctl-bench-native-"))
    work.chmod(0o711)  # the unprivileged PostgreSQL user walks through it (when run as root)
    base = {**os.environ, **{k: os.environ.get(k, v) for k, v in TEST_IMAGES.items()}}
    base["ENVCTL_STATE_DIR"] = str(work / "state")
    base["ENVCTL_NATIVE_DIR"] = str(work / "native")
    base["BENCH_CWD"] = str(work)
    base["PYTHONPATH"] = str(REPO)

    print(f"== time to ready (seconds, median of {args.repeat}; teardown not timed)")
    cold = time_to_ready(["postgres"], {**base, "ENVCTL_RUNTIME": "native"})
    print(f"native postgres, cold (binaries copied + initdb once, then cached): {cold:.2f}s")
    print(f"{'services':<12}{'docker':>10}{'native':>10}{'docker/native':>16}")
    ratios = {}
    for label, services in SETS.items():
        medians = {}
        for runtime in ("docker", "native"):
            env = {**base, "ENVCTL_RUNTIME": runtime}
            medians[runtime] = statistics.median(
                time_to_ready(services, env) for _ in range(args.repeat)
            )
        ratios[label] = medians["docker"] / medians["native"]
        print(
            f"{label:<12}{medians['docker']:>10.2f}{medians['native']:>10.2f}"
            f"{ratios[label]:>15.1f}x"
        )
    verdict = "met" if ratios["all three"] >= 5 else "NOT met"
    print(f"target native >= 5x faster for the three together: {verdict}")

    print("\n== envctl run --scenario orders_flow_real (CLI subprocess)")
    print(f"{'mode':<10}{'wall s':>10}{'run s':>10}{'status':>10}")
    rows = {
        "native": ({**base, "ENVCTL_RUNTIME": "native"}, ()),
        "mock": (base, ("--force-dependency-mode", "mock")),
        "docker": ({**base, "ENVCTL_RUNTIME": "docker"}, ()),
    }
    walls = {}
    for mode, (env, extra) in rows.items():
        wall, seconds, status = run_cli(env, *extra)
        walls[mode] = wall
        print(f"{mode:<10}{wall:>10.2f}{seconds:>10.2f}{status:>10}")
    print(
        f"docker/native {walls['docker'] / walls['native']:.1f}x, "
        f"native/mock {walls['native'] / walls['mock']:.1f}x (wall)"
    )


if __name__ == "__main__":
    main()
