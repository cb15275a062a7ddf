"""A sync face called inside a running event loop fails at once, for mocks and real tools.

The real tools are built against unreachable addresses: the error must come before any
connection attempt (a connection attempt would fail differently, or hang).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from conftest import UNREACHABLE_DSN, UNREACHABLE_KAFKA, UNREACHABLE_REDIS, quietly

from envctl.errors import EnvctlError
from envctl.services.kafka.tool import KafkaSubscription, _Commits
from envctl.tools import (
    InMemoryEventBus,
    InMemoryKeyValueStore,
    KafkaEventBus,
    PostgresStore,
    RedisStore,
    ResolvedTools,
    SqliteSqlStore,
)
from envctl.tools.errors import SyncCallInEventLoop

pytestmark = pytest.mark.timeout(10)  # a hang is a failure, not a slow pass

BUS_CALLS: dict[str, Callable[[Any], Any]] = {
    "publish": lambda bus: bus.publish("t", {"a": 1}),
    "consume": lambda bus: bus.consume("t", timeout=30),
    "subscribe": lambda bus: bus.subscribe("t", "g"),
    "create_topic": lambda bus: bus.create_topic("t"),
    "list_consumer_groups": lambda bus: bus.list_consumer_groups(),
    "cleanup": lambda bus: bus.cleanup(),
    "close": lambda bus: bus.close(),
}
KV_CALLS: dict[str, Callable[[Any], Any]] = {
    "get": lambda kv: kv.get("k"),
    "set": lambda kv: kv.set("k", "v"),
    "delete": lambda kv: kv.delete("k"),
    "keys": lambda kv: kv.keys(),
    "hgetall": lambda kv: kv.hgetall("h"),
    "hset": lambda kv: kv.hset("h", {"f": "v"}),
    "close": lambda kv: kv.close(),
}
SQL_CALLS: dict[str, Callable[[Any], Any]] = {
    "execute": lambda db: db.execute("SELECT 1"),
    "query": lambda db: db.query("SELECT 1"),
    "close": lambda db: db.close(),
}

TOOLS: dict[str, tuple[Callable[[str], Any], dict[str, Callable[[Any], Any]]]] = {
    "InMemoryEventBus": (lambda ns: InMemoryEventBus(ns, topics={"t": 1}), BUS_CALLS),
    "KafkaEventBus": (lambda ns: quietly(lambda: KafkaEventBus(UNREACHABLE_KAFKA)), BUS_CALLS),
    "InMemoryKeyValueStore": (InMemoryKeyValueStore, KV_CALLS),
    "RedisStore": (lambda ns: quietly(lambda: RedisStore(UNREACHABLE_REDIS)), KV_CALLS),
    "SqliteSqlStore": (SqliteSqlStore, SQL_CALLS),
    "PostgresStore": (lambda ns: quietly(lambda: PostgresStore(UNREACHABLE_DSN)), SQL_CALLS),
}
CASES = [(tool, method) for tool, (_, calls) in TOOLS.items() for method in calls]


def call_inside_loop(call: Callable[[], Any]) -> BaseException:
    async def inside() -> None:
        call()

    with pytest.raises(SyncCallInEventLoop) as info:
        asyncio.run(inside())
    return info.value


@pytest.mark.parametrize(("tool", "method"), CASES, ids=[f"{t}.{m}" for t, m in CASES])
def test_sync_face_inside_a_running_loop_fails_at_once(
    tool: str, method: str, namespace: str
) -> None:
    build, calls = TOOLS[tool]
    instance = build(namespace)
    error = call_inside_loop(lambda: calls[method](instance))
    assert isinstance(error, EnvctlError)
    assert str(error).startswith(
        f"{tool}.{method} is the sync face and was called inside a running event loop; "
        "use the async face (await "
    )
    assert f".aio.{method}(...)" in str(error)
    assert "asyncio.to_thread" in str(error)
    if method != "close":
        # it refused before doing anything: the tool is still usable outside a loop
        assert instance._closed is False


def test_mock_subscription_refuses_too(namespace: str) -> None:
    bus = InMemoryEventBus(namespace, topics={"t": 1})
    subscription = bus.subscribe("t", "g", idle_timeout=0.01)
    for call in (
        lambda: subscription.poll(5),
        lambda: next(iter(subscription)),
        subscription.commit,
        subscription.close,
    ):
        assert "subscription" in str(call_inside_loop(call)).lower()
    subscription.close()


def test_real_subscription_refuses_before_touching_its_consumer() -> None:
    subscription = KafkaSubscription(
        None, ["t"], "g", idle_timeout=5, commits=_Commits(), commit_timeout=5
    )
    for call in (lambda: subscription.poll(5), subscription.commit, subscription.close):
        call_inside_loop(call)


def test_resolved_tools_close_points_at_aclose(namespace: str) -> None:
    tools = ResolvedTools({"kv": InMemoryKeyValueStore(namespace)})
    error = call_inside_loop(tools.close)
    assert "await tools.aclose()" in str(error)

    async def closing() -> list[str]:
        return await tools.aclose()

    assert asyncio.run(closing()) == []


def test_the_same_tool_works_from_a_thread_of_the_loop(namespace: str) -> None:
    bus = InMemoryEventBus(namespace, topics={"t": 1})

    async def inside() -> int:
        delivery = await asyncio.to_thread(bus.publish, "t", "x")
        return delivery.offset

    assert asyncio.run(inside()) == 0
