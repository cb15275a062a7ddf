"""Kafka seed records: ``{key, value, headers, partition, timestamp}`` -> bytes to produce.

``value`` (required; ``null`` is a tombstone) and ``key``: a string is sent as-is (UTF-8),
anything else (object, list, number, boolean) as compact JSON. ``headers``: a mapping, or a
list of ``[name, value]`` pairs (repeated names allowed). ``partition``: a partition of the
topic; unset lets the partitioner choose by key. ``timestamp``: milliseconds since the epoch.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from envctl.errors import SeedError
from envctl.seed.records import RecordFile, did_you_mean

RECORD_FIELDS = ("key", "value", "headers", "partition", "timestamp")
_FIELDS = frozenset(RECORD_FIELDS)


class KafkaRecord(NamedTuple):
    line: int | None
    value: bytes | None
    key: bytes | None = None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    partition: int | None = None
    timestamp: int | None = None


_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
"""``json.dumps`` with options builds an encoder per call; seeding encodes 100k values."""


def encode(value: Any) -> bytes | None:
    """A string as UTF-8, None as None, anything else as compact JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bytes):
        return value
    return _COMPACT(value).encode()


def kafka_records(
    source: RecordFile, topic: str, partitions: int | None = None
) -> list[KafkaRecord]:
    """Check and convert every record; :class:`SeedError` names the first bad one's line."""
    if source.shape != "list":
        raise SeedError(
            source.display, 1, "a Kafka seed file holds a list of records ({key, value, ...})"
        )
    return [_record(r.data, r.line, source.display, topic, partitions) for r in source.records]


def _record(
    data: Any, line: int | None, display: str, topic: str, partitions: int | None
) -> KafkaRecord:
    def bad(message: str) -> SeedError:
        return SeedError(display, line, message)

    if not isinstance(data, dict):
        raise bad(
            f"a record must be a mapping with 'value' (and 'key', 'headers', 'partition'), "
            f"not {type(data).__name__}"
        )
    if not _FIELDS.issuperset(data):
        name = next(n for n in data if n not in _FIELDS)
        raise bad(f"unknown field '{name}'{did_you_mean(str(name), RECORD_FIELDS)}")
    if "value" not in data:
        raise bad("record has no 'value' (write value: null for a tombstone)")
    partition = data.get("partition")
    if partition is not None:
        if isinstance(partition, bool) or not isinstance(partition, int) or partition < 0:
            raise bad(f"partition must be a whole number >= 0, not {partition!r}")
        if partitions is not None and partition >= partitions:
            raise bad(
                f"partition {partition} does not exist: topic '{topic}' has {partitions} "
                f"partition{'s' if partitions != 1 else ''} (0-{partitions - 1})"
            )
    timestamp = data.get("timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0
    ):
        raise bad(f"timestamp must be milliseconds since the epoch, not {timestamp!r}")
    return KafkaRecord(
        line=line,
        value=encode(data["value"]),
        key=encode(data.get("key")),
        headers=_headers(data.get("headers"), bad),
        partition=partition,
        timestamp=timestamp,
    )


def _headers(raw: Any, bad: Any) -> tuple[tuple[str, bytes | None], ...]:
    if raw is None:
        return ()
    pairs: list[tuple[Any, Any]]
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = []
        for item in raw:
            if isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            elif isinstance(item, dict) and set(item) == {"key", "value"}:
                pairs.append((item["key"], item["value"]))
            else:
                raise bad(f"a header must be [name, value] or {{key, value}}, not {item!r}")
    else:
        raise bad("headers must be a mapping or a list of [name, value] pairs")
    result: list[tuple[str, bytes | None]] = []
    for name, value in pairs:
        if not isinstance(name, str) or not name:
            raise bad(f"a header name must be a non-empty string, not {name!r}")
        result.append((name, encode(value)))
    return tuple(result)
