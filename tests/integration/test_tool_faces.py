"""Every method of every tool protocol, through both faces (sync and ``.aio``), in both modes,
on the tools steps and ``call`` functions actually get (namespaced in real mode).

Issue 10 §5: the real ``aio.subscribe`` returned a wrapper without ``__aenter__`` /
``__aiter__``, so ``async with`` / ``async for`` failed only against real services. A face
that drops a member fails here; a protocol member the scripts below do not drive fails
:func:`test_the_scripts_drive_every_protocol_member`.
"""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from envctl.runner import Runner
from envctl.scenario import load_scenario
from envctl.settings import Settings
from envctl.tools.drift import _protocol_members
from envctl.tools.protocols import (
    AsyncEventBus,
    AsyncKeyValueStore,
    AsyncSqlStore,
    AsyncSubscription,
    EventBus,
    KeyValueStore,
    SqlStore,
    Subscription,
)

DRIVEN: dict[type[Any], set[str]] = {
    EventBus: {
        "publish",
        "consume",
        "subscribe",
        "create_topic",
        "list_consumer_groups",
        "cleanup",
        "close",
        "aio",
    },
    AsyncEventBus: {
        "publish",
        "consume",
        "subscribe",
        "create_topic",
        "list_consumer_groups",
        "cleanup",
        "close",
    },
    Subscription: {"__iter__", "__next__", "poll", "commit", "close", "__enter__", "__exit__"},
    AsyncSubscription: {
        "__aiter__",
        "__anext__",
        "poll",
        "commit",
        "close",
        "__aenter__",
        "__aexit__",
    },
    KeyValueStore: {"get", "set", "delete", "keys", "hgetall", "hset", "close", "aio"},
    AsyncKeyValueStore: {"get", "set", "delete", "keys", "hgetall", "hset", "close"},
    SqlStore: {"execute", "query", "close", "aio"},
    AsyncSqlStore: {"execute", "query", "close"},
}
"""What the scripts below call, per protocol."""


def test_the_scripts_drive_every_protocol_member() -> None:
    for protocol, driven in DRIVEN.items():
        assert _protocol_members(protocol) == driven, protocol.__name__


def _msg(message: Any) -> tuple[Any, ...]:
    return (message.topic, message.key, message.value, message.headers.get("h"))


def bus_sync(bus: Any, topic: str, group: str) -> list[Any]:
    seen: list[Any] = []
    bus.create_topic(topic, partitions=1)
    for n in range(4):
        delivery = bus.publish(topic, {"n": n}, key=f"k{n}", headers={"h": "v"})
        seen.append(("delivery", delivery.topic, delivery.partition))
    seen.append(("consume", [_msg(m) for m in bus.consume(topic, count=1, timeout=20)]))
    with bus.subscribe(topic, group, idle_timeout=20) as sub:
        assert isinstance(sub, Subscription)
        seen.append(("poll", _msg(sub.poll(timeout=20))))
        seen.append(("next", _msg(next(sub))))
        for message in sub:
            seen.append(("iter", _msg(message)))
            break
        sub.commit()
        sub.close()
    seen.append(("group listed", group in bus.list_consumer_groups()))
    bus.cleanup(topics=True, groups=True)
    return seen


async def bus_async(aio: Any, topic: str, group: str) -> list[Any]:
    seen: list[Any] = []
    await aio.create_topic(topic, partitions=1)
    for n in range(4):
        delivery = await aio.publish(topic, {"n": n}, key=f"k{n}", headers={"h": "v"})
        seen.append(("delivery", delivery.topic, delivery.partition))
    seen.append(("consume", [_msg(m) for m in await aio.consume(topic, count=1, timeout=20)]))
    sub = await aio.subscribe(topic, group, idle_timeout=20)
    assert isinstance(sub, AsyncSubscription)
    async with sub:
        seen.append(("poll", _msg(await sub.poll(timeout=20))))
        seen.append(("next", _msg(await sub.__anext__())))
        async for message in sub:
            seen.append(("iter", _msg(message)))
            break
        await sub.commit()
        await sub.close()
    seen.append(("group listed", group in await aio.list_consumer_groups()))
    await aio.cleanup(topics=True, groups=True)
    return seen


def kv_sync(kv: Any, prefix: str) -> list[Any]:
    kv.set(f"{prefix}:a", "1")
    kv.set(f"{prefix}:b", "2", ttl=60)
    seen: list[Any] = [kv.get(f"{prefix}:a"), kv.get(f"{prefix}:missing")]
    seen.append(kv.hset(f"{prefix}:h", {"x": "1", "y": 2}))
    seen.append(kv.hgetall(f"{prefix}:h"))
    seen.append(sorted(kv.keys(f"{prefix}:*")))
    seen.append(kv.delete(f"{prefix}:a", f"{prefix}:b", f"{prefix}:h"))
    return seen


async def kv_async(aio: Any, prefix: str) -> list[Any]:
    await aio.set(f"{prefix}:a", "1")
    await aio.set(f"{prefix}:b", "2", ttl=60)
    seen: list[Any] = [await aio.get(f"{prefix}:a"), await aio.get(f"{prefix}:missing")]
    seen.append(await aio.hset(f"{prefix}:h", {"x": "1", "y": 2}))
    seen.append(await aio.hgetall(f"{prefix}:h"))
    seen.append(sorted(await aio.keys(f"{prefix}:*")))
    seen.append(await aio.delete(f"{prefix}:a", f"{prefix}:b", f"{prefix}:h"))
    return seen


def sql_sync(db: Any, table: str) -> list[Any]:
    seen: list[Any] = [db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")]
    seen.append(db.execute(f"INSERT INTO {table} VALUES (%s, %s)", [1, "ada"]))
    seen.append(db.query(f"SELECT id, name FROM {table} ORDER BY id"))
    db.execute(f"DROP TABLE {table}")
    return seen[1:]  # CREATE TABLE's row count differs by engine, not by face


async def sql_async(aio: Any, table: str) -> list[Any]:
    await aio.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
    seen: list[Any] = [await aio.execute(f"INSERT INTO {table} VALUES (%s, %s)", [1, "ada"])]
    seen.append(await aio.query(f"SELECT id, name FROM {table} ORDER BY id"))
    await aio.execute(f"DROP TABLE {table}")
    return seen


SCENARIO = """
name: {name}
dependency_mode: real
external_services:
  kafka: {{type: kafka}}
  db: {{type: postgres}}
  cache: {{type: redis}}
"""


def drive(tools: dict[str, Any]) -> dict[str, list[Any]]:
    """Both faces of every tool; the async face in one loop, then closed (which closes
    the tool), the sync face first."""
    bus, kv, db = tools["kafka"], tools["cache"], tools["db"]
    transcript = {
        "bus sync": bus_sync(bus, "faces_sync", "faces-group-sync"),
        "kv sync": kv_sync(kv, "faces-sync"),
        "sql sync": sql_sync(db, "faces_sync"),
    }

    async def async_faces() -> None:
        transcript["bus async"] = await bus_async(bus.aio, "faces_async", "faces-group-async")
        transcript["kv async"] = await kv_async(kv.aio, "faces-async")
        transcript["sql async"] = await sql_async(db.aio, "faces_async")
        for tool in (bus, kv, db):
            await tool.aio.close()

    asyncio.run(async_faces())
    for tool in (bus, kv, db):
        tool.close()  # safe after the async face closed it
    return transcript


@pytest.mark.parametrize("mode", ["mock", "real"])
def test_every_method_through_both_faces(
    mode: str, tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    name = f"faces_{mode}_{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"scenario_{name}.yaml"
    path.write_text(textwrap.dedent(SCENARIO.format(name=name)), encoding="utf-8")
    settings = Settings.load(environ={**test_env, "ENVCTL_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    with Runner(settings).open_environment(load_scenario(path), force_mode=mode) as live:
        assert live.mode == mode
        transcript = drive(live.tools)
    expected = [
        ("delivery", "faces_sync", 0),
        ("delivery", "faces_sync", 0),
        ("delivery", "faces_sync", 0),
        ("delivery", "faces_sync", 0),
        ("consume", [("faces_sync", "k0", {"n": 0}, "v")]),
        ("poll", ("faces_sync", "k0", {"n": 0}, "v")),
        ("next", ("faces_sync", "k1", {"n": 1}, "v")),
        ("iter", ("faces_sync", "k2", {"n": 2}, "v")),
        ("group listed", True),
    ]
    assert transcript["bus sync"] == expected
    as_async = [tuple(str(x).replace("faces_sync", "faces_async") for x in e) for e in expected]
    assert [tuple(str(x) for x in e) for e in transcript["bus async"]] == as_async
    kv = ["1", None, 2, {"x": "1", "y": "2"}, ["faces-{0}:a", "faces-{0}:b", "faces-{0}:h"], 3]
    for face in ("sync", "async"):
        assert transcript[f"kv {face}"] == [
            [k.format(face) for k in v] if isinstance(v, list) else v for v in kv
        ]
        assert transcript[f"sql {face}"] == [1, [{"id": 1, "name": "ada"}]]


SEEDED = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics: [{{name: orders}}]
    seed: [{{topic: orders, from: orders.jsonl}}]
steps:
  - call: {{id: seen, function: "{module}:seen"}}
"""

PROBE = """
def seen(ctx):
    messages = ctx.tool("kafka").consume("orders", count=2, timeout=20)
    return {"messages": [
        [m.key, m.value, m.headers, m.correlation_id] for m in messages
    ]}
"""


@pytest.mark.parametrize("mode", ["mock", "real"])
def test_seeded_messages_arrive_the_same_in_both_modes(
    mode: str, tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    """Issue 10 §5: mock seeding added a correlation_id header real seeding does not."""
    name = f"seeded_{mode}_{uuid.uuid4().hex[:6]}"
    module = f"faces_probe_{mode}"  # one module per mode: imported once per process
    path = tmp_path / f"scenario_{name}.yaml"
    path.write_text(textwrap.dedent(SEEDED.format(name=name, module=module)))
    (tmp_path / "orders.jsonl").write_text(
        '{"key": "1", "value": {"id": 1}}\n'
        '{"key": "2", "value": {"id": 2}, "headers": {"h": "v"}}\n'
    )
    (tmp_path / f"{module}.py").write_text(PROBE)
    settings = Settings.load(environ={**test_env, "ENVCTL_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    outcome = Runner(settings).run(load_scenario(path), force_mode=mode)
    assert outcome.status == "passed", outcome.details()
    assert outcome.steps[0].outputs["messages"] == [
        ["1", {"id": 1}, {}, None],
        ["2", {"id": 2}, {"h": "v"}, None],
    ]
