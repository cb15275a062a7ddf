"""The in-memory event bus: Kafka's semantics without a broker (see :mod:`envctl.tools.mock`).

What it mirrors of the real bus: values, keys and headers go through the same encoding
(:mod:`envctl.tools.codec`), so a consumed message looks the same; keyed messages land in the
partition Kafka's murmur2 gives (keyless ones go round robin, where the real producer picks at
random); offsets count from 0 per partition; a consumer group remembers committed offsets and
shares a topic's partitions among its subscribed members (partition ``p`` goes to the
``p % members``-th member in join order; a join or a leave resets every member to the
committed offsets, as an eager rebalance does); ``consume`` and ``subscribe`` wait up to their
timeout for a missing topic to appear, ``publish`` raises at once.

What it does not: replication, retention, transactions, compaction, the join delay of a real
group (a mock subscription is assigned at once).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.seed.records import read_records
from envctl.services.kafka.seed import kafka_records
from envctl.tools.codec import decode_key, decode_value, partition_for_key
from envctl.tools.errors import EventBusError, ToolClosed, UnknownPartition, UnknownTopic
from envctl.tools.eventbus import BaseEventBus, BaseSubscription, ThreadedAsyncEventBus
from envctl.tools.faces import ensure_no_running_loop
from envctl.tools.mock_state import shared_state
from envctl.tools.protocols import CORRELATION_HEADER, Message, Subscription

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")

Where = tuple[str, int]
"""(topic, partition)"""


@dataclass
class _Record:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]
    timestamp: float
    seq: int


@dataclass
class _Topic:
    name: str
    partitions: list[list[_Record]]
    config: dict[str, str]
    round_robin: int = 0


@dataclass(eq=False)
class _Member:
    topics: list[str]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class _Group:
    committed: dict[Where, int] = field(default_factory=dict)
    members: list[_Member] = field(default_factory=list)
    generation: int = 0


class _Broker:
    """One namespace's topics and groups, guarded by one condition."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.topics: dict[str, _Topic] = {}
        self.groups: dict[str, _Group] = {}
        self.sequence = itertools.count()

    def create(self, name: str, partitions: int, config: Mapping[str, str]) -> None:
        """Create a topic (caller holds the lock); an existing one is kept as it is."""
        if not TOPIC_NAME.match(name) or name in (".", ".."):
            raise EventBusError(
                f"cannot create topic '{name}': a topic name is 1-249 of [A-Za-z0-9._-]"
            )
        if partitions < 1:
            raise EventBusError(f"cannot create topic '{name}': partitions must be at least 1")
        if name not in self.topics:
            self.topics[name] = _Topic(name, [[] for _ in range(partitions)], dict(config))
            self.changed.notify_all()

    def end(self, where: Where) -> int:
        topic = self.topics.get(where[0])
        return len(topic.partitions[where[1]]) if topic else 0

    def take(self, positions: dict[Where, int], limit: int) -> list[tuple[Where, _Record]]:
        """Up to ``limit`` records at or after ``positions``, in publish order; advances them."""
        pending: list[tuple[Where, _Record]] = []
        for where, position in positions.items():
            topic = self.topics.get(where[0])
            if topic is None or where[1] >= len(topic.partitions):
                continue
            pending.extend((where, r) for r in topic.partitions[where[1]][position:])
        pending.sort(key=lambda item: item[1].seq)
        taken = pending[:limit]
        for where, record in taken:
            positions[where] = record.offset + 1
        return taken


def _message(topic: str, partition: int, record: _Record) -> Message:
    return Message(
        topic=topic,
        partition=partition,
        offset=record.offset,
        key=decode_key(record.key),
        value=decode_value(record.value, record.headers),
        headers=dict(record.headers),
        correlation_id=record.headers.get(CORRELATION_HEADER),
        timestamp=record.timestamp,
    )


class InMemoryEventBus(BaseEventBus):
    """The sync face of the in-memory event bus (see :mod:`envctl.tools.mock`)."""

    requires_registry = False

    def __init__(
        self,
        namespace: str = "",
        *,
        auto_create_topics: bool = False,
        default_partitions: int = 1,
        topics: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.namespace = namespace
        self.auto_create_topics = auto_create_topics
        self.default_partitions = default_partitions
        self._broker: _Broker = shared_state("event_bus", namespace, _Broker)
        with self._broker.changed:
            for name, partitions in (topics or {}).items():
                self._broker.create(name, partitions, {})

    def __repr__(self) -> str:
        return f"InMemoryEventBus(namespace={self.namespace!r})"

    @property
    def _cleanup_scope(self) -> str:
        return f"of the in-memory bus '{self.namespace}'"

    def _topic_now(self, name: str) -> _Topic:
        """The topic (lock held); created if auto-creation is on, else UnknownTopic."""
        broker = self._broker
        if name not in broker.topics and self.auto_create_topics:
            broker.create(name, self.default_partitions, {})
        topic = broker.topics.get(name)
        if topic is None:
            raise UnknownTopic(name, f" in the in-memory bus '{self.namespace}'")
        return topic

    def _wait_for_topics(self, names: list[str], deadline: float) -> None:
        """Wait (lock held) until every topic exists; UnknownTopic after the deadline."""
        broker = self._broker
        if self.auto_create_topics:
            for name in names:
                broker.create(name, self.default_partitions, {})
        while True:
            missing = [n for n in names if n not in broker.topics]
            if not missing:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise UnknownTopic(missing[0], f" in the in-memory bus '{self.namespace}'")
            broker.changed.wait(remaining)

    # -- topics ------------------------------------------------------------------------------
    def _create_topic(self, topic: str, partitions: int, config: dict[str, str]) -> None:
        with self._broker.changed:
            self._broker.create(topic, partitions, config)

    # -- publish -----------------------------------------------------------------------------
    def _send(
        self,
        topic: str,
        data: bytes | None,
        key: bytes | None,
        headers: dict[str, str],
        partition: int | None,
    ) -> tuple[int, int]:
        return self._append(topic, key, data, headers, partition, time.time())

    def _append(
        self,
        topic: str,
        key_bytes: bytes | None,
        data: bytes | None,
        sent_headers: dict[str, str],
        partition: int | None,
        timestamp: float,
    ) -> tuple[int, int]:
        """Store one record as given; returns (partition, offset)."""
        broker = self._broker
        with broker.changed:
            target = self._topic_now(topic)
            count = len(target.partitions)
            if partition is not None:
                if not 0 <= partition < count:
                    raise UnknownPartition(topic, partition, count)
                chosen = partition
            elif key_bytes is not None:
                chosen = partition_for_key(key_bytes, count)
            else:
                chosen = target.round_robin % count
                target.round_robin += 1
            log = target.partitions[chosen]
            record = _Record(
                offset=len(log),
                key=key_bytes,
                value=data,
                headers=sent_headers,
                timestamp=timestamp,
                seq=next(broker.sequence),
            )
            log.append(record)
            broker.changed.notify_all()
        self._note_use([topic])
        return chosen, record.offset

    # -- consume -----------------------------------------------------------------------------
    def _read(
        self,
        topic: str,
        count: int,
        deadline: float,
        group: str | None,
        from_beginning: bool,
        to_end: bool,
    ) -> list[Message]:
        broker = self._broker
        self._note_use([topic], group)
        with broker.changed:
            self._wait_for_topics([topic], deadline)
            partitions = len(broker.topics[topic].partitions)
            known = broker.groups.get(group) if group is not None else None
            committed = known.committed if known is not None else {}
            positions: dict[Where, int] = {}
            for p in range(partitions):
                where = (topic, p)
                if where in committed:
                    positions[where] = committed[where]
                else:
                    positions[where] = 0 if from_beginning else broker.end(where)
            taken: list[tuple[Where, _Record]] = []
            while True:
                taken += broker.take(positions, count - len(taken))
                remaining = deadline - time.monotonic()
                if len(taken) >= count or remaining <= 0 or to_end:
                    break
                broker.changed.wait(remaining)
            if group is not None and taken:
                # Like an OffsetCommit: the group exists once it has committed something.
                target = broker.groups.setdefault(group, _Group()).committed
                for where, _ in taken:
                    target[where] = positions[where]
        return [_message(where[0], where[1], record) for where, record in taken]

    def _join(
        self, topics: list[str], group: str, from_beginning: bool, idle_timeout: float
    ) -> Subscription:
        with self._broker.changed:
            self._wait_for_topics(topics, time.monotonic() + idle_timeout)
            return InMemorySubscription(self._broker, topics, group, from_beginning, idle_timeout)

    # -- admin -------------------------------------------------------------------------------
    def _group_ids(self) -> list[str]:
        with self._broker.changed:
            return sorted(self._broker.groups)

    def _delete(self, topic_names: list[str], group_names: list[str]) -> list[str]:
        broker = self._broker
        problems: list[str] = []
        with broker.changed:
            for name in group_names:
                group = broker.groups.get(name)
                if group is not None and group.members:
                    problems.append(f"group '{name}': Broker: The group is not empty")
                    continue
                broker.groups.pop(name, None)
            for name in topic_names:
                broker.topics.pop(name, None)
                for group in broker.groups.values():
                    for where in [w for w in group.committed if w[0] == name]:
                        del group.committed[where]
            broker.changed.notify_all()
        return problems


class InMemorySubscription(BaseSubscription):
    """A member of an in-memory consumer group (see :class:`.protocols.Subscription`)."""

    def __init__(
        self,
        broker: _Broker,
        topics: list[str],
        group: str,
        from_beginning: bool,
        idle_timeout: float,
    ) -> None:
        # Called with the broker's lock held.
        super().__init__(topics, group, idle_timeout)
        self._broker = broker
        self._member = _Member(list(topics))
        self._group = broker.groups.setdefault(group, _Group())
        self._group.members.append(self._member)
        self._group.generation += 1
        broker.changed.notify_all()
        self._start = {
            (t, p): 0 if from_beginning else broker.end((t, p))
            for t in topics
            for p in range(len(broker.topics[t].partitions))
        }
        self._generation = -1
        self._positions: dict[Where, int] = {}
        self._consumed: dict[Where, int] = {}

    def _assignment(self) -> list[Where]:
        assigned: list[Where] = []
        for name in self.topics:
            topic = self._broker.topics.get(name)
            members = [m for m in self._group.members if name in m.topics]
            if topic is None or self._member not in members:
                continue
            index = members.index(self._member)
            assigned += [
                (name, p) for p in range(len(topic.partitions)) if p % len(members) == index
            ]
        return assigned

    def _refresh(self) -> None:
        """Follow a rebalance: positions restart from the committed offsets."""
        if self._generation != self._group.generation:
            self._generation = self._group.generation
            self._positions = {}
            self._consumed = {}
        for where in self._assignment():
            if where not in self._positions:
                start = self._group.committed.get(where, self._start.get(where, 0))
                self._positions[where] = start
        for where in [w for w in self._positions if w not in self._assignment()]:
            del self._positions[where]

    def poll(self, timeout: float = 1.0) -> Message | None:
        ensure_no_running_loop(self, "poll")
        deadline = time.monotonic() + timeout
        with self._broker.changed:
            while True:
                if self._closed:
                    raise ToolClosed(f"{self!r} is closed")
                self._refresh()
                taken = self._broker.take(self._positions, 1)
                if taken:
                    where, record = taken[0]
                    self._consumed[where] = record.offset + 1
                    return _message(where[0], where[1], record)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._broker.changed.wait(remaining)

    def commit(self) -> None:
        ensure_no_running_loop(self, "commit")
        with self._broker.changed:
            if self._closed:
                raise ToolClosed(f"{self!r} is closed")
            self._refresh()
            self._group.committed.update(self._consumed)

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        with self._broker.changed:
            if self._closed:
                return
            self._closed = True
            if self._member in self._group.members:
                self._group.members.remove(self._member)
                self._group.generation += 1
            self._broker.changed.notify_all()


class AsyncInMemoryEventBus(ThreadedAsyncEventBus, sync=InMemoryEventBus):
    """The async face of :class:`InMemoryEventBus` (calls run in worker threads, so a
    ``consume`` waiting for a message never blocks the task that publishes it), built with
    the same arguments."""


def seed_record(
    bus: InMemoryEventBus,
    topic: str,
    value: bytes | None,
    *,
    key: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    partition: int | None = None,
    timestamp_ms: int | None = None,
) -> None:
    """Store a seed record exactly as real seeding produces it: its own bytes and headers,
    no correlation id or content type added (``publish`` adds those, as the real bus does)."""
    stamp = timestamp_ms / 1000 if timestamp_ms is not None else time.time()
    bus._append(topic, key, value, dict(headers or {}), partition, stamp)


def seed_double(bus: Any, topic: str, path: Path) -> None:
    """Store a seed file's records in the double as real seeding produces them (no
    correlation id or content type added): a mock run starts from the seed data."""
    for record in kafka_records(read_records(path), topic):
        headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers}
        seed_record(
            bus,
            topic,
            record.value,
            key=record.key,
            headers=headers,
            partition=record.partition,
            timestamp_ms=record.timestamp,
        )
