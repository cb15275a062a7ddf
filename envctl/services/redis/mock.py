"""The in-memory key-value store: Redis's strings (with TTL) and hashes, without a server.

Values are stored as strings (``set("n", 5)`` reads back ``"5"``), a key holding a hash
refuses string commands and the reverse with Redis's ``WRONGTYPE`` error, ``keys`` takes
Redis glob patterns (``*``, ``?``, ``[abc]``, ``[^a]``, ``[a-z]``, ``\\`` escapes). Expiry is
checked lazily on access against :data:`now` (monotonic seconds; tests may replace it).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envctl.errors import SeedError
from envctl.seed.records import read_records
from envctl.services.redis.seed import redis_keys
from envctl.tools.codec import kv_ttl_ms, kv_value
from envctl.tools.errors import KeyValueError, ToolClosed
from envctl.tools.faces import ensure_no_running_loop
from envctl.tools.mock_state import shared_state
from envctl.tools.protocols import AsyncKeyValueStore, KeyValue

now: Callable[[], float] = time.monotonic
"""The clock expiry is measured with."""

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@dataclass
class _Entry:
    value: str | dict[str, str]
    expires: float | None = None


class _Keys:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.data: dict[str, _Entry] = {}

    def live(self, key: str) -> _Entry | None:
        """The entry of ``key`` unless missing or expired (lock held)."""
        entry = self.data.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= now():
            del self.data[key]
            return None
        return entry


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """A Redis glob pattern as a regular expression matching whole keys."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end]
                negate = body.startswith("^")
                body = body[1:] if negate else body
                escaped = "".join("\\" + c if c in "\\[]^" else c for c in body)
                out.append(f"[{'^' if negate else ''}{escaped}]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


class InMemoryKeyValueStore:
    """The sync face of the in-memory key-value store (see :mod:`envctl.tools.mock`)."""

    requires_registry = False

    def __init__(self, namespace: str = "") -> None:
        self.namespace = namespace
        self._keys: _Keys = shared_state("kv", namespace, _Keys)
        self._closed = False
        self._aio: AsyncInMemoryKeyValueStore | None = None

    def __repr__(self) -> str:
        return f"InMemoryKeyValueStore(namespace={self.namespace!r})"

    # -- sync face: refuse to run inside an event loop, then do the work -----------------------
    def get(self, key: str) -> str | None:
        ensure_no_running_loop(self, "get")
        return self._get(key)

    def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None:
        ensure_no_running_loop(self, "set")
        self._set(key, value, ttl)

    def delete(self, *keys: str) -> int:
        ensure_no_running_loop(self, "delete")
        return self._delete(keys)

    def keys(self, pattern: str = "*") -> list[str]:
        ensure_no_running_loop(self, "keys")
        return self._match(pattern)

    def hgetall(self, key: str) -> dict[str, str]:
        ensure_no_running_loop(self, "hgetall")
        return self._hgetall(key)

    def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        ensure_no_running_loop(self, "hset")
        return self._hset(key, mapping)

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        self._closed = True

    @property
    def aio(self) -> AsyncKeyValueStore:
        """The async face, sharing this store's state."""
        if self._aio is None:
            self._aio = AsyncInMemoryKeyValueStore._wrap(self)
        return self._aio

    # -- the work, shared by both faces ----------------------------------------------------------
    def _state(self) -> _Keys:
        if self._closed:
            raise ToolClosed(f"{self!r} is closed")
        return self._keys

    def _get(self, key: str) -> str | None:
        state = self._state()
        with state.lock:
            entry = state.live(key)
            if entry is None:
                return None
            if not isinstance(entry.value, str):
                raise KeyValueError(WRONGTYPE)
            return entry.value

    def _set(self, key: str, value: KeyValue, ttl: float | None) -> None:
        state = self._state()
        text = kv_value(value)
        ms = kv_ttl_ms(ttl)
        with state.lock:
            state.data[key] = _Entry(text, None if ms is None else now() + ms / 1000)

    def _delete(self, keys: tuple[str, ...]) -> int:
        state = self._state()
        with state.lock:
            found = [k for k in dict.fromkeys(keys) if state.live(k) is not None]
            for key in found:
                del state.data[key]
            return len(found)

    def _match(self, pattern: str) -> list[str]:
        state = self._state()
        regex = glob_to_regex(pattern)
        with state.lock:
            return sorted(
                k for k in list(state.data) if state.live(k) is not None and regex.fullmatch(k)
            )

    def _hgetall(self, key: str) -> dict[str, str]:
        state = self._state()
        with state.lock:
            entry = state.live(key)
            if entry is None:
                return {}
            if not isinstance(entry.value, dict):
                raise KeyValueError(WRONGTYPE)
            return dict(entry.value)

    def _hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        state = self._state()
        if not mapping:
            raise KeyValueError(f"hset of '{key}' needs at least one field")
        fields = {str(k): kv_value(v) for k, v in mapping.items()}
        with state.lock:
            entry = state.live(key)
            if entry is not None and not isinstance(entry.value, dict):
                raise KeyValueError(WRONGTYPE)
            if entry is None:
                entry = state.data[key] = _Entry({})
            assert isinstance(entry.value, dict)
            new = sum(1 for k in fields if k not in entry.value)
            entry.value.update(fields)
            return new


class AsyncInMemoryKeyValueStore:
    """The async face of :class:`InMemoryKeyValueStore`.

    Its operations never wait on I/O and hold a lock for microseconds, so they run on the
    loop directly (no thread hop).
    """

    requires_registry = False

    def __init__(self, namespace: str = "") -> None:
        self._sync = InMemoryKeyValueStore(namespace)

    @classmethod
    def _wrap(cls, store: InMemoryKeyValueStore) -> AsyncInMemoryKeyValueStore:
        face = cls.__new__(cls)
        face._sync = store
        return face

    async def get(self, key: str) -> str | None:
        return self._sync._get(key)

    async def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None:
        self._sync._set(key, value, ttl)

    async def delete(self, *keys: str) -> int:
        return self._sync._delete(keys)

    async def keys(self, pattern: str = "*") -> list[str]:
        return self._sync._match(pattern)

    async def hgetall(self, key: str) -> dict[str, str]:
        return self._sync._hgetall(key)

    async def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        return self._sync._hset(key, mapping)

    async def close(self) -> None:
        self._sync._closed = True


def seed_double(store: Any, path: Path, service: str) -> None:
    """Set a seed file's keys in the double (strings and hashes, as the double holds)."""
    for key in redis_keys(read_records(path)):
        if key.type == "string":
            store.set(key.key, key.value, ttl=key.ttl)
        elif key.type == "hash":
            store.hset(key.key, dict(key.value))  # type: ignore[arg-type]
        else:
            raise SeedError(
                str(path),
                key.line,
                f"service '{service}': the mock key-value store holds strings and hashes; "
                f"a {key.type} seed needs dependency_mode: real",
            )
