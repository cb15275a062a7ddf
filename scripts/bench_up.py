#!/usr/bin/env python3
"""Benchmark: time-to-ready of `envctl up --scenario kafka_real_basic` against a bare baseline.

Baseline: the same local broker image started with a bare `docker run` (port published on
127.0.0.1) plus a tight client-side metadata poll (confluent-kafka, 5 ms between tries).
envctl: the CLI as a user runs it, `envctl up --scenario kafka_real_basic --json`, which also
creates the network and the scenario's topics. Rounds are interleaved so drift on the machine
hits both sides alike; the median ratio is printed. Also prints `envctl --help` wall time.

Usage: scripts/bench_up.py [--rounds N] [--image IMAGE]
Targets (issue #2): ratio <= 1.10x; `envctl --help` <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def baseline(image: str) -> float:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    port = free_port()
    name = f"envctl-bench-{os.getpid()}-{port}"
    start = time.perf_counter()
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            name,
            "--label",
            "io.envctl.bench=true",
            "-p",
            f"127.0.0.1:{port}:9092",
            "-e",
            f"ADVERTISED_LISTENER_URL=tcp://127.0.0.1:{port}",
            image,
        ],
        check=True,
        capture_output=True,
    )
    try:
        while True:
            admin = AdminClient(
                {
                    "bootstrap.servers": f"127.0.0.1:{port}",
                    "socket.connection.setup.timeout.ms": "1000",
                }
            )
            try:
                if admin.list_topics(timeout=1).brokers:
                    break
            except KafkaException:
                time.sleep(0.005)
        return time.perf_counter() - start
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=False, capture_output=True)


def envctl_up(image: str) -> tuple[float, dict[str, float]]:
    env = {**os.environ, "ENVCTL_IMAGE_KAFKA": image}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "envctl", "up", "--scenario", "kafka_real_basic", "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"envctl up failed: {result.stderr.strip()}")
    data = json.loads(result.stdout)
    subprocess.run(
        [sys.executable, "-m", "envctl", "down", "--run-id", data["run_id"]],
        env=env,
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    return elapsed, data["services"]["kafka"]["timings"]


def help_time(rounds: int) -> float:
    envctl = [sys.executable, "-m", "envctl", "--help"]
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(envctl, capture_output=True, check=True, cwd=REPO)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--image", default="envctl-test/kafka:tansu")
    args = parser.parse_args()

    baseline(args.image)  # warm the page cache and the daemon once
    envctl_up(args.image)
    base_samples, up_samples, ratios = [], [], []
    phases: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        b = baseline(args.image)
        u, timings = envctl_up(args.image)
        base_samples.append(b)
        up_samples.append(u)
        ratios.append(u / b)
        for phase, seconds in timings.items():
            phases.setdefault(phase, []).append(seconds)
    python_start = help_time(args.rounds)
    print(f"rounds: {args.rounds}, image: {args.image}")
    print(f"baseline docker run + metadata poll: median {statistics.median(base_samples):.3f}s")
    print(f"envctl up --scenario kafka_real_basic: median {statistics.median(up_samples):.3f}s")
    print(
        "  envctl phases (median): "
        + ", ".join(f"{k} {statistics.median(v):.3f}s" for k, v in phases.items())
    )
    print(f"median ratio envctl/baseline: {statistics.median(ratios):.2f}x (target <= 1.10x)")
    print(f"envctl --help wall time: median {python_start * 1000:.0f} ms (target <= 150 ms)")


if __name__ == "__main__":
    main()
