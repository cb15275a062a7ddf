"""The skeleton of a real SQL store, both faces: what PostgreSQL's and MySQL's stores do
alike around their drivers.

The sync face (:class:`SqlServerStore`) holds one connection used under a lock, refuses to run
inside an event loop, and hands out its async face as ``store.aio``; the async face
(:class:`AsyncSqlServerStore`) keeps a connection per event loop. Closing either face closes
the store. Each type fills in how a connection is opened, how a statement runs on it and how
it is closed (``_run``, ``_async_face``, ``_close_connection``; on the async face ``_run`` and
``_close_connection``), and says where the server is (``_address``) for messages.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Generic, Self, TypeVar

from envctl.tools.errors import ToolClosed
from envctl.tools.faces import ensure_no_running_loop
from envctl.tools.protocols import AsyncSqlStore, SqlParams

Result = tuple[int, list[dict[str, Any]]]
"""A statement's row count and rows."""


class SqlServerStore(ABC):
    """The sync face of a real SQL store (see the module docstring). A subclass's
    ``__init__`` warns unless the registry builds it, sets its address and timeouts, then
    calls this one."""

    requires_registry: ClassVar[bool] = True

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._connection: Any = None
        self._closed = False
        self._aio: AsyncSqlServerStore[Any] | None = None

    @abstractmethod
    def _address(self) -> str:
        """host:port/database of the server, without credentials."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._address()!r})"

    def execute(self, sql: str, params: SqlParams = None) -> int:
        ensure_no_running_loop(self, "execute")
        return self._run(sql, params)[0]

    def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]:
        ensure_no_running_loop(self, "query")
        return self._run(sql, params)[1]

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        self._close()

    @property
    def aio(self) -> AsyncSqlStore:
        """The async face (its own connection per event loop; closing it closes the store)."""
        with self._lock:
            if self._aio is None:
                self._aio = self._async_face()
            return self._aio

    # -- the work ------------------------------------------------------------------------------
    @abstractmethod
    def _async_face(self) -> AsyncSqlServerStore[Any]:
        """The type's async face over this store (``AsyncXStore._wrap(self)``)."""

    @abstractmethod
    def _run(self, sql: str, params: SqlParams) -> Result:
        """Run ``sql`` on the store's connection (opened when there is none), under the lock."""

    def _close_connection(self, connection: Any) -> None:
        connection.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ToolClosed(f"{self!r} is closed")

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
        if connection is not None:
            self._close_connection(connection)
        if self._aio is not None:
            self._aio._forget()


StoreT = TypeVar("StoreT", bound=SqlServerStore)


class AsyncSqlServerStore(ABC, Generic[StoreT]):
    """The async face of a :class:`SqlServerStore`: a connection of each event loop's own
    (``_connections``) and a lock per loop (``_locks``). A subclass's ``__init__`` warns
    unless the registry builds it, builds its sync store under ``registry_building()`` and
    calls :meth:`_adopt`."""

    requires_registry: ClassVar[bool] = True

    def _adopt(self, store: StoreT) -> None:
        """This face is ``store``'s async face."""
        self._setup(store)
        store._aio = self

    @classmethod
    def _wrap(cls, store: StoreT) -> Self:
        face = cls.__new__(cls)
        face._setup(store)
        return face

    def _setup(self, store: StoreT) -> None:
        self._store = store
        self._connections: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._store._address()!r})"

    async def execute(self, sql: str, params: SqlParams = None) -> int:
        return (await self._run(sql, params))[0]

    async def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]:
        return (await self._run(sql, params))[1]

    async def close(self) -> None:
        connection = self._connections.pop(asyncio.get_running_loop(), None)
        if connection is not None:
            await self._close_connection(connection)
        await asyncio.to_thread(self._store._close)

    # -- the work ------------------------------------------------------------------------------
    @abstractmethod
    async def _run(self, sql: str, params: SqlParams) -> Result:
        """Run ``sql`` on this loop's connection (opened when there is none)."""

    @abstractmethod
    async def _close_connection(self, connection: Any) -> None:
        """Close one loop's connection."""

    def _forget(self) -> None:
        """The store closed: drop every loop's connection (their sockets close with them)."""
        self._connections.clear()
