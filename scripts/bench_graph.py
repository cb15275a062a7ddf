#!/usr/bin/env python3
"""Benchmark: start-as-soon-as-ready scheduling against the critical path and a level schedule.

A 5-service, 3-level graph of generic services (the local Debian test image running a tiny
perl TCP server after a known boot delay, probed with `tcp`):

    a (1.0 s) ──> c (1.0 s) ──> e (1.0 s)
    b (3.0 s) ──> d (0.5 s)

Critical path: b -> d = 3.5 s of boot delay. A level-by-level scheduler (start a level when
the whole previous level is ready) needs max(a,b) + max(c,d) + e = 5.0 s; it is measured by
running the same engine on the same graph with each service depending on every service of
the previous level. Also prints the readiness lag: the moment the probe succeeded minus the
moment the server inside the container started listening (it logs the epoch time).

Usage: scripts/bench_graph.py [--rounds N]
Targets (issue #3): time-to-ready / critical path <= 1.10x; readiness lag median <= 50 ms.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

IMAGE = "envctl-test/debian-base:bookworm"
DELAYS = {"a": 1.0, "b": 3.0, "c": 1.0, "d": 0.5, "e": 1.0}
DEPENDS = {"a": [], "b": [], "c": ["a"], "d": ["b"], "e": ["c"]}
LEVELS = [["a", "b"], ["c", "d"], ["e"]]
CRITICAL_PATH = 3.5
SERVER = (
    "use IO::Socket::INET; use Time::HiRes qw(time); "
    "my $s = IO::Socket::INET->new(LocalPort => 8080, Listen => 16, ReuseAddr => 1) or die $!; "
    '$| = 1; printf("LISTENING %.6f\\n", time); '
    'while (my $c = $s->accept) { print $c "hi\\n"; close $c }'
)


def scenario_text(name: str, depends: dict[str, list[str]]) -> str:
    lines = [f"name: {name}", "dependency_mode: real", "external_services:"]
    for service, delay in DELAYS.items():
        lines += [
            f"  {service}:",
            "    type: generic",
            f"    image: {IMAGE}",
            f"    command: [sh, -c, 'sleep {delay}; exec perl -e \"$SERVER\"']",
            f"    env: {{SERVER: {json.dumps(SERVER)}}}",
            "    probe: {tcp: 8080}",
            f"    depends_on: [{', '.join(depends[service])}]",
        ]
    lines += ["timeout_profiles:"] + [f"  {s}: {{health_check: 60}}" for s in DELAYS]
    return "\n".join(lines) + "\n"


def run_once(path: Path) -> tuple[float, list[float]]:
    import envctl
    from envctl.settings import Settings

    settings = Settings.load(environ=dict(os.environ))
    scenario = envctl.load_scenario(path)
    wall0, mono0 = time.time(), time.monotonic()
    env = envctl.up(scenario, settings=settings)
    try:
        total = time.monotonic() - mono0
        lags = []
        for _name, state in env.services.items():
            assert state.ready_at is not None and state.handle is not None
            ready_wall = wall0 + (env.began - mono0) + state.ready_at
            assert state.handle.container is not None
            listening = next(
                float(line.split()[1])
                for line in state.handle.container.logs_tail(50)
                if line.startswith("LISTENING")
            )
            lags.append(ready_wall - listening)
        return total, lags
    finally:
        env.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    level_depends = {s: [] for s in DELAYS}
    for previous, level in itertools.pairwise(LEVELS):
        for service in level:
            level_depends[service] = list(previous)

    with tempfile.TemporaryDirectory() as tmp:
        graph_file = Path(tmp) / "scenario_bench_graph.yaml"
        level_file = Path(tmp) / "scenario_bench_levels.yaml"
        graph_file.write_text(scenario_text("bench_graph", DEPENDS))
        level_file.write_text(scenario_text("bench_levels", level_depends))
        graph_times, level_times, lags = [], [], []
        for _ in range(args.rounds):
            total, round_lags = run_once(graph_file)
            graph_times.append(total)
            lags += round_lags
            level_times.append(run_once(level_file)[0])
    graph = statistics.median(graph_times)
    level = statistics.median(level_times)
    print(f"rounds: {args.rounds}; critical path (boot delays only): {CRITICAL_PATH:.2f}s")
    print(
        f"start-as-soon-as-ready: median {graph:.2f}s = {graph / CRITICAL_PATH:.2f}x "
        "critical path (target <= 1.10x)"
    )
    print(
        f"level-by-level:         median {level:.2f}s = {level / CRITICAL_PATH:.2f}x critical path"
    )
    lag_ms = sorted(x * 1000 for x in lags)
    print(
        f"readiness lag: median {statistics.median(lag_ms):.0f} ms, max {lag_ms[-1]:.0f} ms "
        f"over {len(lag_ms)} services (target median <= 50 ms)"
    )


if __name__ == "__main__":
    main()
