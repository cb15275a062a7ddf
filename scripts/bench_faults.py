#!/usr/bin/env python3
"""Benchmark: how soon a paused Kafka broker is reported, and how soon Ctrl-C ends a seed
against one (issue 10 §3b: ~35 s and 122 s once).

1. publish: `envctl run` of a scenario whose step publishes (the bus's first call) while the
   broker is paused by a fault (`timeout_profiles.kafka.publish_ack: 3`, `setup` left at 30):
   the step's seconds, printed with its one-line error.
2. Ctrl-C: `envctl up` of a scenario seeding 30,000 records (`seed: 600`); the broker is
   paused as seeding starts, SIGINT follows 2 s later: seconds from SIGINT to exit, the exit
   code, and whether anything of the run is left.

Usage: scripts/bench_faults.py [--repo PATH] [--rounds N]
  --repo: the checkout whose envctl runs (default this one; another checkout measures
  "before"). Needs Docker and the local test images (scripts/build-test-images).
Targets: (1) about publish_ack (3 s); (2) within ~2 s, exit 130, nothing left.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PUBLISH = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [orders]
timeout_profiles:
  kafka: {{publish_ack: 3}}
steps:
  - publish: {{id: during, topic: orders, key: "1", value: {{id: 1}}}}
faults:
  - {{kind: pause, service: kafka, at: {{step: during}}}}
"""

SEEDING = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [orders]
    seed: [{{topic: orders, from: orders.jsonl}}]
timeout_profiles:
  kafka: {{seed: 600}}
"""


def write(folder: Path, template: str) -> str:
    name = f"bench_faults_{uuid.uuid4().hex[:8]}"
    (folder / f"scenario_{name}.yaml").write_text(textwrap.dedent(template.format(name=name)))
    return name


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env["ENVCTL_IMAGE_KAFKA"] = os.environ.get("ENVCTL_IMAGE_KAFKA", "envctl-test/kafka:tansu")
    env["ENVCTL_STATE_DIR"] = str(folder / "state")
    env["ENVCTL_LABELS"] = os.environ.get("ENVCTL_LABELS", "envctl-bench=faults")
    return env


def publish_round(repo: Path, folder: Path) -> tuple[float, str]:
    name = write(folder, PUBLISH)
    command = [sys.executable, "-m", "envctl", "--scenarios-dir", str(folder), "run", "-s", name]
    result = subprocess.run(
        [*command, "--json"], cwd=repo, env=environment(folder), capture_output=True, text=True
    )
    data = json.loads(result.stdout)
    step = data["steps"][0]
    return float(step["seconds"]), str(step.get("error", ""))


def interrupt_round(repo: Path, folder: Path) -> tuple[float, int, list[str]]:
    import docker

    client = docker.from_env()
    with open(folder / "orders.jsonl", "w") as out:
        for i in range(30000):
            out.write(json.dumps({"key": str(i), "value": {"id": i, "pad": "x" * 100}}) + "\n")
    name = write(folder, SEEDING)
    process = subprocess.Popen(
        [sys.executable, "-m", "envctl", "--scenarios-dir", str(folder), "up", "-s", name],
        cwd=repo,
        env=environment(folder),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("[kafka] seed"):
            break
    threading.Thread(target=process.stderr.read, daemon=True).start()
    labels = [f"io.envctl.scenario={name}", "io.envctl.service=kafka"]
    container = client.containers.list(filters={"label": labels})[0]
    run_id = container.labels["io.envctl.run-id"]
    container.pause()
    time.sleep(2)  # a benchmark's deliberate pause: seeding is under way against the paused broker
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=600)
    seconds = time.perf_counter() - sent
    left = client.containers.list(all=True, filters={"label": [f"io.envctl.run-id={run_id}"]})
    for item in left:  # a "before" build may leave it: tidy up after reporting it
        item.remove(force=True)
    return seconds, code, [c.name for c in left]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    publish: list[float] = []
    interrupt: list[float] = []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="envctl-bench-faults-") as tmp:
            seconds, error = publish_round(args.repo, Path(tmp))
            publish.append(seconds)
            print(f"publish to a paused broker: failed after {seconds:.2f}s: {error}")
        with tempfile.TemporaryDirectory(prefix="envctl-bench-faults-") as tmp:
            seconds, code, left = interrupt_round(args.repo, Path(tmp))
            interrupt.append(seconds)
            print(f"Ctrl-C while seeding a paused broker: exit {code} after {seconds:.2f}s", end="")
            print(f"; left: {left}")
    print(
        f"median: publish failure {statistics.median(publish):.2f}s (publish_ack 3s); "
        f"Ctrl-C to exit {statistics.median(interrupt):.2f}s"
    )


if __name__ == "__main__":
    main()
