"""What the SQL service types (``type: postgres``, ``type: mysql``) share, in one place.

Not a service type itself (no ``envctl.services`` entry point): a base package both SQL
types build on, the way they share the ``sql`` step and ``expected: rows``. Each type's own
package stays the one home for what differs between them (driver, quoting, dump format).

- :mod:`.seed` — the seed entry model (``.sql`` / ``.csv`` files) and the seeding loop
  (databases, the seed phase's deadline, what was seeded).
- :mod:`.plugin` — the plugin base (:class:`~.plugin.SqlService`): the run's databases,
  the endpoints that name the main database, load-time checks of seed entries.
- :mod:`.snapshot` — ``tables.json``, the snapshot file both types write beside their dumps.
- :mod:`.diff` — the row diff between two snapshots and its text form (pure).
- :mod:`.store` — the skeleton of a real SQL store's sync and async faces.
- :mod:`.mock` — the SQL double of mock mode (SQLite in memory).
- :mod:`.factories` — the mock tool factory (the SQL double).

Nothing here branches on a type's name: what differs is passed in or overridden.
Modules are imported on use: importing this package loads no client library.
"""
