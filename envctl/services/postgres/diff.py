"""What changed between two snapshots of a PostgreSQL service, from their files alone
(pure): per database and table the row counts and the rows added, removed and changed
(matched by primary key; tables without one are compared as multisets of rows)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from envctl.services.postgres.pgdump import copy_blocks, decode_row
from envctl.snapshot.compare import LIST_LIMIT, read_json, short


def _tables_of(dump_path: Path) -> dict[str, tuple[list[str], list[tuple[str | None, ...]]]]:
    if not dump_path.exists():
        return {}
    dump = dump_path.read_text(encoding="utf-8")
    return {
        table: (columns, [decode_row(r) for r in rows])
        for table, columns, rows in copy_blocks(dump)
    }


def diff_postgres(a: Path, b: Path) -> dict[str, Any]:
    info_a = read_json(a / "tables.json", {"databases": {}})["databases"]
    info_b = read_json(b / "tables.json", {"databases": {}})["databases"]
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


def format_diff(service: dict[str, Any]) -> list[str]:
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
            lines += [f"      + {short(r, 160)}" for r in t["added"][:10]]
            for c in t["changed"][:10]:
                key = ", ".join(f"{k}={v}" for k, v in c["key"].items())
                changes = "; ".join(f"{col}: {v[0]} -> {v[1]}" for col, v in c["changes"].items())
                lines.append(f"      ~ {key}: {changes}")
            lines += [f"      - {short(r, 160)}" for r in t["removed"][:10]]
            shown = (
                min(10, len(t["added"])) + min(10, len(t["changed"])) + min(10, len(t["removed"]))
            )
            total = sum(counts.values())
            if total > shown:
                lines.append(f"      … {total - shown} more rows")
    return lines
