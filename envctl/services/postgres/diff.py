"""What changed between two snapshots of a PostgreSQL service, from their files alone
(pure): :func:`envctl.services.sql.diff.diff`, the rows read from the COPY blocks of each
database's ``pg_dump``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envctl.services.postgres.pgdump import copy_blocks, decode_row
from envctl.services.sql import diff as sql_diff
from envctl.services.sql.diff import TableRows


def _tables_of(folder: Path, database: str) -> dict[str, TableRows]:
    dump_path = folder / f"{database}.sql"
    if not dump_path.exists():
        return {}
    dump = dump_path.read_text(encoding="utf-8")
    return {
        table: (columns, [decode_row(r) for r in rows])
        for table, columns, rows in copy_blocks(dump)
    }


def diff_postgres(a: Path, b: Path) -> dict[str, Any]:
    return sql_diff.diff(a, b, _tables_of)
