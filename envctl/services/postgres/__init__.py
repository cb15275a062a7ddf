"""Everything about ``type: postgres``, in one package.

- :mod:`.plugin` — the spec model, container settings and the ``SELECT 1`` readiness probe
  (:class:`~.plugin.PostgresService`).
- :mod:`.data` — databases setup, seeding, snapshot/restore and cleanup.
- :mod:`.pgdump` — ``pg_dump``/``psql`` run inside the server's container (snapshots).
- :mod:`.tool` — the real SQL store (:class:`~.tool.PostgresStore`), over psycopg 3.
- :mod:`.mock` — its double, SQLite in memory (:class:`~.mock.SqliteSqlStore`).
- :mod:`.native` — the server as a local process (the native runtime).

Modules are imported on use: importing this package loads no client library.
"""
