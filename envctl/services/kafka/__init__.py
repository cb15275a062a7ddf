"""Everything about ``type: kafka``, in one package.

- :mod:`.plugin` — the spec model (:class:`~.plugin.KafkaSpec`), container settings and the
  readiness probe (:class:`~.plugin.KafkaService`).
- :mod:`.data` — topics setup, seeding, snapshot/restore and cleanup on the broker.
- :mod:`.seed` — reading and checking Kafka seed records (pure).
- :mod:`.tool` — the real event bus (:class:`~.tool.KafkaEventBus`), over confluent-kafka.
- :mod:`.mock` — its in-memory double (:class:`~.mock.InMemoryEventBus`).
- :mod:`.native` — the server as a local process (the native runtime).

Modules are imported on use: importing this package loads no client library.
"""
