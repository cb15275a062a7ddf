"""Helpers for the data tests: write scenario trees, look into Kafka, Postgres and Redis with
real clients (confluent-kafka, psycopg, redis-py, psql, redis-cli)."""

from __future__ import annotations

import json
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

from support import run_envctl


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write files (dedented) under ``root``; returns ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def envctl_in(scenarios: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_envctl("--scenarios-dir", str(scenarios), *args, env=env)


# -- Kafka ---------------------------------------------------------------------------------------


def topics(servers: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    return set(AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10).topics)


def groups(servers: str) -> set[str]:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": servers})
    return {g.group_id for g in admin.list_consumer_groups().result(timeout=10).valid}


def partitions(servers: str, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": servers}).list_topics(timeout=10)
    return len(metadata.topics[topic].partitions)


def consume_all(servers: str, topic: str, timeout: float = 20) -> list[Any]:
    """Every message of ``topic`` (all partitions, by assign, to the end of each)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    count = partitions(servers, topic)
    consumer = Consumer(
        {
            "bootstrap.servers": servers,
            "group.id": f"test-reader-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(count)])
    found: list[Any] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(at_end) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise AssertionError(message.error())
            found.append(message)
    finally:
        consumer.close()
    assert len(at_end) == count, f"did not reach the end of {topic}"
    return sorted(found, key=lambda m: (m.partition(), m.offset()))


def produce(
    servers: str, topic: str, value: bytes, key: bytes | None = None, partition: int = 0
) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": servers})
    producer.produce(topic, value, key=key, partition=partition)
    assert producer.flush(15) == 0


def commit(servers: str, group: str, topic: str, partition: int, offset: int) -> None:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": servers, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        consumer.close()


# -- PostgreSQL ------------------------------------------------------------------------------------


def psql(dsn: str, sql: str) -> str:
    """Run SQL with the psql CLI; returns its unaligned output."""
    done = subprocess.run(
        ["psql", dsn, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def databases(dsn: str) -> set[str]:
    return set(psql(dsn, "SELECT datname FROM pg_database").split())


def with_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


# -- Redis -----------------------------------------------------------------------------------------


def redis_cli(url: str, *args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-u", url, *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def keys(url: str, pattern: str = "*") -> set[str]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return {k.decode() for k in client.scan_iter(match=pattern)}
    finally:
        client.close()


def up(scenarios: Path, name: str, env: dict[str, str]) -> dict[str, Any]:
    result = envctl_in(scenarios, "up", "--scenario", name, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]
