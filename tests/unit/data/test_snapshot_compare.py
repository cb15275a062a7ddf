"""Diffs between snapshot folders, from the files alone: Kafka, PostgreSQL, Redis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envctl.services.postgres.pgdump import decode_field, decode_row, parse_copy_header
from envctl.services.redis.diff import ttl_changed
from envctl.snapshot.compare import diff_service, format_diff


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def message(partition: int, offset: int, value: str, key: str = "k") -> dict[str, Any]:
    return {
        "partition": partition,
        "offset": offset,
        "timestamp": 1,
        "key": key,
        "value": value,
        "headers": [],
    }


def kafka_snapshot(
    folder: Path, ends: dict[int, int], messages: list[dict[str, Any]], groups: dict[str, Any]
) -> None:
    offsets = {
        str(p): {"start": 0, "end": e, "kept": e, "truncated": False} for p, e in ends.items()
    }
    write_json(
        folder / "topics.json",
        {
            "topics": {
                "orders": {
                    "physical": "envctl.r.orders",
                    "namespaced": True,
                    "partitions": len(ends),
                    "config": {},
                    "offsets": offsets,
                }
            }
        },
    )
    write_json(folder / "groups.json", {"groups": groups})
    write_jsonl(folder / "messages" / "orders.jsonl", messages)


def test_kafka_new_messages_and_group_moves(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    kafka_snapshot(a, {0: 1, 1: 0}, [message(0, 0, "one")], {})
    kafka_snapshot(
        b,
        {0: 2, 1: 1},
        [message(0, 0, "one"), message(0, 1, "two"), message(1, 0, "three")],
        {
            "billing": {
                "physical": "envctl.r.billing",
                "namespaced": True,
                "offsets": {"orders": {"0": 2}},
            }
        },
    )
    result = diff_service("kafka", a, b)
    assert result["changed"]
    orders = result["topics"]["orders"]
    assert orders["new_messages"] == 2
    assert orders["partitions"] == {
        "0": {"start": [0, 0], "end": [1, 2], "new": 1},
        "1": {"start": [0, 0], "end": [0, 1], "new": 1},
    }
    assert [m["value"] for m in orders["new"]] == ["two", "three"]
    assert result["groups"] == {"billing": {"status": "added", "offsets": {"orders[0]": [None, 2]}}}
    assert diff_service("kafka", a, a) == {"changed": False, "topics": {}, "groups": {}}


def test_kafka_message_differing_at_the_same_offset_is_changed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    kafka_snapshot(a, {0: 1}, [message(0, 0, "one")], {})
    kafka_snapshot(b, {0: 1}, [message(0, 0, "uno")], {})
    orders = diff_service("kafka", a, b)["topics"]["orders"]
    assert orders["changed_count"] == 1
    assert orders["changed"][0]["after"]["value"] == "uno"


DUMP = """\
\\restrict abc
SET statement_timeout = 0;
COPY public.customers (id, name, "Tier") FROM stdin;
{rows}\\.

COPY public.log (line) FROM stdin;
{log}\\.

\\unrestrict abc
"""


def postgres_snapshot(folder: Path, rows: str, log: str) -> None:
    folder.mkdir(parents=True)
    (folder / "envctl.sql").write_text(DUMP.format(rows=rows, log=log))
    tables = {
        "public.customers": {"columns": ["id", "name", "Tier"], "primary_key": ["id"], "rows": 0},
        "public.log": {"columns": ["line"], "primary_key": [], "rows": 0},
    }
    write_json(
        folder / "tables.json",
        {"databases": {"envctl": {"physical": "x", "template": None, "tables": tables}}},
    )


def test_postgres_rows_added_removed_and_changed_by_primary_key(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    postgres_snapshot(a, "1\talice\tgold\n2\tbob\t\\N\n", "x\nx\n")
    postgres_snapshot(b, "1\talice\tplatinum\n3\tcarol\t\\N\n", "x\ny\n")
    result = diff_service("postgres", a, b)
    customers = result["databases"]["envctl"]["tables"]["public.customers"]
    assert customers["rows"] == [2, 2]
    assert customers["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert customers["added"] == [{"id": "3", "name": "carol", "Tier": None}]
    assert customers["removed"] == [{"id": "2", "name": "bob", "Tier": None}]
    assert customers["changed"][0]["key"] == {"id": "1"}
    assert customers["changed"][0]["changes"] == {"Tier": ["gold", "platinum"]}
    log = result["databases"]["envctl"]["tables"]["public.log"]  # no key: a multiset
    assert log["counts"] == {"added": 1, "removed": 1, "changed": 0}
    text = format_diff({"from": "a", "to": "b", "services": {"db": {"type": "postgres", **result}}})
    assert "table public.customers: 2 -> 2 rows: 1 added, 1 changed, 1 removed" in text
    assert "~ id=1: Tier: gold -> platinum" in text
    assert diff_service("postgres", a, a)["changed"] is False


def redis_entry(key: str, value: Any, ttl: int | None = None, at: int = 0) -> dict[str, Any]:
    return {
        "key": key,
        "type": "string",
        "ttl_ms": ttl,
        "expires_at_ms": at + ttl if ttl else None,
        "value": value,
    }


def test_redis_keys_added_removed_changed(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write_jsonl(a / "keys.jsonl", [redis_entry("k1", "v"), redis_entry("k2", "v")])
    write_jsonl(b / "keys.jsonl", [redis_entry("k1", "w"), redis_entry("k3", "v")])
    result = diff_service("redis", a, b)
    assert result["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert result["changed_keys"][0]["what"] == ["value"]
    text = format_diff({"from": "a", "to": "now", "services": {"c": {"type": "redis", **result}}})
    assert text.splitlines() == [
        "a -> now",
        "c (redis):",
        "  + k3 (string) v",
        "  - k2 (string)",
        "  ~ k1 (string) value: w",
    ]


def test_ttl_time_passing_or_a_restore_is_no_change() -> None:
    before = redis_entry("k", "v", ttl=60_000, at=0)
    assert not ttl_changed(before, redis_entry("k", "v", ttl=50_000, at=10_000))  # time passed
    assert not ttl_changed(before, redis_entry("k", "v", ttl=59_000, at=20_000))  # set again
    assert ttl_changed(before, redis_entry("k", "v", ttl=5_000, at=10_000))  # shortened
    assert ttl_changed(before, redis_entry("k", "v", ttl=600_000, at=10_000))  # extended
    assert ttl_changed(before, redis_entry("k", "v"))  # made persistent


def test_copy_headers_and_text_format_values() -> None:
    assert parse_copy_header('public."Order Items" (id, "Name", "a""b")') == (
        "public.Order Items",
        ["id", "Name", 'a"b'],
    )
    assert decode_field("\\N") is None
    assert decode_field("a\\tb\\\\c\\n") == "a\tb\\c\n"
    assert decode_field("\\101\\x42") == "AB"
    assert decode_row("1\t\\N\tx") == ("1", None, "x")


def test_format_says_when_nothing_changed() -> None:
    text = format_diff(
        {"from": "before", "to": "now", "services": {"k": {"type": "kafka", "changed": False}}}
    )
    assert text.splitlines() == ["before -> now", "unchanged: k", "no differences"]
