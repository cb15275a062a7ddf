"""The real SQL store: PostgreSQL through psycopg 3.

Faces: :class:`PostgresStore` is the sync face (one connection, autocommit, used under a
lock); ``store.aio`` (or :class:`AsyncPostgresStore`, built with the same arguments) is the
async face, on psycopg's native :class:`psycopg.AsyncConnection` — one per event loop, opened
on first use in that loop — so it never blocks the loop. The sync face called inside a running
event loop raises :class:`~envctl.tools.errors.SyncCallInEventLoop`. Closing either face
closes the store.

Parameters are psycopg's: ``%s`` with a sequence, ``%(name)s`` with a mapping. Several
statements in one string (only without parameters) all run; the last one's count and rows are
returned (psycopg itself would report the first's). Rows come back
as dicts with PostgreSQL's types (``Decimal``, ``datetime``, ...). Errors are
:class:`~envctl.tools.errors.SqlError` (a statement failed) and
:class:`~envctl.tools.errors.StoreError` (no connection). Constructing a store does not
connect.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import threading
from typing import Any

from envctl.services.sql.store import AsyncSqlServerStore, Result, SqlServerStore
from envctl.tools.errors import SqlError, StoreError
from envctl.tools.faces import registry_building, warn_unless_registry
from envctl.tools.protocols import SqlParams


def _where(dsn: str) -> str:
    """host:port/database of a DSN, without credentials."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - only for a message
        return "the configured server"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or 5432
    return f"{host}:{port}/{parts.get('dbname') or ''}"


def _cut(connection: Any) -> None:
    """Shut the connection's socket down under a statement that overran its time: the
    blocked read returns at once, even when the server is frozen (a paused container still
    ACKs TCP, so no socket timeout would fire, and it would not answer a cancel request)."""
    try:
        fd = connection.pgconn.socket
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError):  # already closed: nothing to cut
        pass


def _overran(dsn: str, sql: str, seconds: float) -> StoreError:
    return StoreError(
        f"PostgreSQL at {_where(dsn)} did not answer within {seconds:g}s "
        f"(timeout_profiles.<service>.setup) to: {' '.join(sql.split())[:120]}"
    )


def _connect_error(dsn: str, exc: Exception) -> StoreError:
    reason = " ".join(str(exc).split())
    return StoreError(f"cannot connect to PostgreSQL at {_where(dsn)}: {reason}")


class PostgresStore(SqlServerStore):
    """The sync face of the real SQL store (see the module docstring)."""

    def __init__(
        self, dsn: str, *, connect_timeout: float = 10.0, statement_timeout: float | None = None
    ) -> None:
        warn_unless_registry(type(self).__name__)
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout if statement_timeout else connect_timeout
        """Seconds one statement (with its results) may take; the connection is cut then."""
        super().__init__()

    def _address(self) -> str:
        return _where(self.dsn)

    # -- the work ------------------------------------------------------------------------------
    def _async_face(self) -> AsyncPostgresStore:
        return AsyncPostgresStore._wrap(self)

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        if self._connection is None or self._connection.closed:
            try:
                self._connection = psycopg.connect(
                    self.dsn,
                    autocommit=True,
                    row_factory=dict_row,
                    connect_timeout=max(1, math.ceil(self.connect_timeout)),
                )
            except psycopg.Error as exc:
                raise _connect_error(self.dsn, exc) from None
        return self._connection

    def _run(self, sql: str, params: SqlParams) -> Result:
        import psycopg

        with self._lock:
            self._check_open()
            connection = self._connect()
            watchdog = threading.Timer(self.statement_timeout, _cut, (connection,))
            watchdog.daemon = True
            watchdog.start()
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    while True:  # several statements: the last one's result counts
                        rows = [dict(r) for r in cursor.fetchall()] if cursor.description else []
                        count = cursor.rowcount
                        if not cursor.nextset():
                            return count, rows
            except psycopg.Error as exc:
                if watchdog.finished.is_set():  # the watchdog fired: it cut the connection
                    connection.close()
                    raise _overran(self.dsn, sql, self.statement_timeout) from None
                raise SqlError(sql, str(exc).strip()) from None
            finally:
                watchdog.cancel()


class AsyncPostgresStore(AsyncSqlServerStore[PostgresStore]):
    """The async face of :class:`PostgresStore` (psycopg's AsyncConnection)."""

    def __init__(
        self, dsn: str, *, connect_timeout: float = 10.0, statement_timeout: float | None = None
    ) -> None:
        warn_unless_registry(type(self).__name__)
        with registry_building():  # warned once, for this class
            store = PostgresStore(
                dsn, connect_timeout=connect_timeout, statement_timeout=statement_timeout
            )
        self._adopt(store)

    # -- the work ------------------------------------------------------------------------------
    async def _close_connection(self, connection: Any) -> None:
        await connection.close()

    async def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:
            connection = self._connections.get(loop)
            if connection is None or connection.closed:
                store = self._store
                try:
                    connection = await psycopg.AsyncConnection.connect(
                        store.dsn,
                        autocommit=True,
                        row_factory=dict_row,
                        connect_timeout=max(1, math.ceil(store.connect_timeout)),
                    )
                except psycopg.Error as exc:
                    raise _connect_error(store.dsn, exc) from None
                self._connections[loop] = connection
            return connection

    async def _run(self, sql: str, params: SqlParams) -> Result:
        import psycopg

        self._store._check_open()
        connection = await self._connect()
        seconds = self._store.statement_timeout
        cut = asyncio.get_running_loop().call_later(seconds, _cut, connection)
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql, params)
                while True:  # several statements: the last one's result counts
                    fetched = await cursor.fetchall() if cursor.description else []
                    count = cursor.rowcount
                    if not cursor.nextset():
                        return count, [dict(r) for r in fetched]
        except psycopg.Error as exc:
            if cut.when() <= asyncio.get_running_loop().time():
                await connection.close()
                raise _overran(self._store.dsn, sql, seconds) from None
            raise SqlError(sql, str(exc).strip()) from None
        finally:
            cut.cancel()
