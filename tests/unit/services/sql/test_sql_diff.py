"""The row diff both SQL types' snapshots share (envctl/services/sql/diff.py), read through a
reader of each type's own row files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envctl.services.sql.diff import TableRows, diff, format_diff
from envctl.services.sql.snapshot import TABLES_FILE


def _snapshot(folder: Path, tables: dict[str, dict[str, Any]]) -> Path:
    folder.mkdir(parents=True)
    info = {
        name: {"columns": t["columns"], "primary_key": t.get("key", []), "rows": len(t["rows"])}
        for name, t in tables.items()
    }
    (folder / TABLES_FILE).write_text(json.dumps({"databases": {"main": {"tables": info}}}))
    (folder / "rows.json").write_text(json.dumps(tables))
    return folder


def _rows(folder: Path, database: str) -> dict[str, TableRows]:
    assert database == "main"
    tables = json.loads((folder / "rows.json").read_text())
    return {name: (t["columns"], t["rows"]) for name, t in tables.items()}


def test_rows_by_key_multisets_without_one_and_tables_added_and_removed(tmp_path: Path) -> None:
    a = _snapshot(
        tmp_path / "a",
        {
            "t": {"columns": ["id", "v"], "key": ["id"], "rows": [[1, "x"], [2, "y"]]},
            "log": {"columns": ["line"], "rows": [["a"], ["a"]]},
            "gone": {"columns": ["id"], "rows": [[1]]},
        },
    )
    b = _snapshot(
        tmp_path / "b",
        {
            "t": {"columns": ["id", "v"], "key": ["id"], "rows": [[1, "X"], [3, "z"]]},
            "log": {"columns": ["line"], "rows": [["a"]]},
            "new": {"columns": ["id"], "rows": [[7]]},
        },
    )
    result = diff(a, b, _rows)
    tables = result["databases"]["main"]["tables"]
    assert tables["t"]["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert tables["t"]["changed"] == [
        {"key": {"id": 1}, "changes": {"v": ["x", "X"]}, "row": {"id": 1, "v": "X"}}
    ]
    assert tables["log"]["removed"] == [{"line": "a"}]
    assert tables["gone"] == {"status": "removed", "rows": [1, 0]}
    assert tables["new"]["added"] == [{"id": 7}]
    assert format_diff(result) == [
        "  database main:",
        "    table gone: removed (1 -> 0 rows)",
        "    table log: 2 -> 1 rows: 1 removed",
        '      - {"line": "a"}',
        "    table new: added (0 -> 1 rows)",
        "    table t: 2 -> 2 rows: 1 added, 1 changed, 1 removed",
        '      + {"id": 3, "v": "z"}',
        "      ~ id=1: v: x -> X",
        '      - {"id": 2, "v": "y"}',
    ]
    assert diff(a, a, _rows) == {"changed": False, "databases": {}}


def test_changed_rows_are_listed_in_primary_key_order(tmp_path: Path) -> None:
    # the key's columns in their key order (b before a), not by column name
    key = ["b", "a"]
    before = [[1, 2, "old"], [2, 1, "old"], [1, 1, "old"]]
    after = [[a, b, "new"] for a, b, _ in before]
    a = _snapshot(tmp_path / "a", {"t": {"columns": ["a", "b", "v"], "key": key, "rows": before}})
    b = _snapshot(tmp_path / "b", {"t": {"columns": ["a", "b", "v"], "key": key, "rows": after}})
    changed = diff(a, b, _rows)["databases"]["main"]["tables"]["t"]["changed"]
    assert [c["key"] for c in changed] == [
        {"b": 1, "a": 1},
        {"b": 1, "a": 2},
        {"b": 2, "a": 1},
    ]
