"""What changed between two snapshots of a SQL service, from their files alone (pure): per
database and table the row counts and the rows added, removed and changed (matched by
primary key; tables without one are compared as multisets of rows).

Both SQL types write ``tables.json`` (per logical database its tables with columns, primary
key and row count); where the rows are read from is each type's own (PostgreSQL's
``pg_dump`` COPY blocks, MySQL's ``<database>.rows.json``), passed in as ``read_rows``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envctl.services.sql.snapshot import TABLES_FILE
from envctl.snapshot.compare import LIST_LIMIT, read_json, short

TableRows = tuple[list[str], Sequence[Sequence[Any]]]
"""A table's columns and rows, as a snapshot holds them."""

RowReader = Callable[[Path, str], Mapping[str, TableRows]]
"""The rows of one logical database of a snapshot folder, by table."""


def diff(a: Path, b: Path, read_rows: RowReader) -> dict[str, Any]:
    """What changed from snapshot folder ``a`` to ``b`` (see the module docstring)."""
    info_a = read_json(a / TABLES_FILE, {"databases": {}})["databases"]
    info_b = read_json(b / TABLES_FILE, {"databases": {}})["databases"]
    databases: dict[str, Any] = {}
    for database in sorted(set(info_a) | set(info_b)):
        if database not in info_a or database not in info_b:
            databases[database] = {"status": "added" if database in info_b else "removed"}
            continue
        meta_a, meta_b = info_a[database]["tables"], info_b[database]["tables"]
        data_a, data_b = read_rows(a, database), read_rows(b, database)
        tables: dict[str, Any] = {}
        for table in sorted(set(meta_a) | set(meta_b)):
            own_a, own_b = meta_a.get(table) or meta_b[table], meta_b.get(table) or meta_a[table]
            columns_a, rows_a = data_a.get(table, (own_a["columns"], []))
            columns_b, rows_b = data_b.get(table, (own_b["columns"], []))
            if table not in meta_a:
                tables[table] = {
                    "status": "added",
                    "rows": [0, len(rows_b)],
                    "added": [dict(zip(columns_b, r, strict=False)) for r in rows_b[:LIST_LIMIT]],
                    "counts": {"added": len(rows_b), "removed": 0, "changed": 0},
                }
            elif table not in meta_b:
                tables[table] = {"status": "removed", "rows": [len(rows_a), 0]}
            else:
                key = meta_b[table]["primary_key"]
                change = diff_rows(columns_a, rows_a, columns_b, rows_b, key)
                if change is not None:
                    tables[table] = change
        if tables:
            databases[database] = {"status": "changed", "tables": tables}
    return {"changed": bool(databases), "databases": databases}


def diff_rows(
    columns_a: list[str],
    rows_a: Sequence[Sequence[Any]],
    columns_b: list[str],
    rows_b: Sequence[Sequence[Any]],
    key: list[str],
) -> dict[str, Any] | None:
    """One table's changes, or None when it did not change. Rows changed in place are
    listed in the order of their primary key values."""
    result: dict[str, Any] = {"status": "changed", "rows": [len(rows_a), len(rows_b)]}
    if columns_a != columns_b:
        result["columns"] = [columns_a, columns_b]
    dicts_a = [dict(zip(columns_a, r, strict=False)) for r in rows_a]
    dicts_b = [dict(zip(columns_b, r, strict=False)) for r in rows_b]
    added: list[dict[str, Any]]
    removed: list[dict[str, Any]]
    changed: list[dict[str, Any]] = []
    if key and all(k in columns_a and k in columns_b for k in key):
        keyed_a = {json.dumps([r[k] for k in key]): r for r in dicts_a}
        keyed_b = {json.dumps([r[k] for k in key]): r for r in dicts_b}
        added = [row for k, row in keyed_b.items() if k not in keyed_a]
        removed = [row for k, row in keyed_a.items() if k not in keyed_b]
        for k in sorted(keyed_a.keys() & keyed_b.keys()):
            before, after = keyed_a[k], keyed_b[k]
            if before != after:
                changes = {
                    c: [before.get(c), after.get(c)]
                    for c in dict.fromkeys([*before, *after])
                    if before.get(c) != after.get(c)
                }
                changed.append(
                    {"key": {c: after[c] for c in key}, "changes": changes, "row": after}
                )
    else:
        counts_a = Counter(json.dumps(r, sort_keys=True) for r in dicts_a)
        counts_b = Counter(json.dumps(r, sort_keys=True) for r in dicts_b)
        added = [json.loads(r) for r in (counts_b - counts_a).elements()]
        removed = [json.loads(r) for r in (counts_a - counts_b).elements()]
    if not (added or removed or changed or "columns" in result):
        return None
    result["counts"] = {"added": len(added), "removed": len(removed), "changed": len(changed)}
    result["added"] = added[:LIST_LIMIT]
    result["removed"] = removed[:LIST_LIMIT]
    result["changed"] = changed[:LIST_LIMIT]
    return result


def format_diff(result: Mapping[str, Any]) -> list[str]:
    """:func:`diff`'s result as indented text lines."""
    lines: list[str] = []
    for database, info in result.get("databases", {}).items():
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
            shown = sum(min(10, len(t[k])) for k in ("added", "changed", "removed"))
            total = sum(counts.values())
            if total > shown:
                lines.append(f"      … {total - shown} more rows")
    return lines
