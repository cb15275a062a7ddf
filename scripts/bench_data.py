#!/usr/bin/env python3
"""Benchmark: seeding, snapshots and restores of envctl's data layer. Prints, asserts nothing.

1. Seed 100k Kafka messages (JSON Lines, idempotent producer, every delivery confirmed) and
   compare with `kcat -P` producing the same 100k lines into another topic of the same broker
   in the same run (idempotence on as well; wall time including the process start).
2. Snapshot and restore of 10k Kafka messages, 100k PostgreSQL rows (restore by template copy
   and by replaying the dump), 10k Redis keys: seconds each, per service.

Uses the local test images unless ENVCTL_IMAGE_<TYPE> says otherwise
(scripts/build-test-images). Debian's kcat is linked against a librdkafka too old for Tansu, so
it runs with confluent-kafka's bundled librdkafka (LD_LIBRARY_PATH), as the tests do.

Usage: scripts/bench_data.py [--messages N] [--rows N] [--keys N] [--snapshot-messages N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
}


def write_data(root: Path, messages: int, snapshot_messages: int, rows: int, keys: int) -> None:
    data = root / "data"
    data.mkdir(parents=True)
    with open(data / "load.jsonl", "w") as out:
        for i in range(messages):
            out.write(json.dumps({"key": str(i), "value": {"id": i, "name": f"order-{i}"}}) + "\n")
    with open(data / "kcat.txt", "w") as out:
        for i in range(messages):
            out.write(
                f"{i}\t" + json.dumps({"id": i, "name": f"order-{i}"}, separators=(",", ":")) + "\n"
            )
    with open(data / "small.jsonl", "w") as out:
        for i in range(snapshot_messages):
            out.write(json.dumps({"key": str(i), "value": {"id": i}}) + "\n")
    (data / "schema.sql").write_text(
        "CREATE TABLE orders (id int PRIMARY KEY, customer text, total numeric, note text);\n"
    )
    with open(data / "orders.csv", "w") as out:
        out.write("id,customer,total,note\n")
        for i in range(rows):
            out.write(f"{i},customer-{i % 997},{i % 1000}.50,row {i}\n")
    (data / "keys.json").write_text(json.dumps({f"user:{i}": f"value-{i}" for i in range(keys)}))
    (root / "scenario_bench_seed.yaml").write_text(
        "name: bench_seed\ndependency_mode: real\nexternal_services:\n"
        "  kafka:\n    type: kafka\n    topics: [load, kcat]\n"
        "    seed: [{topic: load, from: data/load.jsonl}]\n"
        "timeout_profiles: {kafka: {seed: 600}}\n"
    )
    (root / "scenario_bench_snapshot.yaml").write_text(
        "name: bench_snapshot\ndependency_mode: real\nexternal_services:\n"
        "  kafka:\n    type: kafka\n    topics: [{name: orders, partitions: 3}]\n"
        "    seed: [{topic: orders, from: data/small.jsonl}]\n"
        "  db:\n    type: postgres\n"
        "    seed: [{from: data/schema.sql}, {from: data/orders.csv, table: orders}]\n"
        "  cache:\n    type: redis\n    seed: [{from: data/keys.json}]\n"
        "timeout_profiles: {kafka: {seed: 600}, db: {seed: 600}, cache: {seed: 600}}\n"
    )


def kcat_environment(tmp: Path) -> dict[str, str]:
    import confluent_kafka

    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    bundled = sorted(libs.glob("librdkafka*.so*"))
    env = dict(os.environ)
    if bundled:
        link_dir = tmp / "rdkafka"
        link_dir.mkdir(exist_ok=True)
        (link_dir / "librdkafka.so.1").symlink_to(bundled[0])
        env["LD_LIBRARY_PATH"] = str(link_dir)
    return env


def count_messages(env: Any, service: str, topic: str) -> int:
    from envctl.inspection import kafka_topics

    for info in kafka_topics(env, services=[service], last=0)[service]["topics"]:
        if info["topic"] == topic:
            return int(info["messages"])
    return -1


def line(label: str, seconds: float, extra: str = "") -> None:
    print(f"  {label:<48} {seconds:8.2f} s  {extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--snapshot-messages", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=10_000)
    args = parser.parse_args()

    import envctl
    from envctl import snapshot
    from envctl.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="envctl-bench-data-"))
    try:
        scenarios = tmp / "scenarios"
        write_data(scenarios, args.messages, args.snapshot_messages, args.rows, args.keys)
        environ = {**TEST_IMAGES, **os.environ, "ENVCTL_STATE_DIR": str(tmp / "state")}
        settings = Settings.load(environ=environ, cwd=tmp, scenarios_dir=scenarios)

        print(f"seeding {args.messages} Kafka messages")
        with envctl.up("bench_seed", settings=settings) as env:
            seconds = env.services["kafka"].timings["seed"]
            line(
                "envctl seed (idempotent, all confirmed)",
                seconds,
                f"{args.messages / seconds:,.0f} msg/s",
            )
            servers = env.endpoints("kafka")["bootstrap_servers"]
            physical = env.endpoints("kafka")["topics"]["kcat"]
            if shutil.which("kcat"):
                started = time.perf_counter()
                done = subprocess.run(
                    [
                        "kcat",
                        "-P",
                        "-b",
                        servers,
                        "-t",
                        physical,
                        "-K",
                        "\t",
                        "-X",
                        "enable.idempotence=true",
                        "-l",
                        str(scenarios / "data" / "kcat.txt"),
                    ],
                    env=kcat_environment(tmp),
                    capture_output=True,
                    text=True,
                    check=False,
                )
                seconds_kcat = time.perf_counter() - started
                if done.returncode == 0:
                    line(
                        "kcat -P, same broker, same lines",
                        seconds_kcat,
                        f"{args.messages / seconds_kcat:,.0f} msg/s",
                    )
                    print(f"  ratio envctl/kcat: {seconds / seconds_kcat:.2f}x")
                else:
                    print(f"  kcat failed: {done.stderr.strip()[:200]}")
                print(
                    f"  counted: load={count_messages(env, 'kafka', 'load')}, "
                    f"kcat={count_messages(env, 'kafka', 'kcat')}"
                )
            else:
                print("  kcat not installed (apt-get install kcat): no baseline")

        print(
            f"snapshot and restore: {args.snapshot_messages} Kafka messages, "
            f"{args.rows} PostgreSQL rows, {args.keys} Redis keys"
        )
        with envctl.up("bench_snapshot", settings=settings) as env:
            timings = {s: env.services[s].timings["seed"] for s in ("kafka", "db", "cache")}
            for service, seconds in timings.items():
                line(f"seed {service}", seconds)
            manifest = snapshot.save(env, "bench")
            line("snapshot save, all three", manifest["seconds"])
            for service, info in manifest["services"].items():
                line(f"  save {service}", info["seconds"], f"{info['bytes'] / 1e6:.1f} MB")
            for service in ("kafka", "db", "cache"):
                started = time.perf_counter()
                notes = snapshot.restore(env, "bench", services=[service])
                line(f"  restore {service}", time.perf_counter() - started, "; ".join(notes))
            # PostgreSQL again, without the template copy: the dump is replayed
            from envctl.services.postgres import data as postgres_data

            db = env.services["db"]
            tables = json.loads(
                (env.run_dir / "snapshots" / "bench" / "db" / "tables.json").read_text()
            )
            template = tables["databases"]["envctl"]["template"]
            handle = db.handle
            assert handle is not None
            import psycopg

            with psycopg.connect(
                postgres_data.conninfo(handle, "postgres"), autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{template}"')  # type: ignore[arg-type]
            started = time.perf_counter()
            snapshot.restore(env, "bench", services=["db"])
            line("  restore db by replaying the dump", time.perf_counter() - started)
            started = time.perf_counter()
            result = snapshot.diff(env, "bench")
            line(
                "diff bench -> now (captures now)",
                time.perf_counter() - started,
                f"changed={result['changed']}",
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
