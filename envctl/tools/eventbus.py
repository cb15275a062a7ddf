"""What every event bus shares, whatever holds its messages: one home for the parts of the
:class:`~envctl.tools.protocols.EventBus` protocol the real bus and its double must not
implement twice.

- :class:`BaseEventBus` is the sync face, derived from the protocol. It does, for every
  method, what does not depend on the broker: the sync-in-loop guard
  (:func:`~envctl.tools.faces.ensure_no_running_loop`), the closed check, the encoding of
  values, keys and headers (:mod:`envctl.tools.codec`), the bookkeeping of the topics, groups
  and subscriptions the bus used (what ``cleanup`` deletes) and the ``aio`` property. Where
  messages live is left to a few hooks (``_send``, ``_read``, ``_join``, ``_create_topic``,
  ``_group_ids``, ``_delete``, ``_release``) that
  :class:`~envctl.services.kafka.tool.KafkaEventBus` fills in with confluent-kafka and
  :class:`~envctl.services.kafka.mock.InMemoryEventBus` in memory.
- :class:`BaseSubscription` gives a subscription its iteration and context manager.
- :class:`ThreadedAsyncEventBus` is the async face of such a bus, declared once for a sync
  class: ``class AsyncKafkaEventBus(ThreadedAsyncEventBus, sync=KafkaEventBus)`` makes
  ``KafkaEventBus(...).aio`` an ``AsyncKafkaEventBus`` and lets ``AsyncKafkaEventBus`` be
  built with ``KafkaEventBus``'s arguments.

The async faces run the sync calls in worker threads (:func:`asyncio.to_thread`): the client
library has no asyncio API (confluent-kafka), and the in-memory bus's ``consume`` waits on a
condition that another thread or task may satisfy. The event loop never blocks: each call runs
in the default executor, with the caller's context variables (so
:func:`~envctl.tools.correlation.correlation_scope` carries over).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
import time
import weakref
from abc import abstractmethod
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Concatenate, ParamSpec, TypeVar

from envctl.tools.codec import encode_key, encode_value, outgoing_headers
from envctl.tools.errors import EventBusError, ToolClosed
from envctl.tools.faces import ensure_no_running_loop, registry_building, warn_unless_registry
from envctl.tools.protocols import (
    AsyncEventBus,
    AsyncSubscription,
    Delivery,
    EventBus,
    Message,
    MessageValue,
    Subscription,
)

P = ParamSpec("P")
R = TypeVar("R")


def _topics_of(topics: str | Sequence[str]) -> list[str]:
    names = [topics] if isinstance(topics, str) else list(topics)
    if not names:
        raise ValueError("subscribe needs at least one topic")
    return names


class BaseEventBus(EventBus):
    """The sync face of an event bus, but for where its messages live (see the module)."""

    requires_registry: ClassVar[bool]
    _async_class: ClassVar[type[ThreadedAsyncEventBus]]
    """Set by the ``ThreadedAsyncEventBus`` subclass that names this class as ``sync``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._used_topics: set[str] = set()
        self._used_groups: set[str] = set()
        self._subscriptions: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self._closed = False
        self._aio: ThreadedAsyncEventBus | None = None

    # -- the hooks ---------------------------------------------------------------------------
    @property
    @abstractmethod
    def _cleanup_scope(self) -> str:
        """Where ``cleanup`` failed, in its error: ``on HOST:PORT``, ``of the bus 'ns'``."""

    @abstractmethod
    def _send(
        self,
        topic: str,
        data: bytes | None,
        key: bytes | None,
        headers: dict[str, str],
        partition: int | None,
    ) -> tuple[int, int]:
        """Store one encoded message and note the topic as used; (partition, offset)."""

    @abstractmethod
    def _read(
        self,
        topic: str,
        count: int,
        deadline: float,
        group: str | None,
        from_beginning: bool,
        to_end: bool,
    ) -> list[Message]:
        """``consume`` (``count`` at least 1; ``deadline`` on :func:`time.monotonic`)."""

    @abstractmethod
    def _join(
        self, topics: list[str], group: str, from_beginning: bool, idle_timeout: float
    ) -> Subscription:
        """A new member of ``group`` on ``topics``, once they exist (``subscribe``)."""

    @abstractmethod
    def _create_topic(self, topic: str, partitions: int, config: dict[str, str]) -> None: ...

    @abstractmethod
    def _group_ids(self) -> list[str]:
        """``list_consumer_groups``."""

    @abstractmethod
    def _delete(self, topics: list[str], groups: list[str]) -> list[str]:
        """Delete these topics and groups; what could not be deleted, one phrase each."""

    def _release(self) -> None:
        """Release clients once closed (after the subscriptions); nothing by default."""

    # -- shared ------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise ToolClosed(f"{self!r} is closed")

    def _note_use(self, topics: Iterable[str], group: str | None = None) -> None:
        """Remember topics and a group this bus used: ``cleanup`` deletes them."""
        with self._lock:
            self._used_topics.update(topics)
            if group is not None:
                self._used_groups.add(group)

    # -- the protocol ------------------------------------------------------------------------
    def publish(
        self,
        topic: str,
        value: MessageValue,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        partition: int | None = None,
    ) -> Delivery:
        ensure_no_running_loop(self, "publish")
        self._check_open()
        data, content_type = encode_value(value)
        key_bytes = encode_key(key)
        sent_headers, correlation_id = outgoing_headers(headers, content_type)
        chosen, offset = self._send(topic, data, key_bytes, sent_headers, partition)
        return Delivery(topic, chosen, offset, correlation_id)

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
        ensure_no_running_loop(self, "consume")
        self._check_open()
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        deadline = time.monotonic() + timeout
        return self._read(topic, count, deadline, group, from_beginning, to_end)

    def subscribe(
        self,
        topics: str | Sequence[str],
        group: str,
        *,
        from_beginning: bool = True,
        idle_timeout: float = 10.0,
    ) -> Subscription:
        ensure_no_running_loop(self, "subscribe")
        self._check_open()
        names = _topics_of(topics)
        subscription = self._join(names, group, from_beginning, idle_timeout)
        self._note_use(names, group)
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def create_topic(
        self,
        topic: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> None:
        ensure_no_running_loop(self, "create_topic")
        self._check_open()
        self._create_topic(topic, partitions, dict(config or {}))
        self._note_use([topic])

    def list_consumer_groups(self) -> list[str]:
        ensure_no_running_loop(self, "list_consumer_groups")
        self._check_open()
        return self._group_ids()

    def cleanup(self, *, topics: bool = True, groups: bool = True) -> None:
        ensure_no_running_loop(self, "cleanup")  # also allowed after close()
        for subscription in list(self._subscriptions):
            subscription.close()
        with self._lock:
            group_names = sorted(self._used_groups) if groups else []
            topic_names = sorted(self._used_topics) if topics else []
        problems = self._delete(topic_names, group_names)
        with self._lock:
            if groups:
                self._used_groups.clear()
            if topics:
                self._used_topics.clear()
        if problems:
            raise EventBusError(f"cleanup {self._cleanup_scope} left: " + "; ".join(problems))

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            subscription.close()
        self._release()

    @property
    def aio(self) -> AsyncEventBus:
        """The async face, sharing this bus's clients, state and bookkeeping."""
        with self._lock:
            if self._aio is None:
                self._aio = self._async_class._wrap(self)
            return self._aio


class BaseSubscription(Subscription):
    """Iteration and the context manager of a subscription, on its ``poll`` and ``close``."""

    def __init__(self, topics: list[str], group: str, idle_timeout: float) -> None:
        self.topics = topics
        self.group = group
        self.idle_timeout = idle_timeout
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.topics!r}, group={self.group!r})"

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        message = self.poll(self.idle_timeout)
        if message is None:
            raise StopIteration
        return message

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _in_worker_thread(
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    """The async face of a sync protocol's ``method``: a coroutine with the same parameters
    (signature and docstring are ``method``'s, and mypy checks them against the async
    protocol) that runs the method of the face's ``_sync`` tool in a worker thread."""
    name = method.__name__

    async def in_worker_thread(face: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(getattr(face._sync, name), *args, **kwargs)

    return functools.wraps(method)(in_worker_thread)


class ThreadedAsyncSubscription(AsyncSubscription):
    """The async face of a sync :class:`Subscription` (``async for message in sub``)."""

    def __init__(self, subscription: Subscription, idle_timeout: float) -> None:
        self._sync = subscription
        self._idle_timeout = idle_timeout

    def __aiter__(self) -> ThreadedAsyncSubscription:
        return self

    async def __anext__(self) -> Message:
        message = await asyncio.to_thread(self._sync.poll, self._idle_timeout)
        if message is None:
            raise StopAsyncIteration
        return message

    poll = _in_worker_thread(Subscription.poll)
    commit = _in_worker_thread(Subscription.commit)
    close = _in_worker_thread(Subscription.close)

    async def __aenter__(self) -> ThreadedAsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ThreadedAsyncEventBus(AsyncEventBus):
    """The async face of a :class:`BaseEventBus`, sharing its clients and bookkeeping.

    A subclass names its sync class once, ``class AsyncX(ThreadedAsyncEventBus, sync=X)``:
    ``X(...).aio`` is then an ``AsyncX`` wrapping that bus, and ``AsyncX(...)`` takes ``X``'s
    arguments (its signature is ``X``'s) and builds its own.
    """

    requires_registry: ClassVar[bool]
    _sync_class: ClassVar[type[BaseEventBus]]
    _sync: BaseEventBus

    def __init_subclass__(cls, *, sync: type[BaseEventBus] | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if sync is not None:
            cls._sync_class = sync
            cls.requires_registry = sync.requires_registry
            # help() and inspect show the sync class's parameters, which __init__ forwards.
            cls.__signature__ = inspect.signature(sync)  # type: ignore[attr-defined]
            sync._async_class = cls

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if self.requires_registry:
            warn_unless_registry(type(self).__name__)
        with registry_building():  # warned once, for this class
            self._sync = self._sync_class(*args, **kwargs)

    @classmethod
    def _wrap(cls, bus: BaseEventBus) -> ThreadedAsyncEventBus:
        face = cls.__new__(cls)
        face._sync = bus
        return face

    publish = _in_worker_thread(EventBus.publish)
    consume = _in_worker_thread(EventBus.consume)

    async def subscribe(
        self,
        topics: str | Sequence[str],
        group: str,
        *,
        from_beginning: bool = True,
        idle_timeout: float = 10.0,
    ) -> AsyncSubscription:
        subscription = await asyncio.to_thread(
            self._sync.subscribe,
            topics,
            group,
            from_beginning=from_beginning,
            idle_timeout=idle_timeout,
        )
        return ThreadedAsyncSubscription(subscription, idle_timeout)

    create_topic = _in_worker_thread(EventBus.create_topic)
    list_consumer_groups = _in_worker_thread(EventBus.list_consumer_groups)
    cleanup = _in_worker_thread(EventBus.cleanup)
    close = _in_worker_thread(EventBus.close)
