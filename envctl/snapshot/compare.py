"""What changed between two snapshots, per service, from their files alone (pure).

- Kafka: per topic and partition the start/end offsets, the new messages, messages that
  differ at the same offset or are gone; consumer groups' committed offsets that moved.
- PostgreSQL: per database and table the row counts and the rows added, removed and changed
  (matched by primary key; tables without one are compared as multisets of rows).
- Redis: keys added, removed and changed (type, value, or TTL — time passing is no change,
  nor is the same TTL set again, e.g. by a restore; see :func:`ttl_changed`).

Lists are capped at :data:`LIST_LIMIT` entries; counts are always complete.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from envctl.services import registry
from envctl.services.postgres.pgdump import copy_blocks, decode_row

LIST_LIMIT = 50
TTL_TOLERANCE_MS = 1000


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def diff_service(kind: str, a: Path, b: Path) -> dict[str, Any]:
    """The changes from snapshot folder ``a`` to ``b`` of one service of type ``kind``."""
    if kind == "kafka":
        return diff_kafka(a, b)
    if kind == "postgres":
        return diff_postgres(a, b)
    if kind == "redis":
        return diff_redis(a, b)
    if registry.is_registered(kind):
        result = registry.plugin_for(kind).diff_snapshots(a, b)
        if result is not None:
            return result
    return {"changed": False, "note": f"type '{kind}' has no snapshot support"}


# -- Kafka --------------------------------------------------------------------------------------


def _message_body(message: dict[str, Any]) -> tuple[Any, ...]:
    return (
        json.dumps(message.get("key")),
        json.dumps(message.get("value")),
        json.dumps(message.get("headers")),
        message.get("timestamp"),
    )


def diff_kafka(a: Path, b: Path) -> dict[str, Any]:
    topics_a = _read_json(a / "topics.json", {"topics": {}})["topics"]
    topics_b = _read_json(b / "topics.json", {"topics": {}})["topics"]
    topics: dict[str, Any] = {}
    for topic in sorted(set(topics_a) | set(topics_b)):
        messages_b = _read_jsonl(b / "messages" / f"{topic}.jsonl")
        if topic not in topics_a:
            topics[topic] = {
                "status": "added",
                "messages": sum(p["end"] - p["start"] for p in topics_b[topic]["offsets"].values()),
                "new": messages_b[:LIST_LIMIT],
            }
            continue
        if topic not in topics_b:
            topics[topic] = {"status": "removed"}
            continue
        messages_a = _read_jsonl(a / "messages" / f"{topic}.jsonl")
        by_offset_a = {(m["partition"], m["offset"]): m for m in messages_a}
        by_offset_b = {(m["partition"], m["offset"]): m for m in messages_b}
        offsets_a, offsets_b = topics_a[topic]["offsets"], topics_b[topic]["offsets"]
        partitions: dict[str, Any] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        gone = 0
        for partition in sorted(set(offsets_a) | set(offsets_b), key=int):
            pa = offsets_a.get(partition, {"start": 0, "end": 0})
            pb = offsets_b.get(partition, {"start": 0, "end": 0})
            number = int(partition)
            fresh = [
                m for (p, o), m in sorted(by_offset_b.items()) if p == number and o >= pa["end"]
            ]
            moved = [
                {"partition": number, "offset": o, "before": ma, "after": by_offset_b[(p, o)]}
                for (p, o), ma in sorted(by_offset_a.items())
                if p == number
                and (p, o) in by_offset_b
                and _message_body(ma) != _message_body(by_offset_b[(p, o)])
            ]
            lost = sum(
                1 for (p, o) in by_offset_a if p == number and (o < pb["start"] or o >= pb["end"])
            )
            if pa["start"] != pb["start"] or pa["end"] != pb["end"] or moved or lost:
                partitions[partition] = {
                    "start": [pa["start"], pb["start"]],
                    "end": [pa["end"], pb["end"]],
                    "new": max(0, pb["end"] - max(pa["end"], pb["start"])),
                }
            new.extend(fresh)
            changed.extend(moved)
            gone += lost
        if partitions or changed:
            topics[topic] = {
                "status": "changed",
                "partitions": partitions,
                "new_messages": sum(p["new"] for p in partitions.values()),
                "new": new[:LIST_LIMIT],
                "changed": changed[:LIST_LIMIT],
                "changed_count": len(changed),
                "gone": gone,
            }
    groups = _diff_groups(
        _read_json(a / "groups.json", {"groups": {}})["groups"],
        _read_json(b / "groups.json", {"groups": {}})["groups"],
    )
    return {"changed": bool(topics or groups), "topics": topics, "groups": groups}


def _flat_offsets(info: dict[str, Any]) -> dict[str, int]:
    return {
        f"{topic}[{partition}]": offset
        for topic, parts in info.get("offsets", {}).items()
        for partition, offset in parts.items()
    }


def _diff_groups(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for group in sorted(set(a) | set(b)):
        fa = _flat_offsets(a[group]) if group in a else {}
        fb = _flat_offsets(b[group]) if group in b else {}
        moves = {
            tp: [fa.get(tp), fb.get(tp)]
            for tp in sorted(set(fa) | set(fb))
            if fa.get(tp) != fb.get(tp)
        }
        if group not in a:
            groups[group] = {"status": "added", "offsets": moves}
        elif group not in b:
            groups[group] = {"status": "removed", "offsets": moves}
        elif moves:
            groups[group] = {"status": "changed", "offsets": moves}
    return groups


# -- PostgreSQL ---------------------------------------------------------------------------------


def _tables_of(dump_path: Path) -> dict[str, tuple[list[str], list[tuple[str | None, ...]]]]:
    if not dump_path.exists():
        return {}
    dump = dump_path.read_text(encoding="utf-8")
    return {
        table: (columns, [decode_row(r) for r in rows])
        for table, columns, rows in copy_blocks(dump)
    }


def diff_postgres(a: Path, b: Path) -> dict[str, Any]:
    info_a = _read_json(a / "tables.json", {"databases": {}})["databases"]
    info_b = _read_json(b / "tables.json", {"databases": {}})["databases"]
    databases: dict[str, Any] = {}
    for database in sorted(set(info_a) | set(info_b)):
        if database not in info_a:
            databases[database] = {"status": "added"}
            continue
        if database not in info_b:
            databases[database] = {"status": "removed"}
            continue
        data_a = _tables_of(a / f"{database}.sql")
        data_b = _tables_of(b / f"{database}.sql")
        meta = {**info_a[database]["tables"], **info_b[database]["tables"]}
        tables: dict[str, Any] = {}
        for table in sorted(set(info_a[database]["tables"]) | set(info_b[database]["tables"])):
            in_a = table in info_a[database]["tables"]
            in_b = table in info_b[database]["tables"]
            columns_a, rows_a = data_a.get(table, (meta[table]["columns"], []))
            columns_b, rows_b = data_b.get(table, (meta[table]["columns"], []))
            if not in_a:
                tables[table] = {
                    "status": "added",
                    "rows": [0, len(rows_b)],
                    "added": [dict(zip(columns_b, r, strict=False)) for r in rows_b[:LIST_LIMIT]],
                    "counts": {"added": len(rows_b), "removed": 0, "changed": 0},
                }
                continue
            if not in_b:
                tables[table] = {"status": "removed", "rows": [len(rows_a), 0]}
                continue
            change = _diff_rows(columns_a, rows_a, columns_b, rows_b, meta[table]["primary_key"])
            if change is not None:
                tables[table] = change
        if tables:
            databases[database] = {"status": "changed", "tables": tables}
    return {"changed": bool(databases), "databases": databases}


def _diff_rows(
    columns_a: list[str],
    rows_a: list[tuple[str | None, ...]],
    columns_b: list[str],
    rows_b: list[tuple[str | None, ...]],
    key: list[str],
) -> dict[str, Any] | None:
    result: dict[str, Any] = {"status": "changed", "rows": [len(rows_a), len(rows_b)]}
    if columns_a != columns_b:
        result["columns"] = [columns_a, columns_b]
    as_dicts_a = [dict(zip(columns_a, r, strict=False)) for r in rows_a]
    as_dicts_b = [dict(zip(columns_b, r, strict=False)) for r in rows_b]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]] = []
    if key and all(k in columns_a and k in columns_b for k in key):
        keyed_a = {tuple(r[k] for k in key): r for r in as_dicts_a}
        keyed_b = {tuple(r[k] for k in key): r for r in as_dicts_b}
        added = [keyed_b[k] for k in keyed_b if k not in keyed_a]
        removed = [keyed_a[k] for k in keyed_a if k not in keyed_b]
        for k in keyed_a.keys() & keyed_b.keys():
            before, after = keyed_a[k], keyed_b[k]
            if before != after:
                changes = {
                    c: [before.get(c), after.get(c)]
                    for c in dict.fromkeys([*before, *after])
                    if before.get(c) != after.get(c)
                }
                changed.append(
                    {"key": dict(zip(key, k, strict=True)), "changes": changes, "row": after}
                )
        changed.sort(key=lambda c: json.dumps(c["key"], sort_keys=True))
    else:
        counts_a = Counter(json.dumps(r, sort_keys=True) for r in as_dicts_a)
        counts_b = Counter(json.dumps(r, sort_keys=True) for r in as_dicts_b)
        added = [json.loads(r) for r in (counts_b - counts_a).elements()]
        removed = [json.loads(r) for r in (counts_a - counts_b).elements()]
    if not (added or removed or changed or "columns" in result):
        return None
    result["counts"] = {"added": len(added), "removed": len(removed), "changed": len(changed)}
    result["added"] = added[:LIST_LIMIT]
    result["removed"] = removed[:LIST_LIMIT]
    result["changed"] = changed[:LIST_LIMIT]
    return result


# -- Redis --------------------------------------------------------------------------------------


def ttl_changed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether a key's expiry was changed between two captures ``a`` and ``b``.

    Unchanged when the expiry time is the same (time passed, nobody touched it), or when
    the remaining time fits the same TTL set again at some moment between the captures
    (a restore, or code that refreshes the TTL with the same value).
    """
    ttl_a, ttl_b = a.get("ttl_ms"), b.get("ttl_ms")
    if (ttl_a is None) != (ttl_b is None):
        return True
    if ttl_a is None or ttl_b is None:
        return False
    expiry_a, expiry_b = a.get("expires_at_ms") or 0, b.get("expires_at_ms") or 0
    if abs(expiry_a - expiry_b) <= TTL_TOLERANCE_MS:
        return False
    elapsed = max(0, (expiry_b - ttl_b) - (expiry_a - ttl_a))
    return not (ttl_a - elapsed - TTL_TOLERANCE_MS <= ttl_b <= ttl_a + TTL_TOLERANCE_MS)


def diff_redis(a: Path, b: Path) -> dict[str, Any]:
    keys_a = {e["key"]: e for e in _read_jsonl(a / "keys.jsonl")}
    keys_b = {e["key"]: e for e in _read_jsonl(b / "keys.jsonl")}
    added = [keys_b[k] for k in sorted(keys_b.keys() - keys_a.keys())]
    removed = [keys_a[k] for k in sorted(keys_a.keys() - keys_b.keys())]
    changed = []
    for key in sorted(keys_a.keys() & keys_b.keys()):
        before, after = keys_a[key], keys_b[key]
        what = [
            name
            for name, differs in (
                ("type", before["type"] != after["type"]),
                ("value", before["value"] != after["value"]),
                ("ttl", ttl_changed(before, after)),
            )
            if differs
        ]
        if what:
            changed.append({"key": key, "what": what, "before": before, "after": after})
    return {
        "changed": bool(added or removed or changed),
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)},
        "added": added[:LIST_LIMIT],
        "removed": removed[:LIST_LIMIT],
        "changed_keys": changed[:LIST_LIMIT],
    }


# -- text ---------------------------------------------------------------------------------------


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_diff(result: dict[str, Any]) -> str:
    """The human-readable form of :func:`envctl.snapshot.diff`'s result."""
    lines = [f"{result['from']} -> {result['to']}"]
    services = result["services"]
    unchanged = [name for name, s in services.items() if not s.get("changed")]
    for name, service in services.items():
        if not service.get("changed"):
            continue
        lines.append(f"{name} ({service['type']}):")
        kind = service["type"]
        if service.get("status") in ("added", "removed"):
            lines.append(f"  service {service['status']}")
        elif kind == "kafka":
            lines += _format_kafka(service)
        elif kind == "postgres":
            lines += _format_postgres(service)
        elif kind == "redis":
            lines += _format_redis(service)
        elif registry.is_registered(kind):
            lines += registry.plugin_for(kind).format_snapshot_diff(service)
    if unchanged:
        lines.append(f"unchanged: {', '.join(unchanged)}")
    if not any(s.get("changed") for s in services.values()):
        lines.append("no differences")
    return "\n".join(lines)


def _format_message(m: dict[str, Any]) -> str:
    return (
        f"[{m['partition']}]@{m['offset']} key={_short(m.get('key'), 40)} "
        f"value={_short(m.get('value'))}"
    )


def _format_kafka(service: dict[str, Any]) -> list[str]:
    lines = []
    for topic, info in service["topics"].items():
        if info["status"] == "added":
            lines.append(f"  topic {topic}: added, {info['messages']} messages")
            lines += [f"    + {_format_message(m)}" for m in info["new"][:10]]
            continue
        if info["status"] == "removed":
            lines.append(f"  topic {topic}: removed")
            continue
        moves = ", ".join(
            f"partition {p}: end {v['end'][0]} -> {v['end'][1]}"
            + (
                f", start {v['start'][0]} -> {v['start'][1]}"
                if v["start"][0] != v["start"][1]
                else ""
            )
            for p, v in info["partitions"].items()
        )
        lines.append(f"  topic {topic}: {info['new_messages']} new messages ({moves})")
        lines += [f"    + {_format_message(m)}" for m in info["new"][:10]]
        if info["new_messages"] > 10:
            lines.append(f"    … {info['new_messages'] - 10} more")
        for c in info["changed"][:10]:
            lines.append(
                f"    ~ {_format_message(c['before'])} -> value={_short(c['after'].get('value'))}"
            )
        if info["gone"]:
            lines.append(f"    - {info['gone']} messages no longer in the log")
    for group, info in service["groups"].items():
        moves = ", ".join(f"{tp} {v[0]} -> {v[1]}" for tp, v in info["offsets"].items())
        lines.append(f"  group {group}: {info['status']}{': ' + moves if moves else ''}")
    return lines


def _format_postgres(service: dict[str, Any]) -> list[str]:
    lines = []
    for database, info in service["databases"].items():
        if info["status"] != "changed":
            lines.append(f"  database {database}: {info['status']}")
            continue
        lines.append(f"  database {database}:")
        for table, t in info["tables"].items():
            rows = f"{t['rows'][0]} -> {t['rows'][1]} rows"
            if t["status"] != "changed":
                lines.append(f"    table {table}: {t['status']} ({rows})")
                continue
            counts = t["counts"]
            parts = [f"{counts[k]} {k}" for k in ("added", "changed", "removed") if counts[k]]
            lines.append(f"    table {table}: {rows}: {', '.join(parts) or 'columns changed'}")
            if "columns" in t:
                lines.append(f"      columns {t['columns'][0]} -> {t['columns'][1]}")
            lines += [f"      + {_short(r, 160)}" for r in t["added"][:10]]
            for c in t["changed"][:10]:
                key = ", ".join(f"{k}={v}" for k, v in c["key"].items())
                changes = "; ".join(f"{col}: {v[0]} -> {v[1]}" for col, v in c["changes"].items())
                lines.append(f"      ~ {key}: {changes}")
            lines += [f"      - {_short(r, 160)}" for r in t["removed"][:10]]
            shown = (
                min(10, len(t["added"])) + min(10, len(t["changed"])) + min(10, len(t["removed"]))
            )
            total = sum(counts.values())
            if total > shown:
                lines.append(f"      … {total - shown} more rows")
    return lines


def _format_redis(service: dict[str, Any]) -> list[str]:
    lines = [f"  + {e['key']} ({e['type']}) {_short(e['value'])}" for e in service["added"]]
    lines += [f"  - {e['key']} ({e['type']})" for e in service["removed"]]
    for c in service["changed_keys"]:
        detail = ", ".join(c["what"])
        after = c["after"]
        lines.append(f"  ~ {c['key']} ({after['type']}) {detail}: {_short(after['value'])}")
    shown = len(service["added"]) + len(service["removed"]) + len(service["changed_keys"])
    total = sum(service["counts"].values())
    if total > shown:
        lines.append(f"  … {total - shown} more keys")
    return lines
