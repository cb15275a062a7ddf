"""In-memory doubles of the tools, with the real ones' semantics (``dependency_mode: mock``).

- :class:`InMemoryEventBus` — topics with N partitions, keyed messages partitioned by Kafka's
  murmur2 (as :class:`~envctl.services.kafka.tool.KafkaEventBus` does), offsets per partition,
  consumer groups with committed offsets and partitions shared among a group's members,
  headers and correlation ids. Publishing to a missing topic raises
  :class:`~envctl.tools.errors.UnknownTopic` unless ``auto_create_topics`` — the same switch,
  with the same default (off), as the real bus.
- :class:`InMemoryKeyValueStore` — strings with TTL and hashes, Redis's answers and errors.
- :class:`SqliteSqlStore` — SQLite in memory, taking psycopg-style parameters.

State is process-wide per ``namespace``: two tools built with the same namespace (two buses of
one run, or the runner's bus and the application's) see the same topics, keys and tables.
The registry uses ``"<namespace>/<service>"`` (:func:`~envctl.tools.registry.mock_state_key`).
:func:`reset_mock_state` forgets one namespace, or all.

Faces: as for the real tools, ``tool.aio`` (or the ``Async*`` classes) is the async face, and
the sync face raises :class:`~envctl.tools.errors.SyncCallInEventLoop` inside a running event
loop — the real tool would block the loop there, so the double refuses too.
"""

from __future__ import annotations

from envctl.services.kafka.mock import (
    AsyncInMemoryEventBus,
    InMemoryEventBus,
    InMemorySubscription,
)
from envctl.services.redis.mock import AsyncInMemoryKeyValueStore, InMemoryKeyValueStore
from envctl.services.sql.mock import AsyncSqliteSqlStore, SqliteSqlStore
from envctl.tools.mock_state import reset_mock_state

__all__ = [
    "AsyncInMemoryEventBus",
    "AsyncInMemoryKeyValueStore",
    "AsyncSqliteSqlStore",
    "InMemoryEventBus",
    "InMemoryKeyValueStore",
    "InMemorySubscription",
    "SqliteSqlStore",
    "reset_mock_state",
]
