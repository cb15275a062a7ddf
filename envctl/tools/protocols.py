"""What scenario code talks to: an event bus, a key-value store and a SQL store.

Each protocol has a **sync face** and an **async face** with the same method names:

==========================  ==============================  ===============================
protocol (sync / async)     real                            mock
==========================  ==============================  ===============================
EventBus / AsyncEventBus    KafkaEventBus / Async...        InMemoryEventBus / Async...
KeyValueStore / Async...    RedisStore / AsyncRedisStore    InMemoryKeyValueStore / Async...
SqlStore / AsyncSqlStore    PostgresStore / Async...        SqliteSqlStore / Async...
==========================  ==============================  ===============================

Naming of the async face: every sync tool has an ``aio`` property returning its async face
(``await bus.aio.publish(...)``); the async classes (``AsyncKafkaEventBus``, ...) can also be
built directly with the same constructor arguments. The async face never blocks the event
loop. A sync-face method called from inside a running event loop raises
:class:`~envctl.tools.errors.SyncCallInEventLoop` at once instead of blocking or deadlocking
the loop — in the real *and* the mock implementation, so a mocked test catches it too.

Values on the event bus: ``publish`` sends ``bytes`` as they are, ``str`` as UTF-8 (header
``content-type: text/plain; charset=utf-8``) and anything else as JSON (header
``content-type: application/json``). A consumed :class:`Message` decodes its value back: JSON
to objects, text to ``str``; a message without that header (produced by someone else) is
decoded as JSON when it is a JSON object or array, else as text when it is UTF-8, else left as
``bytes``.

Correlation ids: every published message carries a ``correlation_id`` header — the one given
in ``headers``, else the one of the enclosing
:func:`~envctl.tools.correlation.correlation_scope` (so a consume → produce chain carries the
id of the message being handled), else a new uuid4.

SQL parameters use psycopg's style in both implementations: ``%s`` (positional, ``params`` a
sequence) or ``%(name)s`` (named, ``params`` a mapping); write ``%%`` for a literal ``%``.
Statements run in autocommit mode. A string of several statements (only without parameters)
runs them all; ``execute`` and ``query`` answer for the last one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MessageValue = bytes | str | dict[str, Any] | list[Any] | int | float | bool | None
"""What ``publish`` accepts and what a consumed message's ``value`` decodes to."""

KeyValue = str | bytes | int | float
"""What a key-value store accepts as a value (it stores and returns strings)."""

SqlParams = Sequence[Any] | Mapping[str, Any] | None
"""``%s`` placeholders take a sequence, ``%(name)s`` placeholders a mapping."""

CORRELATION_HEADER = "correlation_id"
CONTENT_TYPE_HEADER = "content-type"


@dataclass(frozen=True)
class Delivery:
    """Where a published message landed."""

    topic: str
    partition: int
    offset: int
    correlation_id: str


@dataclass(frozen=True)
class Message:
    """A consumed message, its value decoded (see the module docstring)."""

    topic: str
    partition: int
    offset: int
    key: str | bytes | None
    value: Any
    headers: dict[str, str] = field(default_factory=dict)
    correlation_id: str | None = None
    timestamp: float = 0.0
    """Seconds since the epoch (UTC), as the broker recorded it."""


# -- event bus ---------------------------------------------------------------------------------
@runtime_checkable
class Subscription(Protocol):
    """Messages of a consumer group, as they arrive.

    Iterating yields messages until none arrives for the ``idle_timeout`` given to
    ``subscribe``. ``commit()`` commits everything yielded so far for the group. A context
    manager: leaving it closes the subscription (leaves the group).
    """

    def __iter__(self) -> Iterator[Message]: ...

    def __next__(self) -> Message: ...

    def poll(self, timeout: float = 1.0) -> Message | None:
        """The next message, or None when none arrives within ``timeout`` seconds."""
        ...

    def commit(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Subscription: ...

    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class AsyncSubscription(Protocol):
    """The async face of :class:`Subscription` (``async for message in sub``)."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    async def __anext__(self) -> Message: ...

    async def poll(self, timeout: float = 1.0) -> Message | None: ...

    async def commit(self) -> None: ...

    async def close(self) -> None: ...

    async def __aenter__(self) -> AsyncSubscription: ...

    async def __aexit__(self, *exc: object) -> None: ...


@runtime_checkable
class EventBus(Protocol):
    """Publish to and consume from topics (Kafka, or its in-memory double)."""

    def publish(
        self,
        topic: str,
        value: MessageValue,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        partition: int | None = None,
    ) -> Delivery:
        """Send one message and wait for the broker's acknowledgement."""
        ...

    def consume(
        self,
        topic: str,
        *,
        count: int = 1,
        timeout: float = 10.0,
        group: str | None = None,
        from_beginning: bool = True,
        to_end: bool = False,
    ) -> list[Message]:
        """Up to ``count`` messages of ``topic``, waiting at most ``timeout`` seconds.

        Returns fewer (possibly none) when the timeout passes first. Without ``group`` it
        reads without joining a group and commits nothing; with ``group`` it starts at the
        group's committed offsets and commits what it returns. ``from_beginning`` chooses
        where to start when there is no committed offset: the first message, or only
        messages published after the call. ``to_end`` returns as soon as every partition
        has been read to its end (what the topic holds now) instead of waiting for more.
        """
        ...

    def subscribe(
        self,
        topics: str | Sequence[str],
        group: str,
        *,
        from_beginning: bool = True,
        idle_timeout: float = 10.0,
    ) -> Subscription:
        """Join consumer group ``group`` on ``topics``; iterate the result for messages."""
        ...

    def create_topic(
        self,
        topic: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> None:
        """Create a topic (already existing is fine); ``cleanup`` deletes it again."""
        ...

    def list_consumer_groups(self) -> list[str]:
        """Ids of the consumer groups the broker knows, sorted."""
        ...

    def cleanup(self, *, topics: bool = True, groups: bool = True) -> None:
        """Delete the topics and consumer groups this bus created or used.

        Closes this bus's open subscriptions first (a group with members cannot be deleted).
        Allowed after :meth:`close` too; ``topics`` / ``groups`` choose what goes.
        """
        ...

    def close(self) -> None:
        """Flush pending messages and release connections. Safe to call twice."""
        ...

    @property
    def aio(self) -> AsyncEventBus:
        """The async face, sharing this bus's connections and bookkeeping."""
        ...


@runtime_checkable
class AsyncEventBus(Protocol):
    """The async face of :class:`EventBus`: the same methods, as coroutines."""

    async def publish(
        self,
        topic: str,
        value: MessageValue,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        partition: int | None = None,
    ) -> Delivery: ...

    async def consume(
        self,
        topic: str,
        *,
        count: int = 1,
        timeout: float = 10.0,
        group: str | None = None,
        from_beginning: bool = True,
        to_end: bool = False,
    ) -> list[Message]: ...

    async def subscribe(
        self,
        topics: str | Sequence[str],
        group: str,
        *,
        from_beginning: bool = True,
        idle_timeout: float = 10.0,
    ) -> AsyncSubscription: ...

    async def create_topic(
        self,
        topic: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> None: ...

    async def list_consumer_groups(self) -> list[str]: ...

    async def cleanup(self, *, topics: bool = True, groups: bool = True) -> None: ...

    async def close(self) -> None: ...


# -- key-value store ---------------------------------------------------------------------------
@runtime_checkable
class KeyValueStore(Protocol):
    """String keys and values with expiry, plus hashes (Redis, or its in-memory double).

    Values are stored as strings: ``set("n", 5)`` then ``get("n")`` returns ``"5"``.
    """

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None:
        """Set ``key``; with ``ttl`` (seconds) it expires afterwards."""
        ...

    def delete(self, *keys: str) -> int:
        """Delete keys; returns how many existed."""
        ...

    def keys(self, pattern: str = "*") -> list[str]:
        """Keys matching a Redis glob pattern, sorted."""
        ...

    def hgetall(self, key: str) -> dict[str, str]: ...

    def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        """Set fields of a hash; returns how many fields were new."""
        ...

    def close(self) -> None: ...

    @property
    def aio(self) -> AsyncKeyValueStore: ...


@runtime_checkable
class AsyncKeyValueStore(Protocol):
    """The async face of :class:`KeyValueStore`."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> int: ...

    async def keys(self, pattern: str = "*") -> list[str]: ...

    async def hgetall(self, key: str) -> dict[str, str]: ...

    async def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int: ...

    async def close(self) -> None: ...


# -- SQL store ---------------------------------------------------------------------------------
@runtime_checkable
class SqlStore(Protocol):
    """SQL statements in autocommit mode (PostgreSQL, or SQLite in memory)."""

    def execute(self, sql: str, params: SqlParams = None) -> int:
        """Run a statement; returns the number of rows it changed (or returned)."""
        ...

    def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]:
        """Run a query; returns its rows as dicts keyed by column name."""
        ...

    def close(self) -> None: ...

    @property
    def aio(self) -> AsyncSqlStore: ...


@runtime_checkable
class AsyncSqlStore(Protocol):
    """The async face of :class:`SqlStore`."""

    async def execute(self, sql: str, params: SqlParams = None) -> int: ...

    async def query(self, sql: str, params: SqlParams = None) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...
