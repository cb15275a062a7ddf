"""Async faces that run a sync tool's calls in worker threads (:func:`asyncio.to_thread`).

Used where the client library has no asyncio API (confluent-kafka) and by the in-memory event
bus (whose ``consume`` waits on a condition that another thread or task may satisfy). The
event loop never blocks: each call runs in the default executor, with the caller's context
variables (so :func:`~envctl.tools.correlation.correlation_scope` carries over).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from envctl.tools.protocols import (
    AsyncSubscription,
    Delivery,
    EventBus,
    Message,
    MessageValue,
    Subscription,
)


class ThreadedAsyncSubscription:
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

    async def poll(self, timeout: float = 1.0) -> Message | None:
        return await asyncio.to_thread(self._sync.poll, timeout)

    async def commit(self) -> None:
        await asyncio.to_thread(self._sync.commit)

    async def close(self) -> None:
        await asyncio.to_thread(self._sync.close)

    async def __aenter__(self) -> ThreadedAsyncSubscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ThreadedAsyncEventBus:
    """The async face of a sync :class:`EventBus`, sharing its clients and bookkeeping."""

    _sync: EventBus

    @classmethod
    def _wrap(cls, bus: EventBus) -> Any:
        face = cls.__new__(cls)
        face._sync = bus
        return face

    async def publish(
        self,
        topic: str,
        value: MessageValue,
        *,
        key: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        partition: int | None = None,
    ) -> Delivery:
        return await asyncio.to_thread(
            self._sync.publish, topic, value, key=key, headers=headers, partition=partition
        )

    async def consume(
        self,
        topic: str,
        *,
        count: int = 1,
        timeout: float = 10.0,
        group: str | None = None,
        from_beginning: bool = True,
        to_end: bool = False,
    ) -> list[Message]:
        return await asyncio.to_thread(
            self._sync.consume,
            topic,
            count=count,
            timeout=timeout,
            group=group,
            from_beginning=from_beginning,
            to_end=to_end,
        )

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

    async def create_topic(
        self,
        topic: str,
        *,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> None:
        await asyncio.to_thread(
            self._sync.create_topic, topic, partitions=partitions, config=config
        )

    async def list_consumer_groups(self) -> list[str]:
        return await asyncio.to_thread(self._sync.list_consumer_groups)

    async def cleanup(self, *, topics: bool = True, groups: bool = True) -> None:
        await asyncio.to_thread(self._sync.cleanup, topics=topics, groups=groups)

    async def close(self) -> None:
        await asyncio.to_thread(self._sync.close)
