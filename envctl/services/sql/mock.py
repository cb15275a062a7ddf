"""The SQL double of the SQL types' mock mode: SQLite in memory behind the
:class:`~envctl.tools.protocols.SqlStore` protocol, taking the same parameters as the real
stores (:class:`~envctl.services.postgres.tool.PostgresStore`,
:class:`~envctl.services.mysql.tool.MysqlStore`: psycopg's and PyMySQL's style).

``%s`` placeholders become ``?`` and ``%(name)s`` become ``:name`` (outside string literals and
quoted names; ``%%`` is a literal ``%`` when parameters are given, as in psycopg). Statements
run in autocommit mode, like the real store. Without parameters, a string of several
statements runs them all and returns the last one's count and rows (as the real store does).
SQL must stay in the subset both databases understand (no
``SERIAL``, ``RETURNING`` needs SQLite 3.35+, types are loose in SQLite) — a scenario that
needs the real server itself should run in real mode.

All stores of one namespace share one connection (so they see the same tables), used under a
lock.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from envctl.tools.errors import SqlError, ToolClosed
from envctl.tools.faces import ensure_no_running_loop
from envctl.tools.mock_state import shared_state
from envctl.tools.protocols import AsyncSqlStore, SqlParams

_TOKEN = re.compile(
    r"""
    '(?:[^']|'')*'            # a string literal
  | "(?:[^"]|"")*"            # a quoted name
  | --[^\n]*                  # a line comment
  | /\*.*?\*/                 # a block comment
  | %%                        # a literal percent sign
  | %\((?P<name>[^)]+)\)s     # a named placeholder
  | %s                        # a positional placeholder
    """,
    re.VERBOSE | re.DOTALL,
)


_SPLIT = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|;""",
    re.DOTALL,
)
_TOKEN_OR_SPACE = re.compile(r"--[^\n]*|/\*.*?\*/|\s+", re.DOTALL)


def to_sqlite(sql: str, params: SqlParams) -> tuple[str, Sequence[Any] | Mapping[str, Any]]:
    """Rewrite psycopg placeholders for sqlite3; returns the statement and its parameters."""
    if params is None:
        return sql, ()
    named = isinstance(params, Mapping)
    kinds: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "%%":
            return "%"
        if match.group("name") is not None:
            kinds.add("named")
            return f":{match.group('name')}"
        if token == "%s":
            kinds.add("positional")
            return "?"
        return token

    rewritten = _TOKEN.sub(replace, sql)
    if ("named" in kinds and not named) or ("positional" in kinds and named):
        raise SqlError(
            sql,
            "placeholders and parameters do not match: %s takes a sequence, "
            "%(name)s takes a mapping",
        )
    if named:
        return rewritten, dict(params)
    return rewritten, list(params)


def split_statements(sql: str) -> list[str]:
    """The statements of ``sql``, split at semicolons outside literals and comments."""
    statements: list[str] = []
    start = 0
    for match in _SPLIT.finditer(sql):
        if match.group(0) == ";":
            statements.append(sql[start : match.start()])
            start = match.end()
    statements.append(sql[start:])
    return [s for s in statements if _TOKEN_OR_SPACE.sub("", s).strip()]


_FILE_PRAGMAS = frozenset({"temp_store_directory", "data_store_directory"})
_VACUUM = re.compile(r"^\s*vacuum\b", re.IGNORECASE)


def _authorize(action: int, arg1: str | None, _arg2: str | None, _db: str | None, _t: Any) -> int:
    """The double stays in memory: statements that reach the file system (ATTACH a
    database file, DETACH, PRAGMAs naming directories, extensions) are refused."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in _FILE_PRAGMAS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (_arg2 or "").lower() == "load_extension":
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class _Database:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.connection.set_authorizer(_authorize)

    def close(self) -> None:
        with self.lock:
            self.connection.close()


class SqliteSqlStore:
    """The sync face of the in-memory SQL store (see the module docstring)."""

    requires_registry = False

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace
        self._database: _Database = shared_state("sql", namespace, _Database)
        self._closed = False
        self._aio: AsyncSqliteSqlStore | None = None

    def __repr__(self) -> str:
        return f"SqliteSqlStore(namespace={self.namespace!r})"

    def execute(self, sql: str, params: SqlParams = None) -> int:
        ensure_no_running_loop(self, "execute")
        return self._execute(sql, params)

    def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]:
        ensure_no_running_loop(self, "query")
        return self._query(sql, params)

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        self._closed = True

    @property
    def aio(self) -> AsyncSqlStore:
        """The async face, sharing this store's database."""
        if self._aio is None:
            self._aio = AsyncSqliteSqlStore._wrap(self)
        return self._aio

    # -- the work, shared by both faces ----------------------------------------------------------
    def _run(self, sql: str, params: SqlParams) -> tuple[int, list[dict[str, Any]] | None]:
        if self._closed:
            raise ToolClosed(f"{self!r} is closed")
        statement, values = to_sqlite(sql, params)
        # Without parameters a string may hold several statements: run each, the last counts.
        statements = split_statements(statement) if params is None else [statement]
        result: tuple[int, list[dict[str, Any]] | None] = (-1, None)
        with self._database.lock:
            for one in statements or [statement]:
                result = self._run_one(sql, one, values)
        return result

    def _run_one(
        self, sql: str, statement: str, values: Sequence[Any] | Mapping[str, Any]
    ) -> tuple[int, list[dict[str, Any]] | None]:
        if _VACUUM.match(statement):  # VACUUM INTO 'file' writes a file; no authorizer code
            raise SqlError(sql, "VACUUM is not supported by the in-memory SQL store")
        try:
            cursor = self._database.connection.execute(statement, values)
        except sqlite3.DatabaseError as exc:
            if "not authorized" in str(exc):
                raise SqlError(
                    sql,
                    "not allowed in the in-memory SQL store (it never touches files: "
                    "ATTACH/DETACH, VACUUM and file PRAGMAs are refused)",
                ) from None
            raise SqlError(sql, str(exc)) from None
        except (sqlite3.Error, OverflowError, ValueError) as exc:
            raise SqlError(sql, str(exc)) from None
        try:
            if cursor.description is None:
                return cursor.rowcount, None
            names = [column[0] for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            return len(rows), rows
        except sqlite3.Error as exc:
            raise SqlError(sql, str(exc)) from None
        finally:
            cursor.close()

    def _execute(self, sql: str, params: SqlParams) -> int:
        return self._run(sql, params)[0]

    def _query(self, sql: str, params: SqlParams) -> list[dict[str, Any]]:
        return self._run(sql, params)[1] or []


class AsyncSqliteSqlStore:
    """The async face of :class:`SqliteSqlStore`: statements run in a worker thread (a long
    statement, or another thread holding the database, never stalls the loop)."""

    requires_registry = False

    def __init__(self, namespace: str = "") -> None:
        self._sync = SqliteSqlStore(namespace)

    @classmethod
    def _wrap(cls, store: SqliteSqlStore) -> AsyncSqliteSqlStore:
        face = cls.__new__(cls)
        face._sync = store
        return face

    async def execute(self, sql: str, params: SqlParams = None) -> int:
        return await asyncio.to_thread(self._sync._execute, sql, params)

    async def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._sync._query, sql, params)

    async def close(self) -> None:
        self._sync._closed = True
