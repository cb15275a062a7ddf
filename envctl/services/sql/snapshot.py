"""The snapshot file both SQL types write beside their dumps: ``tables.json``, per logical
database its physical name and its tables (columns, primary key, row count), plus what a
type keeps there of its own (PostgreSQL's template database for a fast restore)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envctl.errors import SnapshotError

TABLES_FILE = "tables.json"
"""``{"databases": {logical: {"physical": ..., "tables": {name: {...}}, ...}}}``."""


def write_tables(target: Path, databases: dict[str, Any]) -> dict[str, Any]:
    """Write ``tables.json``; returns the snapshot's details (counts of databases, tables
    and rows) for its manifest."""
    (target / TABLES_FILE).write_text(json.dumps({"databases": databases}, indent=2) + "\n")
    tables = [t for d in databases.values() for t in d["tables"].values()]
    return {
        "databases": len(databases),
        "tables": len(tables),
        "rows": sum(t["rows"] for t in tables),
    }


def read_tables(source: Path) -> dict[str, Any]:
    """The databases of a snapshot's ``tables.json`` (for a restore: it must be there)."""
    try:
        databases: dict[str, Any] = json.loads((source / TABLES_FILE).read_text(encoding="utf-8"))[
            "databases"
        ]
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise SnapshotError(f"cannot read {source / TABLES_FILE}: {exc}") from None
    return databases
