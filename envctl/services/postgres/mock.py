"""The double of ``type: postgres`` in mock mode: the SQL double, SQLite in memory
(:class:`~envctl.services.sql.mock.SqliteSqlStore`, shared with ``type: mysql``), and how a
seed file goes into it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from envctl.errors import SeedError
from envctl.seed.records import read_seed_text
from envctl.services.sql.mock import AsyncSqliteSqlStore, SqliteSqlStore

__all__ = ["AsyncSqliteSqlStore", "SqliteSqlStore", "seed_double"]


def seed_double(store: Any, seed: Any, path: Path, service: str) -> None:
    """Run a seed SQL file, or insert a CSV file's rows, in the double."""
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
