"""The in-memory key-value store answers like Redis: strings, TTL, hashes, errors."""

from __future__ import annotations

import asyncio

import pytest

from envctl.services.redis import mock as kv_module
from envctl.tools import InMemoryKeyValueStore
from envctl.tools.errors import KeyValueError, ToolClosed


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(kv_module, "now", fake)
    return fake


@pytest.fixture
def store(namespace: str) -> InMemoryKeyValueStore:
    return InMemoryKeyValueStore(namespace)


def test_values_are_stored_as_strings(store: InMemoryKeyValueStore) -> None:
    store.set("s", "text")
    store.set("n", 5)
    store.set("f", 2.5)
    store.set("b", b"bytes")
    assert [store.get(k) for k in ("s", "n", "f", "b", "missing")] == [
        "text",
        "5",
        "2.5",
        "bytes",
        None,
    ]


def test_ttl_expires(store: InMemoryKeyValueStore, clock: FakeClock) -> None:
    store.set("session", "abc", ttl=30)
    store.set("forever", "x")
    clock.now += 29.9
    assert store.get("session") == "abc"
    clock.now += 0.2
    assert store.get("session") is None
    assert store.keys() == ["forever"]
    assert store.delete("session") == 0


def test_set_without_ttl_clears_an_old_ttl(store: InMemoryKeyValueStore, clock: FakeClock) -> None:
    store.set("k", "1", ttl=1)
    store.set("k", "2")
    clock.now += 10
    assert store.get("k") == "2"


def test_invalid_ttl(store: InMemoryKeyValueStore) -> None:
    with pytest.raises(KeyValueError, match="invalid expire time"):
        store.set("k", "v", ttl=0)


def test_delete_counts_existing_keys(store: InMemoryKeyValueStore) -> None:
    store.set("a", 1)
    store.hset("h", {"f": 1})
    assert store.delete("a", "h", "missing", "a") == 2
    assert store.delete() == 0


def test_keys_take_redis_glob_patterns(store: InMemoryKeyValueStore) -> None:
    for key in ["user:1", "user:2", "user:10", "order:1", "u?er", "hello", "hallo", "hxllo"]:
        store.set(key, 1)
    assert store.keys("user:*") == ["user:1", "user:10", "user:2"]
    assert store.keys("user:?") == ["user:1", "user:2"]
    assert store.keys("h[ae]llo") == ["hallo", "hello"]
    assert store.keys("h[^e]llo") == ["hallo", "hxllo"]
    assert store.keys("h[a-b]llo") == ["hallo"]
    assert store.keys("u\\?er") == ["u?er"]
    assert len(store.keys()) == 8


def test_hashes(store: InMemoryKeyValueStore) -> None:
    assert store.hgetall("h") == {}
    assert store.hset("h", {"a": 1, "b": "two"}) == 2
    assert store.hset("h", {"b": 2, "c": 3.5}) == 1
    assert store.hgetall("h") == {"a": "1", "b": "2", "c": "3.5"}
    with pytest.raises(KeyValueError, match="at least one field"):
        store.hset("h", {})


def test_wrong_type_errors_like_redis(store: InMemoryKeyValueStore) -> None:
    store.set("s", "x")
    store.hset("h", {"f": "v"})
    with pytest.raises(KeyValueError, match=r"^WRONGTYPE"):
        store.hgetall("s")
    with pytest.raises(KeyValueError, match=r"^WRONGTYPE"):
        store.hset("s", {"f": "v"})
    with pytest.raises(KeyValueError, match=r"^WRONGTYPE"):
        store.get("h")
    store.set("h", "now a string")  # SET overwrites any type, as in Redis
    assert store.get("h") == "now a string"


def test_unsupported_values(store: InMemoryKeyValueStore) -> None:
    with pytest.raises(TypeError):
        store.set("k", True)
    with pytest.raises(TypeError):
        store.set("k", {"a": 1})  # type: ignore[arg-type]


def test_stores_of_one_namespace_share_keys(namespace: str) -> None:
    InMemoryKeyValueStore(namespace).set("shared", "yes")
    assert InMemoryKeyValueStore(namespace).get("shared") == "yes"
    assert InMemoryKeyValueStore(namespace + "-other").get("shared") is None


def test_async_face(store: InMemoryKeyValueStore) -> None:
    async def scenario() -> tuple[str | None, dict[str, str], list[str], int]:
        aio = store.aio
        await aio.set("a", 1)
        await aio.hset("h", {"x": "y"})
        result = (
            await aio.get("a"),
            await aio.hgetall("h"),
            await aio.keys(),
            await aio.delete("a"),
        )
        await aio.close()
        return result

    assert asyncio.run(scenario()) == ("1", {"x": "y"}, ["a", "h"], 1)
    with pytest.raises(ToolClosed):
        store.get("a")
