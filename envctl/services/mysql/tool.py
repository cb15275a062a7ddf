"""The real SQL store for MySQL and MariaDB, through PyMySQL.

The same :class:`~envctl.tools.protocols.SqlStore` protocol as
:class:`~envctl.services.postgres.tool.PostgresStore`: ``execute`` returns the row count,
``query`` the rows as dicts; parameters in PyMySQL's (and psycopg's) style, ``%s`` with a
sequence or ``%(name)s`` with a mapping, ``%%`` a literal ``%`` when parameters are given;
autocommit; several statements in one string (without parameters) all run and the last one's
count and rows are returned. Errors are :class:`~envctl.tools.errors.SqlError` (a statement
failed) and :class:`~envctl.tools.errors.StoreError` (no connection). Constructing a store
does not connect.

Faces: :class:`MysqlStore` is the sync face (one connection, used under a lock); ``store.aio``
(or :class:`AsyncMysqlStore`, built with the same arguments) is the async face. PyMySQL has no
async API, so the async face runs each call in a worker thread on a connection of its own
(one per event loop) and never blocks the loop. The sync face inside a running event loop
raises :class:`~envctl.tools.errors.SyncCallInEventLoop`. Closing either face closes the store.

Statement timeout: ``statement_timeout`` seconds per statement, enforced by the server where it
can (MySQL ``max_execution_time``, SELECT only; MariaDB ``max_statement_time``, every
statement) and always by the client (the socket's read timeout, after which the connection
is dropped and the next call reconnects).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any
from urllib.parse import unquote, urlsplit

from envctl.services.mysql.client import one_line
from envctl.services.sql.store import AsyncSqlServerStore, Result, SqlServerStore
from envctl.tools.errors import SqlError, StoreError
from envctl.tools.faces import registry_building, warn_unless_registry
from envctl.tools.protocols import SqlParams

DEFAULT_STATEMENT_TIMEOUT = 60.0


def _where(url: str) -> str:
    """host:port/database of a URL, without credentials."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 3306}/{parts.path.lstrip('/')}"
    except ValueError:
        return "the configured server"


def _open(url: str, connect_timeout: float, statement_timeout: float, ssl: bool) -> Any:
    """A PyMySQL connection (autocommit, dict rows, several statements per string)."""
    import pymysql
    from pymysql.constants import CLIENT

    parts = urlsplit(url)
    database = unquote(parts.path.lstrip("/"))
    try:
        connection = pymysql.connect(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            database=database or None,
            charset="utf8mb4",
            autocommit=True,
            cursorclass=pymysql.cursors.DictCursor,
            client_flag=CLIENT.MULTI_STATEMENTS,
            connect_timeout=max(1, math.ceil(connect_timeout)),
            # the client's bound on every statement; the server's is set below
            read_timeout=max(1, math.ceil(statement_timeout)) + 1,
            write_timeout=max(1, math.ceil(statement_timeout)) + 1,
            ssl={"check_hostname": True} if ssl else None,
        )
    except pymysql.err.MySQLError as exc:
        raise StoreError(f"cannot connect to MySQL at {_where(url)}: {one_line(exc)}") from None
    try:
        with connection.cursor() as cursor:
            mariadb = "mariadb" in str(connection.get_server_info()).lower()
            if mariadb:
                cursor.execute("SET SESSION max_statement_time = %s", (float(statement_timeout),))
            else:
                ms = max(1, int(statement_timeout * 1000))
                cursor.execute("SET SESSION max_execution_time = %s", (ms,))
    except pymysql.err.MySQLError:
        pass  # a server without either setting: the client's read timeout still bounds it
    return connection


def _run_on(connection: Any, sql: str, params: SqlParams) -> Result:
    import pymysql

    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while True:  # several statements: the last one's result counts
                rows = [dict(r) for r in cursor.fetchall()] if cursor.description else []
                count = len(rows) if cursor.description else cursor.rowcount
                if not cursor.nextset():
                    return count, rows
    except pymysql.err.OperationalError as exc:
        if exc.args and exc.args[0] in (2006, 2013, 2055):  # the connection was lost
            connection.close()
        raise SqlError(sql, one_line(exc)) from None
    except (pymysql.err.MySQLError, TypeError, ValueError, KeyError) as exc:
        # TypeError/ValueError/KeyError: placeholders and parameters do not match
        raise SqlError(sql, one_line(exc)) from None


class MysqlStore(SqlServerStore):
    """The sync face of the real MySQL store (see the module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        ssl: bool = False,
    ) -> None:
        warn_unless_registry(type(self).__name__)
        self.url = url
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.ssl = ssl
        super().__init__()

    def _address(self) -> str:
        return _where(self.url)

    # -- the work ------------------------------------------------------------------------------
    def _async_face(self) -> AsyncMysqlStore:
        return AsyncMysqlStore._wrap(self)

    def _open(self) -> Any:
        return _open(self.url, self.connect_timeout, self.statement_timeout, self.ssl)

    def _run(self, sql: str, params: SqlParams) -> Result:
        with self._lock:
            self._check_open()
            if self._connection is None or not self._connection.open:
                self._connection = self._open()
            return _run_on(self._connection, sql, params)

    def _close_connection(self, connection: Any) -> None:
        if connection.open:
            connection.close()


class AsyncMysqlStore(AsyncSqlServerStore[MysqlStore]):
    """The async face of :class:`MysqlStore`: calls run in a worker thread, on a connection
    of this event loop's own."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 10.0,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT,
        ssl: bool = False,
    ) -> None:
        warn_unless_registry(type(self).__name__)
        with registry_building():  # warned once, for this class
            store = MysqlStore(
                url,
                connect_timeout=connect_timeout,
                statement_timeout=statement_timeout,
                ssl=ssl,
            )
        self._adopt(store)

    # -- the work ------------------------------------------------------------------------------
    def _forget(self) -> None:
        """The store closed: close every loop's connection."""
        for connection in list(self._connections.values()):
            if connection.open:
                connection.close()
        self._connections.clear()

    async def _close_connection(self, connection: Any) -> None:
        if connection.open:
            await asyncio.to_thread(connection.close)

    async def _run(self, sql: str, params: SqlParams) -> Result:
        self._store._check_open()
        loop = asyncio.get_running_loop()
        lock = self._locks.setdefault(loop, asyncio.Lock())
        async with lock:  # one statement at a time on this loop's connection
            connection = self._connections.get(loop)
            if connection is None or not connection.open:
                connection = await asyncio.to_thread(self._store._open)
                self._connections[loop] = connection
            return await asyncio.to_thread(_run_on, connection, sql, params)
