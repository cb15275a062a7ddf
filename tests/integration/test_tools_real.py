"""The real tools against real services: KafkaEventBus on the local Tansu broker,
PostgresStore and RedisStore on the locally built images.

Each test writes its scenario into ``tmp_path``, brings it up with ``envctl up --json`` (a
subprocess, as a user would), builds the tools through the registry from the printed
endpoints, and always ends with ``envctl down --run-id`` plus a check that nothing labelled
with the run is left. Where a mock claims the real tool's semantics, the same script runs
against both and the answers are compared.
"""

from __future__ import annotations

import asyncio
import textwrap
import threading
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from support import managed_resources, run_envctl, up_json

from envctl.scenario import load_scenario
from envctl.scenario.spec import DependencyMode
from envctl.tools import (
    InMemoryEventBus,
    InMemoryKeyValueStore,
    KafkaEventBus,
    PostgresStore,
    RedisStore,
    ResolvedTools,
    SqliteSqlStore,
    correlation_scope,
    resolve_tools,
)
from envctl.tools.errors import (
    KeyValueError,
    PublishTimeout,
    RequiresRegistryWarning,
    SqlError,
    SyncCallInEventLoop,
    UnknownTopic,
)
from envctl.tools.mock import reset_mock_state

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

KAFKA = """
kafka:
  type: kafka
"""
POSTGRES = """
db:
  type: postgres
"""
REDIS = """
cache:
  type: redis
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def tools_for(
    tmp_path: Path, env: dict[str, str], docker_client: Any, services: str
) -> Iterator[tuple[ResolvedTools, dict[str, Any]]]:
    """``envctl up --json`` a scenario of ``services``; yield its real tools and the up JSON.

    Always closes the tools, runs ``envctl down --run-id`` and checks nothing is left.
    """
    name = unique("tools").replace("-", "_")
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir(exist_ok=True)
    path = scenarios / f"scenario_{name}.yaml"
    body = textwrap.indent(textwrap.dedent(services).strip(), "  ")
    path.write_text(
        f"name: {name}\ndependency_mode: real\nexternal_services:\n{body}\n", encoding="utf-8"
    )
    run_id: str | None = None
    tools: ResolvedTools | None = None
    try:
        result = run_envctl(
            "--scenarios-dir", str(scenarios), "up", "--scenario", name, "--json", env=env
        )
        data = up_json(result)
        run_id = data["run_id"]
        scenario = load_scenario(path, {})
        endpoints = {service: dict(state) for service, state in data["services"].items()}
        with warnings.catch_warnings():
            warnings.simplefilter("error", RequiresRegistryWarning)  # the registry is quiet
            tools = resolve_tools(scenario, endpoints, DependencyMode.REAL)
        yield tools, data
    finally:
        if tools is not None:
            tools.close()
        if run_id is not None:
            down = run_envctl("down", "--run-id", run_id, env=env)
            assert down.returncode == 0, down.stderr
            assert managed_resources(docker_client, run_id) == []


@pytest.fixture
def kafka(tmp_path: Path, test_env: dict[str, str], docker_client: Any) -> Iterator[KafkaEventBus]:
    with tools_for(tmp_path, test_env, docker_client, KAFKA) as (tools, _):
        bus = tools.event_bus()
        assert isinstance(bus, KafkaEventBus)
        yield bus


def admin_for(bus: KafkaEventBus) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bus.bootstrap_servers})


# -- Kafka -------------------------------------------------------------------------------------
def bus_script(bus: Any, topic: str) -> list[Any]:
    """Publish and consume through any event bus; what it returns must not depend on which."""
    bus.create_topic(topic, partitions=3)
    seen: list[Any] = []
    for i, key in enumerate(["a", "b", "c", "21", "foobar", "a"]):
        delivery = bus.publish(topic, {"i": i}, key=key, headers={"source": "script"})
        seen.append(("delivered", delivery.partition, delivery.offset))
    seen.append(("explicit", bus.publish(topic, b"\x00raw", partition=2).partition))
    messages = bus.consume(topic, count=7, timeout=10)
    seen += sorted(
        (m.partition, m.offset, m.key, m.value, m.headers.get("source"), bool(m.correlation_id))
        for m in messages
    )
    group = f"{topic}-group"
    first = bus.consume(topic, count=4, timeout=10, group=group)
    rest = bus.consume(topic, count=10, timeout=1, group=group)
    seen.append(
        ("group", len(first), len(rest), len({(m.partition, m.offset) for m in first + rest}))
    )
    seen.append(("groups", group in bus.list_consumer_groups()))
    with pytest.raises(UnknownTopic):
        bus.publish(f"{topic}-missing", "x")
    return seen


def test_kafka_bus_behaves_like_its_mock(kafka: KafkaEventBus) -> None:
    topic = unique("orders")
    real = bus_script(kafka, topic)
    namespace = unique("ns")
    try:
        mock = bus_script(InMemoryEventBus(namespace), topic)
    finally:
        reset_mock_state(namespace)
    assert real == mock
    assert ("group", 4, 3, 7) in real


def test_consume_not_from_beginning_sees_only_later_messages(kafka: KafkaEventBus) -> None:
    topic = unique("events")
    kafka.create_topic(topic)
    kafka.publish(topic, "old")
    timer = threading.Timer(1.0, lambda: kafka.publish(topic, "new"))
    timer.start()
    try:
        messages = kafka.consume(topic, timeout=15, from_beginning=False)
    finally:
        timer.join()
    assert [m.value for m in messages] == ["new"]


def test_subscribe_with_group_resumes_after_commit(kafka: KafkaEventBus) -> None:
    topic = unique("jobs")
    group = unique("workers")
    kafka.create_topic(topic, partitions=2)
    for i in range(4):
        kafka.publish(topic, {"job": i}, key=str(i))
    with kafka.subscribe(topic, group, idle_timeout=15) as subscription:
        got = [next(subscription) for _ in range(4)]
        subscription.commit()
    assert sorted(m.value["job"] for m in got) == [0, 1, 2, 3]
    assert group in kafka.list_consumer_groups()
    kafka.publish(topic, {"job": 4}, key="4")
    with kafka.subscribe(topic, group, idle_timeout=15) as again:
        message = again.poll(15)
        assert message is not None and message.value == {"job": 4}
        assert again.poll(1) is None  # the committed ones are not delivered again


def test_correlation_id_survives_produce_consume_produce(kafka: KafkaEventBus) -> None:
    orders, invoices = unique("orders"), unique("invoices")
    kafka.create_topic(orders)
    kafka.create_topic(invoices)
    origin = kafka.publish(orders, {"order": 7}, headers={"correlation_id": "order-7-chain"})
    assert origin.correlation_id == "order-7-chain"
    with kafka.subscribe(orders, unique("billing"), idle_timeout=15) as subscription:
        order = next(subscription)
        assert order.correlation_id == "order-7-chain"
        with correlation_scope(order):
            kafka.publish(invoices, {"invoice_for": order.value["order"]})
        subscription.commit()
    (invoice,) = kafka.consume(invoices, timeout=10)
    assert invoice.value == {"invoice_for": 7}
    assert invoice.correlation_id == "order-7-chain"
    assert invoice.headers["correlation_id"] == "order-7-chain"


def test_cleanup_deletes_topics_and_groups_on_the_broker(kafka: KafkaEventBus) -> None:
    topic, other = unique("temp"), unique("kept")
    group, subscribed = unique("reader"), unique("subscriber")
    admin = admin_for(kafka)
    from confluent_kafka.admin import NewTopic

    # a topic the bus never touched stays
    admin.create_topics([NewTopic(other, num_partitions=1)])[other].result(timeout=10)
    kafka.create_topic(topic, partitions=2)
    kafka.publish(topic, "x")
    kafka.consume(topic, group=group, timeout=10)
    with kafka.subscribe(topic, subscribed, idle_timeout=15) as subscription:
        next(subscription)
        subscription.commit()
    assert {group, subscribed} <= set(kafka.list_consumer_groups())

    kafka.cleanup()

    listed = admin.list_consumer_groups().result(timeout=10)
    groups = {g.group_id for g in listed.valid}
    assert group not in groups and subscribed not in groups
    topics = set(admin.list_topics(timeout=10).topics)
    assert topic not in topics
    assert other in topics


def test_publish_to_a_missing_topic_fails_at_once(kafka: KafkaEventBus) -> None:
    with pytest.raises(UnknownTopic, match=f"on {kafka.bootstrap_servers}"):
        kafka.publish(unique("never-created"), "x")


def test_publish_without_acknowledgement_times_out(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    with tools_for(tmp_path, test_env, docker_client, KAFKA) as (tools, data):
        topic = unique("slow")
        tools.event_bus().create_topic(topic)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RequiresRegistryWarning)
            bus = KafkaEventBus(tools.event_bus().bootstrap_servers, publish_ack=1.5)
        bus.publish(topic, "warm")  # connected, producer id assigned, metadata known
        container = docker_client.containers.get(data["services"]["kafka"]["container"])
        container.pause()
        try:
            with pytest.raises(PublishTimeout, match=rf"topic '{topic}'.*within 1.5s"):
                bus.publish(topic, "lost")
        finally:
            container.unpause()
        bus.close()


def test_async_face_inside_a_running_loop(kafka: KafkaEventBus) -> None:
    topic = unique("async")
    group = unique("async-group")

    async def scenario() -> tuple[list[int], list[int], str]:
        aio = kafka.aio
        await aio.create_topic(topic, partitions=2)
        # the sync face refuses inside the loop, at once
        with pytest.raises(SyncCallInEventLoop):
            kafka.publish(topic, "blocked")
        waiting = asyncio.create_task(aio.consume(topic, count=5, timeout=20))
        deliveries = await asyncio.gather(
            *(aio.publish(topic, {"n": n}, key=str(n)) for n in range(5))
        )
        consumed = sorted(m.value["n"] for m in await waiting)
        subscribed: list[int] = []
        # idle_timeout covers the first group join (about 3 s on the local broker)
        async with await aio.subscribe(topic, group, idle_timeout=15) as subscription:
            async for message in subscription:
                subscribed.append(message.value["n"])
                if len(subscribed) == len(deliveries):
                    break
            await subscription.commit()
        groups = await aio.list_consumer_groups()
        await aio.cleanup()
        return consumed, sorted(subscribed), "yes" if group in groups else "no"

    consumed, subscribed, listed = asyncio.run(scenario())
    assert consumed == subscribed == [0, 1, 2, 3, 4]
    assert listed == "yes"


# -- Postgres ----------------------------------------------------------------------------------
def sql_script(store: Any) -> list[Any]:
    """SQL both databases understand; the answers must not depend on which ran it."""
    table = f"t_{uuid.uuid4().hex[:8]}"
    seen: list[Any] = [
        store.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)"),
        store.execute(f"INSERT INTO {table} VALUES (%s, %s, %s)", [1, "ada", 3]),
        store.execute(
            f"INSERT INTO {table} VALUES (%(id)s, %(name)s, %(qty)s)",
            {"id": 2, "name": "it's 100%", "qty": 5},
        ),
        store.execute(f"UPDATE {table} SET qty = qty + 1"),
        store.query(f"SELECT id, name, qty FROM {table} ORDER BY id"),
        store.query(f"SELECT name FROM {table} WHERE name LIKE %s", ["%100%%"]),
        store.execute(f"SELECT * FROM {table}"),
        store.execute(f"INSERT INTO {table} VALUES (3, 'x', 1); DELETE FROM {table} WHERE id >= 2"),
        store.query(f"SELECT 1 AS one; SELECT count(*) AS n FROM {table}"),
    ]
    with pytest.raises(SqlError) as failure:
        store.execute(f"INSERT INTO {table} VALUES (1, 'dup', 0)")
    seen.append("duplicate" in str(failure.value) or "UNIQUE" in str(failure.value))
    store.execute(f"DROP TABLE {table}")
    return seen


def test_postgres_store_round_trip_and_mock_parity(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    with tools_for(tmp_path, test_env, docker_client, POSTGRES) as (tools, _):
        db = tools.sql_store()
        assert isinstance(db, PostgresStore)
        real = sql_script(db)
        namespace = unique("ns")
        try:
            mock = sql_script(SqliteSqlStore(namespace))
        finally:
            reset_mock_state(namespace)
        assert real == mock
        assert real[4] == [
            {"id": 1, "name": "ada", "qty": 4},
            {"id": 2, "name": "it's 100%", "qty": 6},
        ]

        async def from_a_loop() -> list[dict[str, Any]]:
            with pytest.raises(SyncCallInEventLoop):
                db.query("SELECT 1")
            await db.aio.execute("CREATE TABLE async_rows (n INTEGER)")
            await asyncio.gather(
                *(db.aio.execute("INSERT INTO async_rows VALUES (%s)", [n]) for n in range(5))
            )
            rows = await db.aio.query("SELECT sum(n) AS total FROM async_rows")
            await db.aio.execute("DROP TABLE async_rows")
            return rows

        assert asyncio.run(from_a_loop()) == [{"total": 10}]
        assert asyncio.run(db.aio.query("SELECT 2 AS two")) == [{"two": 2}]  # a second loop


# -- Redis -------------------------------------------------------------------------------------
def kv_script(store: Any, sleep: Callable[[float], None]) -> list[Any]:
    """Key-value operations; the answers must not depend on Redis or the mock."""
    prefix = f"k{uuid.uuid4().hex[:6]}:"
    store.set(prefix + "s", "text")
    store.set(prefix + "n", 5)
    store.set(prefix + "f", 2.5)
    store.set(prefix + "ttl", "short", ttl=0.3)
    seen: list[Any] = [
        [store.get(prefix + k) for k in ("s", "n", "f", "ttl", "missing")],
        store.hset(prefix + "h", {"a": 1, "b": "two"}),
        store.hset(prefix + "h", {"b": 2, "c": 3}),
        store.hgetall(prefix + "h"),
        store.hgetall(prefix + "none"),
        [k.removeprefix(prefix) for k in store.keys(prefix + "*")],
        [k.removeprefix(prefix) for k in store.keys(prefix + "[fn]")],
    ]
    for call in (lambda: store.get(prefix + "h"), lambda: store.hgetall(prefix + "s")):
        with pytest.raises(KeyValueError) as failure:
            call()
        seen.append(str(failure.value).split()[0])
    sleep(0.5)
    seen.append(store.get(prefix + "ttl"))
    seen.append(store.delete(prefix + "s", prefix + "h", prefix + "missing"))
    seen.append(store.delete(*store.keys(prefix + "*")))
    return seen


def test_redis_store_round_trip_and_mock_parity(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    import time

    with tools_for(tmp_path, test_env, docker_client, REDIS) as (tools, _):
        kv = tools.kv_store()
        assert isinstance(kv, RedisStore)
        real = kv_script(kv, time.sleep)
        namespace = unique("ns")
        try:
            mock = kv_script(InMemoryKeyValueStore(namespace), time.sleep)
        finally:
            reset_mock_state(namespace)
        assert real == mock
        assert real[0] == ["text", "5", "2.5", "short", None]
        assert real[-5:-3] == ["WRONGTYPE", "WRONGTYPE"]

        async def from_a_loop() -> tuple[str | None, dict[str, str], int]:
            with pytest.raises(SyncCallInEventLoop):
                kv.get("x")
            aio = kv.aio
            await asyncio.gather(*(aio.set(f"async:{n}", n) for n in range(5)))
            await aio.hset("async:h", {"f": "v"})
            result = (await aio.get("async:3"), await aio.hgetall("async:h"), 0)
            deleted = await aio.delete(*await aio.keys("async:*"))
            return result[0], result[1], deleted

        assert asyncio.run(from_a_loop()) == ("3", {"f": "v"}, 6)


def test_a_frozen_postgres_fails_a_statement_at_its_timeout_not_never(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    """Issue 10 §3b: a paused Postgres hung a `sql:` step for 206 s. A paused container
    still ACKs TCP, so only envctl's own deadline can end the wait."""
    from envctl.tools.errors import StoreError

    with tools_for(tmp_path, test_env, docker_client, POSTGRES) as (tools, data):
        db = tools.sql_store()
        assert isinstance(db, PostgresStore)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RequiresRegistryWarning)
            quick = PostgresStore(db.dsn, connect_timeout=10, statement_timeout=5)
        assert quick.query("SELECT 1 AS one") == [{"one": 1}]
        container = docker_client.containers.get(data["services"]["db"]["container"])
        outcome: dict[str, BaseException] = {}

        async def async_face() -> None:
            await quick.aio.query("SELECT 1")  # this loop's connection, made while it answers
            await asyncio.to_thread(container.pause)
            try:
                await quick.aio.query("SELECT 3")
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome["async"] = exc

        def frozen_queries() -> None:
            asyncio.run(async_face())
            try:
                quick.query("SELECT 2")
            except BaseException as exc:  # noqa: BLE001 - inspected below
                outcome["sync"] = exc

        worker = threading.Thread(target=frozen_queries, daemon=True)
        try:
            worker.start()
            worker.join(timeout=60)  # a bound for the test itself, far above the 5 s deadline
            assert not worker.is_alive(), "a statement against a frozen server never ended"
        finally:
            container.reload()
            if container.status == "paused":
                container.unpause()
        for face in ("sync", "async"):
            assert isinstance(outcome.get(face), StoreError), outcome
            assert "did not answer within 5s" in str(outcome[face])
        assert quick.query("SELECT 4 AS four") == [{"four": 4}]  # a new connection
        quick.close()
