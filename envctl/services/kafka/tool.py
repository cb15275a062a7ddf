"""The real event bus: Kafka through confluent-kafka (librdkafka).

Faces: :class:`KafkaEventBus` is the sync face; ``bus.aio`` (or :class:`AsyncKafkaEventBus`,
built with the same arguments) is the async face, running each call in a worker thread
(confluent-kafka has no asyncio API) so the event loop never blocks. The sync face called
inside a running event loop raises :class:`~envctl.tools.errors.SyncCallInEventLoop`.

How it talks to the broker:

- one producer with ``acks=all`` and one request in flight (ordered; not idempotent: the
  producer-id handshake costs its first delivery 0.5-1 s) with the Java client's
  partitioner (``murmur2_random``): a key lands in the same partition as in
  :class:`~envctl.tools.mock.InMemoryEventBus`. ``publish`` waits for the message's delivery
  report for at most ``publish_ack`` seconds (the producer's ``message.timeout.ms`` is the
  same), then raises :class:`~envctl.tools.errors.PublishTimeout` naming topic and timeout.
- topics are not created on first use unless ``auto_create_topics`` (the clients then allow
  the broker to auto-create them): ``publish`` to a missing topic raises
  :class:`~envctl.tools.errors.UnknownTopic` at once instead of waiting for librdkafka's
  metadata timeout; ``consume`` and ``subscribe`` wait up to their timeout for it to appear.
- ``consume`` assigns partitions directly at explicit offsets resolved from the watermarks
  (no group join, no logical-offset timer: milliseconds); with a group it starts at the
  group's committed offsets and commits what it returns; ``to_end`` stops at each
  partition's end-of-partition event.
- ``subscribe`` joins the group for real, with ``session.timeout.ms`` 6000: a subscribing
  consumer's first join takes about as long as its session timeout allows (measured on the
  local Tansu broker: ~23 s with the 45 s default, ~3 s with 6 s).
- ``list_consumer_groups`` and ``cleanup`` use the AdminClient.

Clients are created on first use: constructing a bus does not connect.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from envctl.services.kafka.admin import TopicRequest, TopicsNotCreated, create_topics
from envctl.tools.codec import decode_headers, decode_key, decode_value
from envctl.tools.errors import (
    ConsumeFailed,
    EventBusError,
    PublishFailed,
    PublishTimeout,
    ToolClosed,
    UnknownPartition,
    UnknownTopic,
)
from envctl.tools.eventbus import BaseEventBus, BaseSubscription, ThreadedAsyncEventBus
from envctl.tools.faces import ensure_no_running_loop, warn_unless_registry
from envctl.tools.protocols import CORRELATION_HEADER, Message, Subscription

SESSION_TIMEOUT_MS = 6000
"""Chosen deliberately short: the first group join waits in proportion to it."""
HEARTBEAT_INTERVAL_MS = 1000
POLL_SLICE = 0.1
"""Seconds per poll while waiting, so deadlines are kept within this margin."""
METADATA_SLICE = 0.5
"""Seconds one metadata request may block: librdkafka does not return to Python (so neither
Ctrl-C nor a deadline is noticed) until it answers or times out; a slow answer is asked for
again until the caller's timeout."""
MIN_REQUEST_WAIT = 1.0
"""Seconds a request made on the way to reading (watermarks, committed offsets) gets at
least, so a short ``consume`` slice on a loaded machine is not a false failure."""

_LOG = logging.getLogger("envctl.services.kafka.tool")


class _Missing(Exception):
    """A topic is not (yet) in the broker's metadata."""


class BrokerUnanswered(EventBusError):
    """The broker did not answer a metadata request in time (paused, stopped, cut off)."""

    def __init__(self, servers: str, timeout: float, exc: BaseException) -> None:
        error = exc.args[0] if exc.args else exc
        why = error.str() if hasattr(error, "str") else str(error)
        waited = round(timeout, 1)
        self.detail = (
            f"the broker at {servers} did not answer a metadata request within {waited:g}s "
            f"({why.removeprefix('Failed to get metadata: ')})"
        )
        super().__init__(self.detail)


class KafkaEventBus(BaseEventBus):
    """The sync face of the real event bus (see the module docstring)."""

    requires_registry: ClassVar[bool] = True

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        publish_ack: float = 10.0,
        admin_timeout: float = 10.0,
        auto_create_topics: bool = False,
        client_id: str = "envctl",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        warn_unless_registry(type(self).__name__)
        super().__init__()
        self.bootstrap_servers = bootstrap_servers
        self.publish_ack = float(publish_ack)
        self.admin_timeout = float(admin_timeout)
        self.auto_create_topics = auto_create_topics
        self.client_id = client_id
        self._extra = dict(config or {})
        self._producer: Any = None
        self._admin: Any = None
        self._partitions: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"KafkaEventBus({self.bootstrap_servers!r})"

    # -- clients -----------------------------------------------------------------------------
    def _base_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "logger": _LOG,
            "socket.connection.setup.timeout.ms": max(int(self.admin_timeout * 1000), 1000),
            **self._extra,
        }

    @property
    def _cleanup_scope(self) -> str:
        return f"on {self.bootstrap_servers}"

    def _get_producer(self) -> Any:
        with self._lock:
            if self._producer is None:
                from confluent_kafka import Producer

                ack_ms = max(int(self.publish_ack * 1000), 1)
                self._producer = Producer(
                    {
                        **self._base_config(),
                        # Not idempotent: the producer-id handshake makes an idempotent
                        # producer's first delivery take 0.5-1 s. acks=all with one request
                        # in flight keeps the order and the durability.
                        "enable.idempotence": False,
                        "acks": "all",
                        "max.in.flight.requests.per.connection": 1,
                        "partitioner": "murmur2_random",
                        "allow.auto.create.topics": self.auto_create_topics,
                        "message.timeout.ms": ack_ms,
                        "linger.ms": 0,
                    }
                )
            return self._producer

    def _get_admin(self) -> Any:
        with self._lock:
            if self._admin is None:
                from confluent_kafka.admin import AdminClient

                self._admin = AdminClient(self._base_config())
            return self._admin

    def _consumer(
        self, group: str | None, *, subscribing: bool, from_beginning: bool, eof: bool = False
    ) -> tuple[Any, _Commits]:
        """A consumer, and the outcome of its commits (for :func:`_commit`)."""
        from confluent_kafka import Consumer

        commits = _Commits()
        config: dict[str, Any] = {
            **self._base_config(),
            # librdkafka wants a group id even for assign(); without one nothing is committed
            # and the broker never hears of the placeholder.
            "group.id": group or f"envctl-unused-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "allow.auto.create.topics": self.auto_create_topics,
            # A test waits on each fetch: answer as soon as anything (or nothing) is there
            # instead of librdkafka's 500 ms default long poll.
            "fetch.wait.max.ms": 10,
            "fetch.error.backoff.ms": 10,
            "enable.partition.eof": eof,
            "on_commit": commits,
        }
        if subscribing:
            config["session.timeout.ms"] = SESSION_TIMEOUT_MS
            config["heartbeat.interval.ms"] = HEARTBEAT_INTERVAL_MS
        return Consumer(config), commits

    # -- topics ------------------------------------------------------------------------------
    def _list_topics(self, timeout: float) -> dict[str, int]:
        """Topic -> partitions, asked in slices of :data:`METADATA_SLICE` until ``timeout``;
        :class:`BrokerUnanswered` when the broker never answered (paused, gone, cut off)."""
        from confluent_kafka import KafkaException

        timeout = max(timeout, 0.1)
        deadline = time.monotonic() + timeout
        admin = self._get_admin()
        while True:
            left = deadline - time.monotonic()
            try:
                # All topics, never one by name: a request naming a topic may auto-create it.
                metadata = admin.list_topics(timeout=max(min(left, METADATA_SLICE), 0.01))
                break
            except KafkaException as exc:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrokerUnanswered(self.bootstrap_servers, timeout, exc) from None
                time.sleep(min(left, POLL_SLICE / 2))  # a refusal may come back at once
        return {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if topic.error is None
        }

    def _partition_count(self, topic: str, timeout: float) -> int | None:
        """Partitions of ``topic``; UnknownTopic when missing (None: left to auto-creation)."""
        with self._lock:
            if topic in self._partitions:
                return self._partitions[topic]
        found = self._list_topics(min(self.admin_timeout, timeout))
        with self._lock:
            self._partitions.update(found)
        if topic in found:
            return found[topic]
        if self.auto_create_topics:
            return None
        raise UnknownTopic(topic, f" on {self.bootstrap_servers}")

    def _wait_for_topics(self, topics: list[str], deadline: float) -> dict[str, int]:
        """Partitions of ``topics`` once all are in the metadata (polled with a backoff from
        a few milliseconds: the broker announces nothing); UnknownTopic at the deadline."""
        from envctl.retry import retry_call

        created = False

        def attempt() -> dict[str, int]:
            nonlocal created
            found = self._list_topics(max(deadline - time.monotonic(), 0.5))
            with self._lock:
                self._partitions.update(found)
            missing = [t for t in topics if t not in found]
            if missing and self.auto_create_topics and not created:
                # What the broker would do for a client that allows auto-creation.
                self._create([(t, 1, {}) for t in missing])
                created = True
                return attempt()
            if missing:
                raise _Missing(missing[0])
            return {t: found[t] for t in topics}

        try:
            return retry_call(attempt, max(deadline - time.monotonic(), 0.0), (_Missing,))
        except _Missing as exc:
            raise UnknownTopic(str(exc), f" on {self.bootstrap_servers}") from None

    def _create_topic(self, topic: str, partitions: int, config: dict[str, str]) -> None:
        self._create([(topic, partitions, config)])

    def _create(self, topics: list[tuple[str, int, dict[str, str]]]) -> None:
        """Create topics (an existing one is fine) and wait until they are visible."""
        requests = [TopicRequest(name, n, c, replication_factor=1) for name, n, c in topics]
        timeout = self.admin_timeout
        try:
            create_topics(self._get_admin(), requests, timeout)
        except TopicsNotCreated as exc:
            raise EventBusError(str(exc)) from None
        self._wait_for_topics([name for name, _, _ in topics], time.monotonic() + timeout)

    # -- publish -----------------------------------------------------------------------------
    def _send(
        self,
        topic: str,
        data: bytes | None,
        key: bytes | None,
        headers: dict[str, str],
        partition: int | None,
    ) -> tuple[int, int]:
        from confluent_kafka import KafkaError, KafkaException

        # everything publish waits for (metadata, the delivery report) is within publish_ack
        deadline = time.monotonic() + self.publish_ack
        try:
            partitions = self._partition_count(topic, self.publish_ack)
        except BrokerUnanswered as exc:
            raise PublishTimeout(topic, self.publish_ack, f": {exc.detail}") from None
        if partition is not None and partitions is not None and not 0 <= partition < partitions:
            raise UnknownPartition(topic, partition, partitions)
        self._note_use([topic])

        done = threading.Event()
        report: list[Any] = []

        def on_delivery(err: Any, msg: Any) -> None:
            report.extend((err, msg))
            done.set()

        producer = self._get_producer()
        extra = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(
                    topic,
                    value=data,
                    key=key,
                    headers=list(headers.items()),
                    on_delivery=on_delivery,
                    **extra,
                )
                break
            except BufferError:
                if time.monotonic() >= deadline:
                    full = " (producer queue full)"
                    raise PublishTimeout(topic, self.publish_ack, full) from None
                producer.poll(POLL_SLICE)
            except KafkaException as exc:
                raise PublishFailed(topic, str(exc.args[0])) from None
        while not done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishTimeout(topic, self.publish_ack)
            producer.poll(min(remaining, POLL_SLICE))
        err, msg = report
        if err is not None:
            if err.code() in (KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT):
                raise PublishTimeout(topic, self.publish_ack, f": {err.str()}")
            if err.code() == KafkaError._UNKNOWN_PARTITION and partition is not None:
                raise UnknownPartition(topic, partition, partitions or 0)
            raise PublishFailed(topic, err.str())
        return msg.partition(), msg.offset()

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
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        partitions = self._wait_for_topics([topic], deadline)[topic]
        self._note_use([topic], group)
        consumer, commits = self._consumer(
            group, subscribing=False, from_beginning=from_beginning, eof=to_end
        )

        def wait() -> float:
            """What a request on the way may take: the time left (at least a second)."""
            return max(min(self.admin_timeout, deadline - time.monotonic()), MIN_REQUEST_WAIT)

        try:
            wanted = [TopicPartition(topic, p) for p in range(partitions)]
            starts: dict[int, int] = {}
            if group is not None:
                committed = consumer.committed(wanted, timeout=wait())
                starts = {tp.partition: tp.offset for tp in committed if tp.offset >= 0}
            assignment = []
            pending: set[int] = set()
            for p in range(partitions):
                # Explicit offsets only: a logical one (OFFSET_BEGINNING, OFFSET_END) costs a
                # 0.5 s librdkafka offset-query timer before the first fetch; resolving the
                # watermarks ourselves takes about a millisecond.
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=wait())
                if p in starts:
                    offset = starts[p]
                elif from_beginning:
                    offset = max(low, 0)
                else:
                    offset = max(high, 0)  # the end as of now, before the caller publishes
                assignment.append(TopicPartition(topic, p, offset))
                if high > offset:
                    pending.add(p)  # to_end: read until its end-of-partition event
            consumer.assign(assignment)
            got: list[Message] = []
            while len(got) < count and not (to_end and not pending):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for raw in consumer.consume(count - len(got), timeout=min(remaining, POLL_SLICE)):
                    error = raw.error()
                    if error is None:
                        got.append(_message(raw))
                    elif error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(raw.partition())
                    else:
                        raise ConsumeFailed(f"consuming topic '{topic}' failed: {error.str()}")
            if group is not None and got:
                # what is polled while waiting is past what was read: dropped, not committed
                why = _commit(consumer, commits, _next_offsets(got), wait(), lambda _raw: None)
                if why is not None:
                    raise ConsumeFailed(
                        f"consuming topic '{topic}': committing group '{group}' failed: {why}"
                    )
            return got
        except KafkaException as exc:
            raise ConsumeFailed(f"consuming topic '{topic}' failed: {exc.args[0]}") from None
        finally:
            consumer.close()

    def _join(
        self, topics: list[str], group: str, from_beginning: bool, idle_timeout: float
    ) -> Subscription:
        self._wait_for_topics(topics, time.monotonic() + idle_timeout)
        consumer, commits = self._consumer(group, subscribing=True, from_beginning=from_beginning)
        consumer.subscribe(topics)
        timeout = self.admin_timeout
        return KafkaSubscription(
            consumer, topics, group, idle_timeout, commits=commits, commit_timeout=timeout
        )

    # -- admin -------------------------------------------------------------------------------
    def _group_ids(self) -> list[str]:
        from confluent_kafka import KafkaException

        try:
            future = self._get_admin().list_consumer_groups(request_timeout=self.admin_timeout)
            result = future.result(timeout=self.admin_timeout)
        except KafkaException as exc:
            raise EventBusError(f"cannot list consumer groups: {exc.args[0]}") from None
        return sorted(group.group_id for group in result.valid)

    def _delete(self, topic_names: list[str], group_names: list[str]) -> list[str]:
        from confluent_kafka import KafkaError, KafkaException

        admin = self._get_admin()
        timeout = self.admin_timeout
        problems: list[str] = []
        gone = {KafkaError.GROUP_ID_NOT_FOUND, KafkaError.UNKNOWN_TOPIC_OR_PART}

        def settle(kind: str, futures: Mapping[str, Any]) -> None:
            """Wait for each deletion; one already gone is fine, anything else a problem."""
            for name, future in futures.items():
                try:
                    future.result(timeout=timeout)
                except KafkaException as exc:
                    if exc.args[0].code() not in gone:
                        problems.append(f"{kind} '{name}': {exc.args[0]}")

        if group_names:
            settle("group", admin.delete_consumer_groups(group_names, request_timeout=timeout))
        if topic_names:
            settle("topic", admin.delete_topics(topic_names, operation_timeout=timeout))
            self._wait_until_deleted(topic_names, time.monotonic() + timeout, problems)
        with self._lock:
            self._partitions.clear()
        return problems

    def _wait_until_deleted(self, names: list[str], deadline: float, problems: list[str]) -> None:
        from envctl.retry import poll_until

        left: list[str] = []

        def gone() -> bool:
            left[:] = sorted(set(names) & set(self._list_topics(1.0)))
            return not left

        if not poll_until(gone, timeout=max(deadline - time.monotonic(), 0.0)):
            problems.append(f"topics {', '.join(left)} still listed after deletion")

    def _release(self) -> None:
        """Flush what is still pending (the producer is gone afterwards)."""
        with self._lock:
            producer, self._producer = self._producer, None
            self._admin = None
        if producer is not None:
            left = producer.flush(self.publish_ack)
            if left:
                _LOG.warning("%s closed with %d message(s) not delivered", self, left)


class KafkaSubscription(BaseSubscription):
    """A consumer in a group (see :class:`~envctl.tools.protocols.Subscription`)."""

    def __init__(
        self,
        consumer: Any,
        topics: list[str],
        group: str,
        idle_timeout: float,
        *,
        commits: _Commits,
        commit_timeout: float,
    ) -> None:
        super().__init__(topics, group, idle_timeout)
        self._consumer = consumer
        self._commits = commits
        self.commit_timeout = commit_timeout
        self._positions: dict[tuple[str, int], int] = {}
        self._polled: collections.deque[Any] = collections.deque()
        """Messages polled while a commit waited: handed out first."""
        self._lock = threading.Lock()

    def poll(self, timeout: float = 1.0) -> Message | None:
        ensure_no_running_loop(self, "poll")
        from confluent_kafka import KafkaError, KafkaException

        deadline = time.monotonic() + timeout
        with self._lock:
            if self._closed:
                raise ToolClosed(f"{self!r} is closed")
            while True:
                remaining = deadline - time.monotonic()
                try:
                    raw = (
                        self._polled.popleft()
                        if self._polled
                        else self._consumer.poll(max(min(remaining, POLL_SLICE), 0))
                    )
                except KafkaException as exc:
                    raise ConsumeFailed(f"{self!r}: {exc.args[0]}") from None
                if raw is not None:
                    error = raw.error()
                    if error is None:
                        message = _message(raw)
                        self._positions[(message.topic, message.partition)] = message.offset + 1
                        return message
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise ConsumeFailed(f"{self!r}: {error.str()}")
                if remaining <= 0:
                    return None

    def commit(self) -> None:
        ensure_no_running_loop(self, "commit")
        from confluent_kafka import KafkaException, TopicPartition

        with self._lock:
            if self._closed:
                raise ToolClosed(f"{self!r} is closed")
            if not self._positions:
                return
            offsets = [TopicPartition(t, p, o) for (t, p), o in self._positions.items()]
            try:
                why = _commit(
                    self._consumer, self._commits, offsets, self.commit_timeout, self._polled.append
                )
            except KafkaException as exc:
                why = str(exc.args[0])
            if why is not None:
                raise ConsumeFailed(f"{self!r}: commit failed: {why}")

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._consumer.close()


def _message(raw: Any) -> Message:
    headers = decode_headers(raw.headers())
    _, stamp = raw.timestamp()
    return Message(
        topic=raw.topic(),
        partition=raw.partition(),
        offset=raw.offset(),
        key=decode_key(raw.key()),
        value=decode_value(raw.value(), headers),
        headers=headers,
        correlation_id=headers.get(CORRELATION_HEADER),
        timestamp=stamp / 1000.0 if stamp and stamp > 0 else 0.0,
    )


class _Commits:
    """A consumer's ``on_commit`` callback: the outcome of its latest commit."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: Any = None

    def __call__(self, error: Any, _partitions: Any) -> None:
        self.error = error
        self.done.set()


def _commit(
    consumer: Any, commits: _Commits, offsets: list[Any], timeout: float, keep: Any
) -> str | None:
    """Commit ``offsets`` and wait at most ``timeout`` seconds for the broker's answer; why it
    failed, or None. A synchronous commit waits for a group coordinator without end (a paused
    broker held one for minutes), so the commit is asynchronous and its callback is served by
    polling in short slices; what a poll returns meanwhile goes to ``keep``."""
    commits.done.clear()
    commits.error = None
    consumer.commit(offsets=offsets, asynchronous=True)
    deadline = time.monotonic() + timeout
    while not commits.done.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return f"the broker did not acknowledge it within {round(timeout, 1):g}s"
        raw = consumer.poll(min(left, POLL_SLICE))
        if raw is not None:
            keep(raw)
    return None if commits.error is None else str(commits.error.str())


def _next_offsets(messages: list[Message]) -> list[Any]:
    from confluent_kafka import TopicPartition

    last: dict[tuple[str, int], int] = {}
    for message in messages:
        where = (message.topic, message.partition)
        last[where] = max(last.get(where, -1), message.offset + 1)
    return [TopicPartition(t, p, o) for (t, p), o in last.items()]


class AsyncKafkaEventBus(ThreadedAsyncEventBus, sync=KafkaEventBus):
    """The async face of :class:`KafkaEventBus` (each call runs in a worker thread), built
    with the same arguments."""
