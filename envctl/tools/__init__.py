"""What scenario code talks to: protocols, real and mock tools, and the factory registry.

Start at :func:`resolve_tools` (the registry builds one tool per service of a scenario, real
or mock by dependency mode); the protocols are in :mod:`envctl.tools.protocols`, the async
faces are described there too. Names are imported lazily: importing this package loads no
client library (confluent-kafka, psycopg, redis) — the tools import them on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envctl._lazy import lazy_exports

if TYPE_CHECKING:
    from envctl.services.kafka.tool import AsyncKafkaEventBus, KafkaEventBus
    from envctl.services.postgres.tool import AsyncPostgresStore, PostgresStore
    from envctl.services.redis.tool import AsyncRedisStore, RedisStore
    from envctl.tools.correlation import (
        correlation_scope,
        current_correlation_id,
        new_correlation_id,
    )
    from envctl.tools.drift import Divergence, format_divergences
    from envctl.tools.errors import (
        ConsumeFailed,
        EventBusError,
        KeyValueError,
        ProtocolDriftWarning,
        PublishFailed,
        PublishTimeout,
        RequiresRegistryWarning,
        SqlError,
        StoreError,
        SyncCallInEventLoop,
        ToolClosed,
        ToolError,
        ToolResolutionError,
        UnknownPartition,
        UnknownTopic,
    )
    from envctl.tools.mock import (
        AsyncInMemoryEventBus,
        AsyncInMemoryKeyValueStore,
        AsyncSqliteSqlStore,
        InMemoryEventBus,
        InMemoryKeyValueStore,
        SqliteSqlStore,
        reset_mock_state,
    )
    from envctl.tools.protocols import (
        AsyncEventBus,
        AsyncKeyValueStore,
        AsyncSqlStore,
        AsyncSubscription,
        Delivery,
        EventBus,
        KeyValueStore,
        Message,
        SqlStore,
        Subscription,
    )
    from envctl.tools.registry import (
        MockToolFactory,
        RealToolFactory,
        ResolvedTools,
        ToolFactory,
        ToolRegistry,
        ToolRequest,
        check_protocols,
        default_registry,
        mock_state_key,
        register_factory,
        resolve_tools,
    )

_MODULES = {
    "envctl.tools.correlation": (
        "correlation_scope",
        "current_correlation_id",
        "new_correlation_id",
    ),
    "envctl.tools.drift": ("Divergence", "format_divergences"),
    "envctl.tools.errors": (
        "ConsumeFailed",
        "EventBusError",
        "KeyValueError",
        "ProtocolDriftWarning",
        "PublishFailed",
        "PublishTimeout",
        "RequiresRegistryWarning",
        "SqlError",
        "StoreError",
        "SyncCallInEventLoop",
        "ToolClosed",
        "ToolError",
        "ToolResolutionError",
        "UnknownPartition",
        "UnknownTopic",
    ),
    "envctl.services.kafka.tool": ("AsyncKafkaEventBus", "KafkaEventBus"),
    "envctl.tools.mock": (
        "AsyncInMemoryEventBus",
        "AsyncInMemoryKeyValueStore",
        "AsyncSqliteSqlStore",
        "InMemoryEventBus",
        "InMemoryKeyValueStore",
        "SqliteSqlStore",
        "reset_mock_state",
    ),
    "envctl.services.postgres.tool": ("AsyncPostgresStore", "PostgresStore"),
    "envctl.tools.protocols": (
        "AsyncEventBus",
        "AsyncKeyValueStore",
        "AsyncSqlStore",
        "AsyncSubscription",
        "Delivery",
        "EventBus",
        "KeyValueStore",
        "Message",
        "SqlStore",
        "Subscription",
    ),
    "envctl.services.redis.tool": ("AsyncRedisStore", "RedisStore"),
    "envctl.tools.registry": (
        "check_protocols",
        "MockToolFactory",
        "RealToolFactory",
        "ResolvedTools",
        "ToolFactory",
        "ToolRegistry",
        "ToolRequest",
        "default_registry",
        "mock_state_key",
        "register_factory",
        "resolve_tools",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "AsyncEventBus",
    "AsyncInMemoryEventBus",
    "AsyncInMemoryKeyValueStore",
    "AsyncKafkaEventBus",
    "AsyncKeyValueStore",
    "AsyncPostgresStore",
    "AsyncRedisStore",
    "AsyncSqlStore",
    "AsyncSqliteSqlStore",
    "AsyncSubscription",
    "ConsumeFailed",
    "Delivery",
    "Divergence",
    "EventBus",
    "EventBusError",
    "InMemoryEventBus",
    "InMemoryKeyValueStore",
    "KafkaEventBus",
    "KeyValueError",
    "KeyValueStore",
    "Message",
    "MockToolFactory",
    "PostgresStore",
    "ProtocolDriftWarning",
    "PublishFailed",
    "PublishTimeout",
    "RealToolFactory",
    "RedisStore",
    "RequiresRegistryWarning",
    "ResolvedTools",
    "SqlError",
    "SqlStore",
    "SqliteSqlStore",
    "StoreError",
    "Subscription",
    "SyncCallInEventLoop",
    "ToolClosed",
    "ToolError",
    "ToolFactory",
    "ToolRegistry",
    "ToolRequest",
    "ToolResolutionError",
    "UnknownPartition",
    "UnknownTopic",
    "check_protocols",
    "correlation_scope",
    "current_correlation_id",
    "default_registry",
    "format_divergences",
    "mock_state_key",
    "new_correlation_id",
    "register_factory",
    "reset_mock_state",
    "resolve_tools",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
