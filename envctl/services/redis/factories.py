"""The tools of ``type: redis``: :class:`~.tool.RedisStore` in real mode, the in-memory
double :class:`~.mock.InMemoryKeyValueStore` in mock mode (``RedisService.tool_factories``)."""

from __future__ import annotations

from typing import Any, ClassVar

from envctl.services.redis.mock import AsyncInMemoryKeyValueStore, InMemoryKeyValueStore
from envctl.services.redis.tool import AsyncRedisStore, RedisStore
from envctl.tools.protocols import KeyValueStore
from envctl.tools.registry import MockToolFactory, RealToolFactory, ToolRequest, endpoint


class RedisRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "redis"
    tool_class: ClassVar[type[Any]] = RedisStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncRedisStore
    protocol: ClassVar[type[Any]] = KeyValueStore

    def create(self, request: ToolRequest) -> RedisStore:
        url = request.endpoints.get("_url") or endpoint(request, "url")  # unmasked for cloud
        return RedisStore(url, timeout=request.timeouts.setup)


class RedisMockFactory(MockToolFactory):
    service_type: ClassVar[str] = "redis"
    tool_class: ClassVar[type[Any]] = InMemoryKeyValueStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncInMemoryKeyValueStore
    protocol: ClassVar[type[Any]] = KeyValueStore

    def create(self, request: ToolRequest) -> InMemoryKeyValueStore:
        return InMemoryKeyValueStore(request.state_key)


FACTORIES = (RedisRealFactory(), RedisMockFactory())
