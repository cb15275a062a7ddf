"""The in-memory event bus keeps Kafka's semantics (partitions, offsets, groups, headers)."""

from __future__ import annotations

import asyncio
import inspect
import threading
import uuid

import pytest

from envctl.tools import (
    AsyncInMemoryEventBus,
    InMemoryEventBus,
    correlation_scope,
    current_correlation_id,
)
from envctl.tools.codec import partition_for_key
from envctl.tools.errors import EventBusError, ToolClosed, UnknownPartition, UnknownTopic

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def bus(namespace: str) -> InMemoryEventBus:
    return InMemoryEventBus(namespace, topics={"orders": 3, "invoices": 1})


# -- partitions and offsets --------------------------------------------------------------------
def test_same_key_same_partition_as_kafka_would_choose(bus: InMemoryEventBus) -> None:
    for key in ["a", "b", "c", "21", "foobar", "customer-42"]:
        first = bus.publish("orders", {"n": 1}, key=key)
        second = bus.publish("orders", {"n": 2}, key=key)
        assert first.partition == second.partition == partition_for_key(key.encode(), 3)
        assert second.offset == first.offset + 1


def test_offsets_count_per_partition(bus: InMemoryEventBus) -> None:
    deliveries = [bus.publish("orders", i, partition=i % 3) for i in range(7)]
    assert [(d.partition, d.offset) for d in deliveries] == [
        (0, 0),
        (1, 0),
        (2, 0),
        (0, 1),
        (1, 1),
        (2, 1),
        (0, 2),
    ]


def test_keyless_messages_spread_round_robin(bus: InMemoryEventBus) -> None:
    partitions = [bus.publish("orders", "x").partition for _ in range(6)]
    assert sorted(partitions) == [0, 0, 1, 1, 2, 2]


def test_unknown_partition_is_an_error(bus: InMemoryEventBus) -> None:
    with pytest.raises(UnknownPartition, match="has 3 partition"):
        bus.publish("orders", "x", partition=3)


def test_publish_to_a_missing_topic_is_an_error_unless_auto_create(namespace: str) -> None:
    strict = InMemoryEventBus(namespace)
    with pytest.raises(UnknownTopic, match="topic 'nope' does not exist"):
        strict.publish("nope", "x")
    relaxed = InMemoryEventBus(namespace, auto_create_topics=True)
    assert relaxed.publish("nope", "x").partition == 0
    assert strict.publish("nope", "y").offset == 1  # it exists now, for everyone


def test_consume_waits_for_a_missing_topic_then_fails(bus: InMemoryEventBus) -> None:
    with pytest.raises(UnknownTopic, match="'later'"):
        bus.consume("later", timeout=0.05)


def test_create_topic_is_idempotent_and_validates(bus: InMemoryEventBus) -> None:
    bus.create_topic("fresh", partitions=2)
    bus.create_topic("fresh", partitions=5)
    assert bus.publish("fresh", "x", partition=1).partition == 1
    with pytest.raises(UnknownPartition):
        bus.publish("fresh", "x", partition=2)
    with pytest.raises(EventBusError, match="topic name"):
        bus.create_topic("bad name")


# -- values, headers, correlation ids ----------------------------------------------------------
def test_message_carries_key_value_headers_and_timestamp(bus: InMemoryEventBus) -> None:
    bus.publish("invoices", {"total": 10}, key="k", headers={"source": "test"})
    (message,) = bus.consume("invoices", timeout=1)
    assert message.key == "k"
    assert message.value == {"total": 10}
    assert message.headers["source"] == "test"
    assert message.headers["content-type"] == "application/json"
    assert message.timestamp > 0
    assert (message.topic, message.partition, message.offset) == ("invoices", 0, 0)


def test_every_message_gets_a_uuid4_correlation_id(bus: InMemoryEventBus) -> None:
    first = bus.publish("invoices", "a")
    second = bus.publish("invoices", "b")
    assert first.correlation_id != second.correlation_id
    assert uuid.UUID(first.correlation_id).version == 4
    messages = bus.consume("invoices", count=2, timeout=1)
    assert [m.correlation_id for m in messages] == [first.correlation_id, second.correlation_id]


def test_a_given_correlation_id_wins(bus: InMemoryEventBus) -> None:
    with correlation_scope("from-scope"):
        delivery = bus.publish("invoices", "a", headers={"correlation_id": "given"})
    assert delivery.correlation_id == "given"


def test_correlation_scope_carries_the_id_through_consume_then_produce(
    bus: InMemoryEventBus,
) -> None:
    origin = bus.publish("orders", {"order": 1}, key="o1")
    for message in bus.subscribe("orders", group="billing", idle_timeout=0.1):
        with correlation_scope(message) as scoped:
            assert scoped == origin.correlation_id == current_correlation_id()
            bus.publish("invoices", {"for": message.value["order"]})
    assert current_correlation_id() is None
    (invoice,) = bus.consume("invoices", timeout=1)
    assert invoice.correlation_id == origin.correlation_id


def test_correlation_scope_without_id_shares_a_fresh_one(bus: InMemoryEventBus) -> None:
    with correlation_scope() as scoped:
        ids = {bus.publish("invoices", i).correlation_id for i in range(3)}
    assert ids == {scoped}


# -- consume -----------------------------------------------------------------------------------
def test_consume_returns_in_publish_order_and_fewer_on_timeout(bus: InMemoryEventBus) -> None:
    for i in range(3):
        bus.publish("orders", i, key=str(i))
    assert [m.value for m in bus.consume("orders", count=3, timeout=1)] == [0, 1, 2]
    assert [m.value for m in bus.consume("orders", count=5, timeout=0.05)] == [0, 1, 2]


def test_consume_not_from_beginning_sees_only_new_messages(bus: InMemoryEventBus) -> None:
    bus.publish("invoices", "old")

    def later() -> None:
        bus.publish("invoices", "new")

    timer = threading.Timer(0.05, later)
    timer.start()
    try:
        messages = bus.consume("invoices", timeout=5, from_beginning=False)
    finally:
        timer.join()
    assert [m.value for m in messages] == ["new"]


def test_consume_with_a_group_commits_what_it_returns(bus: InMemoryEventBus) -> None:
    for i in range(4):
        bus.publish("invoices", i)
    assert bus.list_consumer_groups() == []
    assert [m.value for m in bus.consume("invoices", count=3, group="g", timeout=1)] == [0, 1, 2]
    assert [m.value for m in bus.consume("invoices", count=3, group="g", timeout=0.05)] == [3]
    assert bus.consume("invoices", group="g", timeout=0.05) == []
    assert [m.value for m in bus.consume("invoices", count=4, timeout=1)] == [0, 1, 2, 3]
    assert bus.list_consumer_groups() == ["g"]


# -- subscriptions -----------------------------------------------------------------------------
def test_subscription_resumes_from_its_group_commit(bus: InMemoryEventBus) -> None:
    for i in range(3):
        bus.publish("invoices", i)
    with bus.subscribe("invoices", "workers", idle_timeout=0.05) as sub:
        assert sub.poll(1).value == 0  # type: ignore[union-attr]
        assert sub.poll(1).value == 1  # type: ignore[union-attr]
        sub.commit()
        assert sub.poll(1).value == 2  # type: ignore[union-attr]
        # not committed: the next member of the group sees it again
    with bus.subscribe("invoices", "workers", idle_timeout=0.05) as again:
        assert [m.value for m in again] == [2]


def test_group_members_share_partitions(bus: InMemoryEventBus) -> None:
    for p in range(3):
        bus.publish("orders", f"p{p}", partition=p)
    first = bus.subscribe("orders", "shared", idle_timeout=0.05)
    second = bus.subscribe("orders", "shared", idle_timeout=0.05)
    got_first = {m.partition for m in first}
    got_second = {m.partition for m in second}
    assert got_first == {0, 2}
    assert got_second == {1}
    first.close()
    second.close()


def test_leaving_member_hands_over_its_partitions(bus: InMemoryEventBus) -> None:
    for p in range(3):
        bus.publish("orders", f"p{p}", partition=p)
    stays = bus.subscribe("orders", "g", idle_timeout=0.05)
    leaves = bus.subscribe("orders", "g", idle_timeout=0.05)
    assert {m.partition for m in stays} == {0, 2}
    stays.commit()
    leaves.close()
    assert {m.partition for m in stays} == {1}
    stays.close()


def test_subscription_iterates_until_idle_and_refuses_after_close(bus: InMemoryEventBus) -> None:
    sub = bus.subscribe(["orders", "invoices"], "g", idle_timeout=0.05)
    bus.publish("invoices", "x")
    assert [m.value for m in sub] == ["x"]
    sub.close()
    sub.close()
    with pytest.raises(ToolClosed):
        sub.poll(0)


def test_subscribe_not_from_beginning(bus: InMemoryEventBus) -> None:
    bus.publish("invoices", "before")
    sub = bus.subscribe("invoices", "late", from_beginning=False, idle_timeout=0.05)
    bus.publish("invoices", "after")
    assert [m.value for m in sub] == ["after"]
    sub.close()


# -- shared state, cleanup, close --------------------------------------------------------------
def test_two_buses_of_one_namespace_share_topics(namespace: str) -> None:
    producer = InMemoryEventBus(namespace, topics={"t": 1})
    consumer = InMemoryEventBus(namespace)
    producer.publish("t", "hello")
    assert [m.value for m in consumer.consume("t", timeout=1)] == ["hello"]
    other = InMemoryEventBus(namespace + "-other")
    with pytest.raises(UnknownTopic):
        other.publish("t", "x")


def test_cleanup_deletes_used_topics_and_groups(bus: InMemoryEventBus, namespace: str) -> None:
    bus.publish("orders", "x")
    bus.consume("orders", group="g1", timeout=1)
    sub = bus.subscribe("orders", "g2", idle_timeout=0.05)
    list(sub)
    sub.commit()
    assert bus.list_consumer_groups() == ["g1", "g2"]
    bus.cleanup()
    assert bus.list_consumer_groups() == []
    with pytest.raises(UnknownTopic):
        bus.publish("orders", "x")
    # untouched topics stay
    bus.publish("invoices", "still here")


def test_cleanup_refuses_a_group_someone_else_is_in(namespace: str) -> None:
    mine = InMemoryEventBus(namespace, topics={"t": 1})
    theirs = InMemoryEventBus(namespace)
    mine.consume("t", group="busy", timeout=0.01)
    mine.publish("t", 1)
    mine.consume("t", group="busy", timeout=1)
    sub = theirs.subscribe("t", "busy", idle_timeout=0.05)
    with pytest.raises(EventBusError, match=r"group 'busy'.*not empty"):
        mine.cleanup()
    sub.close()


def test_closed_bus_refuses_work_but_still_cleans_up(bus: InMemoryEventBus) -> None:
    bus.publish("orders", "x")
    bus.close()
    bus.close()
    with pytest.raises(ToolClosed):
        bus.publish("orders", "x")
    bus.cleanup(groups=False)
    with pytest.raises(UnknownTopic):
        InMemoryEventBus(bus.namespace).publish("orders", "x")


# -- async face --------------------------------------------------------------------------------
def test_async_face_consume_waits_while_another_task_publishes(bus: InMemoryEventBus) -> None:
    async def scenario() -> list[object]:
        aio = bus.aio
        waiting = asyncio.create_task(aio.consume("invoices", count=2, timeout=5))
        await asyncio.sleep(0.05)
        await aio.publish("invoices", {"n": 1})
        await aio.publish("invoices", {"n": 2})
        return [m.value for m in await waiting]

    assert asyncio.run(scenario()) == [{"n": 1}, {"n": 2}]


def test_async_face_carries_correlation_scope_and_subscribes(bus: InMemoryEventBus) -> None:
    async def scenario() -> tuple[str, list[str | None]]:
        aio = bus.aio
        with correlation_scope("async-chain"):
            delivery = await aio.publish("invoices", "x")
        seen = []
        async with await aio.subscribe("invoices", "ag", idle_timeout=0.05) as sub:
            async for message in sub:
                seen.append(message.correlation_id)
            await sub.commit()
        assert await aio.list_consumer_groups() == ["ag"]
        await aio.cleanup()
        await aio.close()
        return delivery.correlation_id, seen

    assert asyncio.run(scenario()) == ("async-chain", ["async-chain"])


def test_async_class_takes_the_sync_arguments_and_is_the_aio_face(namespace: str) -> None:
    assert inspect.signature(AsyncInMemoryEventBus) == inspect.signature(InMemoryEventBus)
    assert type(InMemoryEventBus(namespace).aio) is AsyncInMemoryEventBus

    async def scenario() -> tuple[int, int]:
        aio = AsyncInMemoryEventBus(namespace, topics={"direct": 2})
        delivery = await aio.publish("direct", "x", partition=1)
        await aio.close()
        return delivery.partition, delivery.offset

    assert asyncio.run(scenario()) == (1, 0)
    # built with the sync class's arguments, on the same state as a sync bus of the namespace
    assert [m.value for m in InMemoryEventBus(namespace).consume("direct", to_end=True)] == ["x"]
