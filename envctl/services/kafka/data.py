"""Kafka data: seeding records, reading topics, snapshot and restore, cleanup of a run's data.

The hooks of :class:`~envctl.services.kafka.KafkaService` call these functions. Everything
works on the run's physical names (``envctl.<run>.orders``); snapshots store logical names
so a snapshot can be compared with, or restored into, another run of the same scenario.

End offsets are read, not asked for: a partition is read up to the broker's end-of-partition
event. Some Kafka-compatible brokers (Tansu 0.6) answer ListOffsets(latest) with the base
offset of the last *batch* plus one, so a watermark alone undercounts batched topics.

Snapshot files (in ``<snapshot>/<service>/``):
- ``topics.json``: per logical topic its physical name, partitions, config, and per
  partition the ``start``/``end`` offsets, how many messages were kept, and ``truncated``;
- ``groups.json``: per consumer group its committed offsets on the run's topics;
- ``messages/<topic>.jsonl``: one message per line: partition, offset, timestamp, key,
  value, headers (text when UTF-8, else ``{"base64": ...}``).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import SeedError, ServiceFailed, SnapshotError
from envctl.retry import poll_until
from envctl.seed.records import read_records
from envctl.services.base import ServiceHandle, SnapshotOptions, SnapshotResult
from envctl.services.kafka.admin import (
    SILENT_LOGGER,
    TopicRequest,
    TopicsNotCreated,
    client_config,
    create_topics,
)
from envctl.services.kafka.seed import KafkaRecord, kafka_records
from envctl.snapshot.codec import from_text_or_base64, text_or_base64

if TYPE_CHECKING:
    from envctl.namespace import Namespace
    from envctl.services.kafka.plugin import KafkaService

SEED_POLL_SLICE = 0.1
"""Seconds one wait of the seeding producer may block: librdkafka does not return to Python
(so neither an abort nor Ctrl-C is noticed) before it."""

TOPICS_FILE = "topics.json"
GROUPS_FILE = "groups.json"
MESSAGES_DIR = "messages"

Partition = tuple[str, int]


# -- small helpers --------------------------------------------------------------------------------


def message_to_json(message: Any) -> dict[str, Any]:
    kind, stamp = message.timestamp()
    return {
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": stamp if kind else None,
        "key": text_or_base64(message.key()),
        "value": text_or_base64(message.value()),
        "headers": [[k, text_or_base64(v)] for k, v in (message.headers() or [])],
    }


def _deadline_left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


def _consumer(plugin: KafkaService, handle: ServiceHandle) -> Any:
    """A reader that joins no group and commits nothing (the group id is never used)."""
    from confluent_kafka import Consumer

    return Consumer(
        {
            **client_config(handle.endpoints),
            "group.id": f"envctl-reader-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 10,
            "log_level": 0,
            "logger": SILENT_LOGGER,
        }
    )


def _producer(plugin: KafkaService, handle: ServiceHandle, timeout: float) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            **client_config(handle.endpoints),
            # Not idempotent: its producer-id handshake costs the first delivery 0.5-1 s.
            # acks=all with one request in flight keeps the order and the durability.
            "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 1,
            "acks": "all",
            "linger.ms": 5,
            "batch.num.messages": 10000,
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "message.timeout.ms": max(1000, int(timeout * 1000)),
            "log_level": 0,
            "logger": SILENT_LOGGER,
        }
    )


def _kafka_error(exc: BaseException) -> str:
    error = exc.args[0] if exc.args else exc
    text = error.str() if hasattr(error, "str") else str(error)
    return " ".join(str(text).split())


# -- which topics and groups belong to the run ----------------------------------------------------


def run_topics(plugin: KafkaService, handle: ServiceHandle, metadata: Any) -> list[str]:
    """Physical topics of the run that exist: the recorded ones and any the namespace owns."""
    namespace = plugin.namespace
    recorded = set(handle.resources.get("topics", []))
    return sorted(
        name for name in metadata.topics if name in recorded or namespace.owns_topic(name)
    )


def logical_topic(plugin: KafkaService, physical: str) -> str:
    logical = plugin.namespace.logical_topic(physical)
    return logical if logical is not None else physical


def _group_offsets(admin: Any, group: str, timeout: float) -> dict[Partition, int]:
    from confluent_kafka import ConsumerGroupTopicPartitions

    future = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group]
    result = future.result(timeout=timeout)
    return {
        (tp.topic, tp.partition): tp.offset
        for tp in result.topic_partitions
        if tp.offset is not None and tp.offset >= 0
    }


def list_groups(admin: Any, timeout: float) -> list[str]:
    listing = admin.list_consumer_groups(request_timeout=timeout).result(timeout=timeout)
    return sorted(g.group_id for g in listing.valid)


def run_groups(
    plugin: KafkaService, handle: ServiceHandle, admin: Any, topics: Collection[str], timeout: float
) -> dict[str, dict[Partition, int]]:
    """Consumer groups of the run: owned by its namespace, or with offsets on its topics."""
    namespace = plugin.namespace
    recorded = set(handle.resources.get("consumer_groups", []))
    groups: dict[str, dict[Partition, int]] = {}
    for group in list_groups(admin, timeout):
        if group.startswith("envctl-reader-"):
            continue
        offsets = _group_offsets(admin, group, timeout)
        mine = group in recorded or namespace.owns_group(group)
        on_topics = {tp: o for tp, o in offsets.items() if tp[0] in topics}
        if mine or on_topics:
            groups[group] = offsets if mine else on_topics
    return groups


# -- reading partitions to their end --------------------------------------------------------------


@dataclass
class PartitionRead:
    start: int
    end: int
    messages: collections.deque[dict[str, Any]] = field(default_factory=collections.deque)

    @property
    def count(self) -> int:
        return max(0, self.end - self.start)


def read_partitions(
    consumer: Any,
    partitions: Iterable[Partition],
    keep: int,
    timeout: float,
    on_message: Callable[[Any], Any] = message_to_json,
) -> dict[Partition, PartitionRead]:
    """Start/end offsets of each partition and its newest ``keep`` messages (0: none).

    Reads from ``max(low, high - keep)`` (or ``high - 1``) to the end-of-partition event,
    whose offset is the true end whatever the watermark said.
    """
    from confluent_kafka import KafkaError, TopicPartition

    deadline = time.monotonic() + timeout
    reads: dict[Partition, PartitionRead] = {}
    assignment = []
    for topic, partition in partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition),
            timeout=max(1.0, _deadline_left(deadline)),
            cached=False,
        )
        low = max(low, 0)
        reads[(topic, partition)] = PartitionRead(
            low, max(low, high), collections.deque(maxlen=keep or 1)
        )
        if high > low:
            first = max(low, high - max(keep, 1))
            assignment.append(TopicPartition(topic, partition, first))
    if not assignment:
        return reads
    pending = {(tp.topic, tp.partition) for tp in assignment}
    consumer.assign(assignment)
    try:
        while pending:
            left = _deadline_left(deadline)
            if left <= 0:
                names = ", ".join(f"'{t}'[{p}]" for t, p in sorted(pending))
                raise TimeoutError(f"could not read {names} to its end within {timeout:.0f}s")
            for message in consumer.consume(num_messages=10000, timeout=min(0.5, left)):
                key = (message.topic(), message.partition())
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        if key in pending:
                            reads[key].end = max(reads[key].end, message.offset())
                            pending.discard(key)
                        continue
                    raise RuntimeError(f"reading '{key[0]}'[{key[1]}]: {error.str()}")
                read = reads[key]
                read.end = max(read.end, message.offset() + 1)
                if keep:
                    read.messages.append(on_message(message))
    finally:
        consumer.unassign()
    for read in reads.values():
        if not keep:
            read.messages.clear()
    return reads


# -- seeding --------------------------------------------------------------------------------------


def seed(plugin: KafkaService, handle: ServiceHandle, timeout: float) -> None:
    """Produce every seed file's records; done when every delivery report came back.

    Every file is read and checked before the first record is sent, so a bad record
    leaves the topics as setup made them. The producer is made first, so its connection
    is set up while the files are read.
    """
    if not plugin.spec.seed:
        return
    from confluent_kafka import KafkaError

    deadline = time.monotonic() + timeout
    service = plugin.context.service
    declared = {t.name: t.partitions for t in plugin.spec.topics}
    producer = _producer(plugin, handle, timeout)
    batches: list[tuple[str, str, list[KafkaRecord]]] = []
    for entry in plugin.spec.seed:
        path = plugin.seed_file(entry.from_)
        if entry.topic not in declared:
            raise SeedError(
                entry.from_,
                None,
                f"service '{service}': seed topic '{entry.topic}' is not in topics",
            )
        records = kafka_records(read_records(path, entry.from_), entry.topic, declared[entry.topic])
        batches.append((entry.from_, plugin.namespace.topic(entry.topic), records))

    failures: list[tuple[str, bytes | None, bytes | None, str]] = []
    delivered = [0]
    unconfirmed = {KafkaError._MSG_TIMED_OUT, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT}

    def report(error: Any, message: Any) -> None:
        if error is None:
            delivered[0] += 1
        elif error.code() in unconfirmed:  # counted as not confirmed, not as refused
            return
        elif len(failures) < 10:
            failures.append((message.topic(), message.key(), message.value(), error.str()))

    def give_up() -> bool:
        """The run was aborted (Ctrl-C, another service failed) or the seed time is up."""
        return handle.abort.is_set() or time.monotonic() >= deadline

    total = sum(len(records) for _f, _t, records in batches)
    try:
        _produce_all(producer, batches, report, failures, give_up)
        # librdkafka's flush does not return to Python before its timeout: short slices, so
        # an abort is noticed at once
        while len(producer) and not give_up():
            producer.flush(min(SEED_POLL_SLICE, _deadline_left(deadline)))
    except _SeedStopped:
        pass
    left = len(producer)
    if left:
        # nothing more is sent: a broker that is gone takes no more of the run's time
        producer.purge(in_queue=True, in_flight=True, blocking=False)
    if handle.abort.is_set() and (left or delivered[0] < total):
        raise ServiceFailed(service, "seeding stopped: the run was aborted")
    if failures:
        topic, key, value, why = failures[0]
        file, line = _locate(batches, topic, key, value)
        shown = plugin.namespace.shown_physical_topic(topic)
        raise SeedError(
            file,
            line,
            f"service '{service}': the broker refused the record for topic {shown}: {why}",
        )
    if left or delivered[0] < total:
        raise ServiceFailed(
            service,
            f"seeding: {total - delivered[0]} of {total} records not confirmed within "
            f"{timeout:.0f}s; raise timeout_profiles.{service}.seed",
        )
    handle.resources.setdefault("seeded", []).extend(f"{t}:{len(r)}" for _f, t, r in batches)


class _SeedStopped(Exception):
    """Producing stopped early: the run was aborted, the seed time is up, or the broker
    refused a record."""


def _produce_all(
    producer: Any,
    batches: list[tuple[str, str, list[KafkaRecord]]],
    report: Callable[[Any, Any], None],
    failures: list[Any],
    give_up: Callable[[], bool],
) -> None:
    """Queue every record; :class:`_SeedStopped` when ``give_up`` says so or a record was
    refused (checked every 1000 records and while the queue is full)."""
    produce = producer.produce
    count = 0
    for _file, topic, records in batches:
        for record in records:
            kwargs: dict[str, Any] = {"key": record.key, "on_delivery": report}
            if record.headers:
                kwargs["headers"] = list(record.headers)
            if record.partition is not None:
                kwargs["partition"] = record.partition
            if record.timestamp is not None:
                kwargs["timestamp"] = record.timestamp
            while True:
                try:
                    produce(topic, record.value, **kwargs)
                    break
                except BufferError:  # the queue is full: wait for deliveries to make room
                    producer.poll(SEED_POLL_SLICE)
                    if give_up():
                        raise _SeedStopped from None
            count += 1
            if count % 1000 == 0:
                producer.poll(0)
                if failures or give_up():
                    raise _SeedStopped


def _locate(
    batches: list[tuple[str, str, list[Any]]], topic: str, key: bytes | None, value: bytes | None
) -> tuple[str, int | None]:
    """The seed file and line of a record the broker refused (found by its content)."""
    for file, physical, records in batches:
        if physical != topic:
            continue
        for record in records:
            if record.key == key and record.value == value:
                return file, record.line
        return file, None
    return topic, None


# -- inspection (envctl topics) -------------------------------------------------------------------


def describe_topics(
    plugin: KafkaService, handle: ServiceHandle, last: int, timeout: float
) -> list[dict[str, Any]]:
    """Each of the run's topics: partitions, offsets, message count, the newest messages."""
    admin = plugin._admin(handle, timeout)
    metadata = admin.list_topics(timeout=timeout)
    topics = run_topics(plugin, handle, metadata)
    consumer = _consumer(plugin, handle)
    try:
        partitions = [(t, p) for t in topics for p in sorted(metadata.topics[t].partitions)]
        reads = read_partitions(consumer, partitions, last, timeout)
    finally:
        consumer.close()
    result = []
    for topic in topics:
        mine = {p: r for (t, p), r in reads.items() if t == topic}
        newest = (
            sorted(
                (m for r in mine.values() for m in r.messages),
                key=lambda m: (m["timestamp"] or 0, m["partition"], m["offset"]),
            )[-last:]
            if last
            else []
        )
        result.append(
            {
                "topic": logical_topic(plugin, topic),
                "physical": topic,
                "partitions": {
                    str(p): {"start": r.start, "end": r.end, "messages": r.count}
                    for p, r in sorted(mine.items())
                },
                "messages": sum(r.count for r in mine.values()),
                "last": newest,
            }
        )
    return result


# -- snapshot and restore -------------------------------------------------------------------------


def snapshot(
    plugin: KafkaService, handle: ServiceHandle, target: Path, options: SnapshotOptions
) -> SnapshotResult:
    timeout = options.timeout
    admin = plugin._admin(handle, timeout)
    metadata = admin.list_topics(timeout=timeout)
    topics = run_topics(plugin, handle, metadata)
    configs = {plugin.namespace.topic(t.name): dict(t.config) for t in plugin.spec.topics}
    consumer = _consumer(plugin, handle)
    try:
        partitions = [(t, p) for t in topics for p in sorted(metadata.topics[t].partitions)]
        reads = read_partitions(consumer, partitions, options.max_messages, timeout)
    except (TimeoutError, RuntimeError) as exc:
        reason = plugin.namespace.shown_topics_in(str(exc))
        raise SnapshotError(f"service '{plugin.context.service}': {reason}") from None
    finally:
        consumer.close()

    (target / MESSAGES_DIR).mkdir(parents=True, exist_ok=True)
    topics_data: dict[str, Any] = {}
    truncated: list[str] = []
    total = 0
    for topic in topics:
        logical = logical_topic(plugin, topic)
        parts: dict[str, Any] = {}
        with open(target / MESSAGES_DIR / f"{logical}.jsonl", "w", encoding="utf-8") as out:
            for partition in sorted(metadata.topics[topic].partitions):
                read = reads[(topic, partition)]
                kept = list(read.messages)
                for message in kept:
                    out.write(json.dumps(message, ensure_ascii=False) + "\n")
                cut = read.count > len(kept)
                if cut:
                    truncated.append(f"{logical}[{partition}]")
                total += len(kept)
                parts[str(partition)] = {
                    "start": read.start,
                    "end": read.end,
                    "kept": len(kept),
                    "truncated": cut,
                }
        topics_data[logical] = {
            "physical": topic,
            "namespaced": plugin.namespace.logical_topic(topic) is not None,
            "partitions": len(parts),
            "config": configs.get(topic, {}),
            "offsets": parts,
        }
    groups = run_groups(plugin, handle, admin, topics, timeout)
    groups_data: dict[str, Any] = {}
    for group, offsets in sorted(groups.items()):
        logical_group = plugin.namespace.logical_group(group)
        by_topic: dict[str, dict[str, int]] = {}
        for (topic, partition), offset in sorted(offsets.items()):
            by_topic.setdefault(logical_topic(plugin, topic), {})[str(partition)] = offset
        groups_data[logical_group if logical_group is not None else group] = {
            "physical": group,
            "namespaced": logical_group is not None,
            "offsets": by_topic,
        }
    _write_json(target / TOPICS_FILE, {"topics": topics_data})
    _write_json(target / GROUPS_FILE, {"groups": groups_data})
    return SnapshotResult(
        truncated=bool(truncated),
        details={
            "topics": len(topics_data),
            "messages": total,
            "consumer_groups": len(groups_data),
            "truncated_partitions": truncated,
            "max_messages": options.max_messages,
        },
    )


def restore(plugin: KafkaService, handle: ServiceHandle, source: Path, timeout: float) -> list[str]:
    """Recreate the snapshot's topics with its messages and set its groups' offsets."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    service = plugin.context.service
    topics_data = _read_json(source / TOPICS_FILE)["topics"]
    groups_data = _read_json(source / GROUPS_FILE)["groups"]
    cut = [
        f"{t}[{p}]"
        for t, info in topics_data.items()
        for p, part in info["offsets"].items()
        if part["truncated"]
    ]
    if cut:
        raise SnapshotError(
            f"service '{service}': the snapshot kept only the newest messages of "
            f"{', '.join(cut)} (snapshot.max_messages), so it cannot be restored exactly; "
            "take it again with a higher --max-messages"
        )
    deadline = time.monotonic() + timeout
    namespace = plugin.namespace
    admin = plugin._admin(handle, timeout)
    metadata = admin.list_topics(timeout=timeout)
    current = run_topics(plugin, handle, metadata)
    wanted = {
        namespace.topic(t) if info["namespaced"] else info["physical"]: (t, info)
        for t, info in topics_data.items()
    }
    current_groups = run_groups(plugin, handle, admin, current, timeout)
    notes: list[str] = []

    # 1. groups first: a group's offsets cannot be reset while it has members
    wanted_groups = {
        namespace.group(g) if info["namespaced"] else info["physical"]: info
        for g, info in groups_data.items()
    }
    recorded_groups = set(handle.resources.get("consumer_groups", []))
    for group in sorted(set(current_groups) | set(wanted_groups)):
        if group in recorded_groups or namespace.owns_group(group):
            _delete_group(admin, group, service, namespace, timeout)
        elif group not in wanted_groups:
            # shared with others (naming.group without {run}): never deleted by a restore
            notes.append(
                f"{service}: consumer group {namespace.shown_physical_group(group)} is not the "
                "run's own; its offsets on the "
                "run's topics were left as they are"
            )

    # 2. topics: delete every topic of the run, recreate the snapshot's ones
    _delete_topics(admin, sorted(set(current) | set(wanted)), _deadline_left(deadline))
    requests = [
        TopicRequest(name, info["partitions"], info.get("config") or {})
        for name, (_t, info) in wanted.items()
    ]
    try:
        create_topics(admin, requests, max(1.0, _deadline_left(deadline)), existing="retry")
    except TopicsNotCreated as exc:
        reason = namespace.shown_topics_in(str(exc))
        raise SnapshotError(
            f"service '{plugin.context.service}': cannot recreate topics: {reason}"
        ) from None

    # 3. messages, in offset order per partition, with their partitions and timestamps
    producer = _producer(plugin, handle, _deadline_left(deadline))
    failures: list[str] = []
    moved: list[str] = []

    def report(expected: int, error: Any, message: Any) -> None:
        if error is not None:
            failures.append(error.str())
        elif message.offset() != expected and len(moved) < 5:
            topic = namespace.shown_physical_topic(message.topic())
            moved.append(f"{topic}[{message.partition()}] {expected}->{message.offset()}")

    count = 0
    for physical, (logical, _info) in wanted.items():
        for message in _read_jsonl(source / MESSAGES_DIR / f"{logical}.jsonl"):
            kwargs: dict[str, Any] = {
                "key": from_text_or_base64(message["key"]),
                "partition": message["partition"],
                "headers": [(k, from_text_or_base64(v)) for k, v in message["headers"]] or None,
                "on_delivery": functools.partial(report, message["offset"]),
            }
            if message.get("timestamp") is not None:
                kwargs["timestamp"] = message["timestamp"]
            while True:
                try:
                    producer.produce(physical, from_text_or_base64(message["value"]), **kwargs)
                    break
                except BufferError:
                    producer.poll(SEED_POLL_SLICE)
                    if not _deadline_left(deadline):
                        raise SnapshotError(
                            f"service '{service}': restoring messages did not finish within "
                            f"{timeout:.0f}s (the broker takes no more)"
                        ) from None
            count += 1
            if count % 1000 == 0:
                producer.poll(0)
    left = producer.flush(_deadline_left(deadline))
    if failures or left:
        why = failures[0] if failures else f"{left} messages not confirmed in time"
        raise SnapshotError(f"service '{service}': restoring messages failed: {why}")
    if moved:
        notes.append(
            f"{service}: some messages got new offsets (the topic's log did not start at 0 "
            f"when the snapshot was taken): {', '.join(moved)}"
        )

    # 4. committed offsets of the snapshot's groups
    for group, info in wanted_groups.items():
        partitions = [
            TopicPartition(
                namespace.topic(t) if topics_data.get(t, {}).get("namespaced") else t,
                int(p),
                offset,
            )
            for t, parts in info["offsets"].items()
            for p, offset in parts.items()
        ]
        if not partitions:
            continue
        future = admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, partitions)]
        )[group]
        try:
            future.result(timeout=max(1.0, _deadline_left(deadline)))
        except Exception as exc:  # noqa: BLE001 - reported with the group's name
            raise SnapshotError(
                f"service '{service}': cannot set the offsets of consumer group "
                f"{namespace.shown_physical_group(group)}: {_kafka_error(exc)}"
            ) from None
    return notes


def _delete_group(
    admin: Any, group: str, service: str, namespace: Namespace, timeout: float
) -> None:
    from confluent_kafka import KafkaError, KafkaException

    shown = namespace.shown_physical_group(group)

    future = admin.delete_consumer_groups([group], request_timeout=timeout)[group]
    try:
        future.result(timeout=timeout)
    except KafkaException as exc:
        code = exc.args[0].code() if exc.args and hasattr(exc.args[0], "code") else None
        if code in (KafkaError.GROUP_ID_NOT_FOUND,):
            return
        if code == KafkaError.NON_EMPTY_GROUP:
            raise SnapshotError(
                f"service '{service}': consumer group {shown} has active members; stop its "
                "consumers before restoring"
            ) from None
        raise SnapshotError(
            f"service '{service}': cannot delete consumer group {shown}: {_kafka_error(exc)}"
        ) from None


def _delete_topics(admin: Any, topics: list[str], timeout: float) -> None:
    if not topics:
        return
    for future in admin.delete_topics(topics, operation_timeout=timeout).values():
        with contextlib.suppress(Exception):  # already gone is fine
            future.result(timeout=max(1.0, timeout))
    poll_until(
        lambda: not set(topics) & set(admin.list_topics(timeout=5).topics),
        timeout=max(1.0, timeout),
    )


# -- cleanup --------------------------------------------------------------------------------------


def cleanup(
    plugin: KafkaService, handle: ServiceHandle, timeout: float, kinds: Collection[str] | None
) -> None:
    """Remove the run's consumer groups and topics (as ``kinds`` says); raise on failure."""
    remove_groups = kinds is None or "consumer_groups" in kinds
    remove_topics = kinds is None or "topics" in kinds
    if not (remove_groups or remove_topics):
        return
    admin = plugin._shared_admin(handle, timeout)
    metadata = admin.list_topics(timeout=timeout)
    problems: list[str] = []
    if remove_groups:
        namespace = plugin.namespace
        recorded = set(handle.resources.get("consumer_groups", []))
        try:
            groups = [
                g for g in list_groups(admin, timeout) if g in recorded or namespace.owns_group(g)
            ]
        except Exception as exc:  # noqa: BLE001 - a broker without ListGroups: report, go on
            groups = []
            problems.append(f"cannot list consumer groups: {_kafka_error(exc)}")
        for group in groups:
            try:
                _delete_group(admin, group, plugin.context.service, namespace, timeout)
            except SnapshotError as exc:
                problems.append(str(exc))
    if remove_topics:
        topics = run_topics(plugin, handle, metadata)
        for name, future in (
            admin.delete_topics(topics, operation_timeout=timeout).items() if topics else []
        ):
            try:
                future.result(timeout=timeout)
            except Exception as exc:  # noqa: BLE001 - already gone is fine; others reported
                text = _kafka_error(exc)
                if "UNKNOWN_TOPIC" not in text.upper() and "unknown topic" not in text.lower():
                    shown = plugin.namespace.shown_physical_topic(name)
                    problems.append(f"cannot delete topic {shown}: {text}")
    if problems:
        raise ServiceFailed(plugin.context.service, "; ".join(problems))


# -- files ----------------------------------------------------------------------------------------


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"cannot read {path}: {exc}") from None


def _read_jsonl(path: Path) -> Iterable[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
