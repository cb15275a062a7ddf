"""Everything about ``type: redis``, in one package.

- :mod:`.plugin` — the spec model, container settings and the ``PING`` readiness probe
  (:class:`~.plugin.RedisService`).
- :mod:`.data` — key prefixes, seeding, snapshot/restore and cleanup.
- :mod:`.seed` — reading and checking Redis seed records (pure).
- :mod:`.tool` — the real key-value store (:class:`~.tool.RedisStore`), over redis-py.
- :mod:`.mock` — its in-memory double (:class:`~.mock.InMemoryKeyValueStore`).
- :mod:`.native` — the server as a local process (the native runtime).

Modules are imported on use: importing this package loads no client library.
"""
