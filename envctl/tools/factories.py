"""envctl's built-in tool factories: kafka, postgres and redis, real and mock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from envctl.services.kafka.plugin import client_config
from envctl.services.kafka.tool import AsyncKafkaEventBus, KafkaEventBus
from envctl.services.postgres.tool import AsyncPostgresStore, PostgresStore
from envctl.services.redis.tool import AsyncRedisStore, RedisStore
from envctl.tools.errors import ToolResolutionError
from envctl.tools.mock import (
    AsyncInMemoryEventBus,
    AsyncInMemoryKeyValueStore,
    AsyncSqliteSqlStore,
    InMemoryEventBus,
    InMemoryKeyValueStore,
    SqliteSqlStore,
)
from envctl.tools.protocols import EventBus, KeyValueStore, SqlStore
from envctl.tools.registry import MockToolFactory, RealToolFactory, ToolRequest


def endpoint(request: ToolRequest, key: str) -> Any:
    """One connection field of the service; a clear error when the plugin gave none."""
    try:
        return request.endpoints[key]
    except KeyError:
        have = ", ".join(sorted(request.endpoints)) or "none"
        raise ToolResolutionError(
            f"service '{request.service}' (type '{request.spec.type}') has no endpoint "
            f"'{key}' (it has: {have})"
        ) from None


def auto_create_topics(request: ToolRequest) -> bool:
    """Whether the scenario enables the broker's topic auto-creation (both modes follow it)."""
    env: Mapping[str, str] = getattr(request.spec, "env", {}) or {}
    return str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")).lower() == "true"


class KafkaRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "kafka"
    tool_class: ClassVar[type[Any]] = KafkaEventBus
    async_tool_class: ClassVar[type[Any] | None] = AsyncKafkaEventBus
    protocol: ClassVar[type[Any]] = EventBus

    def create(self, request: ToolRequest) -> KafkaEventBus:
        return KafkaEventBus(
            endpoint(request, "bootstrap_servers"),
            publish_ack=request.timeouts.publish_ack,
            admin_timeout=request.timeouts.setup,
            auto_create_topics=auto_create_topics(request),
            client_id=f"envctl-{request.service}",
            # SASL/SSL settings of an external or cloud broker (secrets included)
            config={
                k: v
                for k, v in client_config(request.endpoints).items()
                if k != "bootstrap.servers"
            },
        )


class KafkaMockFactory(MockToolFactory):
    service_type: ClassVar[str] = "kafka"
    tool_class: ClassVar[type[Any]] = InMemoryEventBus
    async_tool_class: ClassVar[type[Any] | None] = AsyncInMemoryEventBus
    protocol: ClassVar[type[Any]] = EventBus

    def create(self, request: ToolRequest) -> InMemoryEventBus:
        topics = getattr(request.spec, "topics", None) or []
        return InMemoryEventBus(
            request.state_key,
            auto_create_topics=auto_create_topics(request),
            # What envctl up's setup would have created on the broker.
            topics={topic.name: topic.partitions for topic in topics},
        )


class PostgresRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "postgres"
    tool_class: ClassVar[type[Any]] = PostgresStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncPostgresStore
    protocol: ClassVar[type[Any]] = SqlStore

    def create(self, request: ToolRequest) -> PostgresStore:
        dsn = request.endpoints.get("_dsn") or endpoint(request, "dsn")  # unmasked for cloud
        # connects and each statement are bounded by the setup timeout, like Redis commands
        return PostgresStore(
            dsn, connect_timeout=request.timeouts.setup, statement_timeout=request.timeouts.setup
        )


class PostgresMockFactory(MockToolFactory):
    service_type: ClassVar[str] = "postgres"
    tool_class: ClassVar[type[Any]] = SqliteSqlStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncSqliteSqlStore
    protocol: ClassVar[type[Any]] = SqlStore

    def create(self, request: ToolRequest) -> SqliteSqlStore:
        return SqliteSqlStore(request.state_key)


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


BUILTIN_FACTORIES = (
    KafkaRealFactory(),
    KafkaMockFactory(),
    PostgresRealFactory(),
    PostgresMockFactory(),
    RedisRealFactory(),
    RedisMockFactory(),
)
"""The factories every registry starts with (source ``builtin``)."""
