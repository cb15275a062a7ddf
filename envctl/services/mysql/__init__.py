"""Everything about ``type: mysql`` (MySQL, and MariaDB as a flavor), in one package.

- :mod:`.plugin` — the spec model, container settings, external/cloud addresses, the
  ``SELECT 1`` readiness probe and the compose/GitHub Actions health check
  (:class:`~.plugin.MysqlService`).
- :mod:`.data` — databases setup, seeding (SQL, CSV), snapshot/restore/diff and cleanup.
- :mod:`.tool` — the real SQL store (:class:`~.tool.MysqlStore`), over PyMySQL.
- :mod:`.mock` — its double in mock mode: the SQL double (SQLite in memory).
- :mod:`.factories` — the real and mock tool factories (entry-point group
  ``envctl.tool_factories``).

Modules are imported on use: importing this package loads no client library.
"""
