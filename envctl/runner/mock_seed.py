"""Seeding the in-memory doubles: a mock run starts from the same data as a real one.

The seed files are read and checked by the same code the real services use
(:mod:`envctl.seed`); only the last step differs: records go through the mock tools'
own interfaces (execute, set/hset) instead of a producer, psycopg or redis-py; Kafka records
are stored as the producer would send them (no correlation id or content type added).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envctl.errors import SeedError
from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode
from envctl.seed.paths import resolve_seed_path
from envctl.seed.records import read_records, read_seed_text
from envctl.services import registry
from envctl.services.kafka.mock import seed_record
from envctl.services.kafka.seed import kafka_records
from envctl.services.redis.seed import redis_keys


def seed_mocks(
    scenario: Scenario,
    tools: Mapping[str, Any],
    modes: Mapping[str, DependencyMode],
    tree: Path | None,
) -> int:
    """Load every mock-mode service's seed files into its double; returns how many files."""
    base = scenario.source.parent if scenario.source is not None else None
    loaded = 0
    for name, spec in scenario.external_services.items():
        tool = tools.get(name)
        if tool is None or modes.get(name) != DependencyMode.MOCK:
            continue
        for seed in getattr(spec, "seed", []) or []:
            path = resolve_seed_path(seed.from_, base, tree, name)
            if spec.type == "kafka":
                _kafka(tool, seed.topic, path)
            elif spec.type == "postgres":
                _sql(tool, seed, path, name)
            elif spec.type == "redis":
                _redis(tool, path, name)
            elif not registry.plugin_for(spec.type).seed_mock(tool, seed, path, name):
                continue
            loaded += 1
    return loaded


def _kafka(bus: Any, topic: str, path: Path) -> None:
    for record in kafka_records(read_records(path), topic):
        headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
        # as real seeding produces it: no correlation id or content type added
        seed_record(
            bus,
            topic,
            record.value,
            key=record.key,
            headers=headers,
            partition=record.partition,
            timestamp_ms=record.timestamp,
        )


def _sql(store: Any, seed: Any, path: Path, service: str) -> None:
    text = read_seed_text(path, str(path))
    if path.suffix.lower() != ".csv":
        try:
            store.execute(text)
        except Exception as exc:  # noqa: BLE001 - the double's SqlError; reported with the file
            raise SeedError(str(path), None, f"service '{service}': {exc}") from None
        return
    table = str(seed.table).rsplit(".", 1)[-1]  # SQLite has no schemas
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=seed.delimiter))
    except csv.Error as exc:  # e.g. a field over the csv module's size limit
        raise SeedError(str(path), None, f"service '{service}': cannot read CSV: {exc}") from None
    if not rows:
        return
    columns = rows[0] if seed.header else None
    for line, row in enumerate(rows[1:] if seed.header else rows, start=2 if seed.header else 1):
        names = f" ({', '.join(columns)})" if columns else ""
        marks = ", ".join(["%s"] * len(row))
        try:
            store.execute(f"INSERT INTO {table}{names} VALUES ({marks})", list(row))
        except Exception as exc:  # noqa: BLE001 - reported with the file and line
            raise SeedError(str(path), line, f"service '{service}': {exc}") from None


def _redis(store: Any, path: Path, service: str) -> None:
    for key in redis_keys(read_records(path)):
        if key.type == "string":
            store.set(key.key, key.value, ttl=key.ttl)
        elif key.type == "hash":
            store.hset(key.key, dict(key.value))  # type: ignore[arg-type]
        else:
            raise SeedError(
                str(path),
                key.line,
                f"service '{service}': the mock key-value store holds strings and hashes; "
                f"a {key.type} seed needs dependency_mode: real",
            )
