"""Redis seed keys: strings, hashes, lists, sets (and sorted sets), with an optional TTL.

A seed file is either a mapping ``key: value`` (a scalar is a string, a mapping a hash, a
list a list) or a list of records ``{key, value, type, ttl}`` where ``type`` is one of
``string``, ``hash``, ``list``, ``set``, ``zset`` (inferred from the value when unset) and
``ttl`` is seconds. Keys are logical: the run's key prefix is put in front of each.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from envctl.errors import SeedError
from envctl.seed.records import RecordFile, did_you_mean

REDIS_TYPES = ("string", "hash", "list", "set", "zset")
RECORD_FIELDS = ("key", "value", "type", "ttl")

RedisValue = str | dict[str, str] | list[str] | dict[str, float]


@dataclass(frozen=True)
class RedisKey:
    line: int | None
    key: str
    type: str
    value: RedisValue
    ttl: float | None = None
    """Seconds; None: no expiry."""


def text(value: Any) -> str:
    """A scalar as Redis stores it: strings as-is, booleans as true/false, others as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def redis_keys(source: RecordFile) -> list[RedisKey]:
    """Check and convert every key; :class:`SeedError` names the first bad one's line."""
    keys: list[RedisKey] = []
    seen: dict[str, int | None] = {}
    for record in source.records:

        def bad(message: str, line: int | None = record.line) -> SeedError:
            return SeedError(source.display, line, message)

        if source.shape == "mapping":
            name, value = record.data
            entry = _key(str(name), value, None, None, bad, record.line)
        else:
            data = record.data
            if not isinstance(data, dict):
                raise bad(f"a key record must be a mapping {{key, value, type, ttl}}, not {data!r}")
            for field in data:
                if field not in RECORD_FIELDS:
                    raise bad(f"unknown field '{field}'{did_you_mean(str(field), RECORD_FIELDS)}")
            if not isinstance(data.get("key"), str) or not data["key"]:
                raise bad("record needs 'key': a non-empty string")
            if "value" not in data:
                raise bad(f"key '{data['key']}' has no 'value'")
            entry = _key(
                data["key"], data["value"], data.get("type"), data.get("ttl"), bad, record.line
            )
        if entry.key in seen:
            where = f" (first at line {seen[entry.key]})" if seen[entry.key] else ""
            raise bad(f"key '{entry.key}' is seeded twice{where}")
        seen[entry.key] = record.line
        keys.append(entry)
    return keys


def _key(key: str, value: Any, kind: Any, ttl: Any, bad: Any, line: int | None) -> RedisKey:
    if value is None:
        raise bad(f"key '{key}': value is null (Redis has no null; leave the key out)")
    if kind is None:
        kind = (
            "hash" if isinstance(value, dict) else "list" if isinstance(value, list) else "string"
        )
    if kind not in REDIS_TYPES:
        raise bad(f"key '{key}': unknown type '{kind}'{did_you_mean(str(kind), REDIS_TYPES)}")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0):
        raise bad(f"key '{key}': ttl must be a positive number of seconds, not {ttl!r}")
    converted: RedisValue
    if kind == "string":
        converted = text(value)
    elif kind == "hash":
        if not isinstance(value, dict) or not value:
            raise bad(f"key '{key}': a hash needs a non-empty mapping of fields")
        converted = {str(f): text(v) for f, v in value.items()}
    elif kind in ("list", "set"):
        if not isinstance(value, list) or not value:
            raise bad(f"key '{key}': a {kind} needs a non-empty list of members")
        if any(isinstance(v, dict | list) or v is None for v in value):
            raise bad(f"key '{key}': {kind} members must be scalars")
        converted = [text(v) for v in value]
    else:
        if not isinstance(value, dict) or not value:
            raise bad(f"key '{key}': a zset needs a non-empty mapping member: score")
        scores: dict[str, float] = {}
        for member, score in value.items():
            if isinstance(score, bool) or not isinstance(score, int | float):
                raise bad(f"key '{key}': score of '{member}' must be a number, not {score!r}")
            scores[str(member)] = float(score)
        converted = scores
    return RedisKey(line=line, key=key, type=kind, value=converted, ttl=float(ttl) if ttl else None)
