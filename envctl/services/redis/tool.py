"""The real key-value store: Redis through redis-py.

Faces: :class:`RedisStore` is the sync face (a ``redis.Redis`` client with its connection
pool); ``store.aio`` (or :class:`AsyncRedisStore`, built with the same arguments) is the async
face on ``redis.asyncio`` — one client per event loop, made on first use in that loop — so it
never blocks the loop. The sync face called inside a running event loop raises
:class:`~envctl.tools.errors.SyncCallInEventLoop`. Closing either face closes the store.

Values are strings both ways (``decode_responses``); Redis's own errors (``WRONGTYPE``, ...)
are :class:`~envctl.tools.errors.KeyValueError`, an unreachable server
:class:`~envctl.tools.errors.StoreError`. Constructing a store does not connect.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from envctl.tools.codec import kv_ttl_ms, kv_value
from envctl.tools.errors import KeyValueError, StoreError, ToolClosed
from envctl.tools.faces import ensure_no_running_loop, registry_building, warn_unless_registry
from envctl.tools.protocols import AsyncKeyValueStore, KeyValue


def _where(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    try:
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    except ValueError:
        return "the configured server"


def _translate(url: str, exc: Exception) -> Exception:
    import redis

    if isinstance(exc, redis.ResponseError):
        return KeyValueError(str(exc))
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return StoreError(f"cannot reach Redis at {_where(url)}: {exc}")
    if isinstance(exc, redis.RedisError):
        return StoreError(f"Redis at {_where(url)}: {exc}")
    return exc


def _fields(key: str, mapping: Mapping[str, KeyValue]) -> dict[str, str]:
    if not mapping:
        raise KeyValueError(f"hset of '{key}' needs at least one field")
    return {str(k): kv_value(v) for k, v in mapping.items()}


class RedisStore:
    """The sync face of the real key-value store (see the module docstring)."""

    requires_registry: ClassVar[bool] = True

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        warn_unless_registry(type(self).__name__)
        self.url = url
        self.timeout = timeout
        self._lock = threading.Lock()
        self._client: Any = None
        self._closed = False
        self._aio: AsyncRedisStore | None = None

    def __repr__(self) -> str:
        return f"RedisStore({_where(self.url)!r})"

    def _redis(self) -> Any:
        with self._lock:
            if self._closed:
                raise ToolClosed(f"{self!r} is closed")
            if self._client is None:
                import redis

                self._client = redis.Redis.from_url(
                    self.url,
                    decode_responses=True,
                    socket_connect_timeout=self.timeout,
                    socket_timeout=self.timeout,
                )
            return self._client

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return getattr(self._redis(), method)(*args, **kwargs)
        except redis.RedisError as exc:
            raise _translate(self.url, exc) from None

    def get(self, key: str) -> str | None:
        ensure_no_running_loop(self, "get")
        return self._call("get", key)

    def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None:
        ensure_no_running_loop(self, "set")
        self._call("set", key, kv_value(value), px=kv_ttl_ms(ttl))

    def delete(self, *keys: str) -> int:
        ensure_no_running_loop(self, "delete")
        return int(self._call("delete", *keys)) if keys else 0

    def keys(self, pattern: str = "*") -> list[str]:
        ensure_no_running_loop(self, "keys")
        return sorted(self._call("keys", pattern))

    def hgetall(self, key: str) -> dict[str, str]:
        ensure_no_running_loop(self, "hgetall")
        return dict(self._call("hgetall", key))

    def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        ensure_no_running_loop(self, "hset")
        return int(self._call("hset", key, mapping=_fields(key, mapping)))

    def close(self) -> None:
        ensure_no_running_loop(self, "close")
        self._close()

    @property
    def aio(self) -> AsyncKeyValueStore:
        """The async face (its own client per event loop; closing it closes the store)."""
        with self._lock:
            if self._aio is None:
                self._aio = AsyncRedisStore._wrap(self)
            return self._aio

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
        if client is not None:
            client.close()
        if self._aio is not None:
            self._aio._forget()


class AsyncRedisStore:
    """The async face of :class:`RedisStore` (``redis.asyncio``)."""

    requires_registry: ClassVar[bool] = True

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        warn_unless_registry(type(self).__name__)
        with registry_building():  # warned once, for this class
            store = RedisStore(url, timeout=timeout)
        self._setup(store)
        store._aio = self

    @classmethod
    def _wrap(cls, store: RedisStore) -> AsyncRedisStore:
        face = cls.__new__(cls)
        face._setup(store)
        return face

    def _setup(self, store: RedisStore) -> None:
        self._store = store
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"AsyncRedisStore({_where(self._store.url)!r})"

    def _forget(self) -> None:
        self._clients.clear()

    def _redis(self) -> Any:
        store = self._store
        if store._closed:
            raise ToolClosed(f"{store!r} is closed")
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(
                store.url,
                decode_responses=True,
                socket_connect_timeout=store.timeout,
                socket_timeout=store.timeout,
            )
            self._clients[loop] = client
        return client

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return await getattr(self._redis(), method)(*args, **kwargs)
        except redis.RedisError as exc:
            raise _translate(self._store.url, exc) from None

    async def get(self, key: str) -> str | None:
        return await self._call("get", key)

    async def set(self, key: str, value: KeyValue, ttl: float | None = None) -> None:
        await self._call("set", key, kv_value(value), px=kv_ttl_ms(ttl))

    async def delete(self, *keys: str) -> int:
        return int(await self._call("delete", *keys)) if keys else 0

    async def keys(self, pattern: str = "*") -> list[str]:
        return sorted(await self._call("keys", pattern))

    async def hgetall(self, key: str) -> dict[str, str]:
        return dict(await self._call("hgetall", key))

    async def hset(self, key: str, mapping: Mapping[str, KeyValue]) -> int:
        return int(await self._call("hset", key, mapping=_fields(key, mapping)))

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
        await asyncio.to_thread(self._store._close)
