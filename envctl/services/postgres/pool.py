"""A pool of ready databases on a shared PostgreSQL server: a run's database in milliseconds.

IntegreSQL's model, inside envctl. For a scenario whose main database is its only database,
the schemas and seed files are loaded **once** into a template database named by their
content (``envctl_tpl_<hash>``: the hash of the schema list and of every seed file's bytes
and options), and a few copies of it are kept ready (``envctl_pool_<hash>_<token>``,
``CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY`` where the server has it: a file copy
of a small database is faster than replaying it through the WAL). A run takes one by
renaming it to its own physical name (``ALTER DATABASE ... RENAME``: atomic, so two
processes never get the same copy; milliseconds) and the pool is refilled in the background.
A changed seed file has another hash, so another template: never stale data.

The template is built under a PostgreSQL advisory lock (one builder across processes) and
marked ``IS_TEMPLATE``. Nothing of the pool is the run's: its database is dropped with the
run's namespace like any other; templates and pool copies live as long as the server.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import secrets
import threading
import time
from typing import TYPE_CHECKING, Any

from envctl.errors import ServiceFailed
from envctl.services.base import ServiceHandle

if TYPE_CHECKING:
    from envctl.services.postgres.plugin import PostgresService

POOL_SIZE = 4
"""Ready copies kept per template (a pytest-xdist worker or run-all thread takes one each)."""
TEMPLATE_PREFIX = "envctl_tpl_"
POOL_PREFIX = "envctl_pool_"


def poolable(plugin: PostgresService) -> bool:
    """The pool serves runs whose only database is the main one (seeds into it)."""
    return not plugin.spec.databases and all(
        entry.database in (None, plugin.spec.database) for entry in plugin.spec.seed
    )


def content_hash(plugin: PostgresService) -> str:
    """The hash of what a fresh database of this scenario holds: schemas and seed files."""
    digest = hashlib.sha256()
    spec = plugin.spec
    digest.update(json.dumps({"user": spec.user, "schemas": spec.schemas}).encode())
    for entry in spec.seed:
        options = entry.model_dump(mode="json", by_alias=True)
        digest.update(json.dumps(options, sort_keys=True).encode())
        digest.update(plugin.seed_file(entry.from_).read_bytes())
    return digest.hexdigest()[:12]


class DatabasePool:
    """Ready copies of one template on one server, shared by this process's runs."""

    def __init__(self, plugin: PostgresService, handle: ServiceHandle, key: str) -> None:
        self.key = key
        self.template = f"{TEMPLATE_PREFIX}{key}"
        self.prefix = f"{POOL_PREFIX}{key}_"
        self.service = plugin.context.service
        self._handle = ServiceHandle(handle.name, dict(handle.endpoints))
        self._lock = threading.Lock()
        self._conn: Any = None
        self._refilling = threading.Lock()
        self._ready = False
        self.file_copy = True

    # -- connections ---------------------------------------------------------------------
    def _admin(self, timeout: float) -> Any:
        from envctl.services.postgres.data import _connect, admin_database

        if self._conn is None or self._conn.closed:
            self._conn = _connect(
                self._handle, admin_database(self._handle), timeout, autocommit=True
            )
        return self._conn

    def _new_admin(self, timeout: float) -> Any:
        from envctl.services.postgres.data import _connect, admin_database

        return _connect(self._handle, admin_database(self._handle), timeout, autocommit=True)

    # -- the template --------------------------------------------------------------------
    def ensure_template(self, plugin: PostgresService, timeout: float) -> None:
        """Build the template once (across processes: an advisory lock)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            conn = self._admin(timeout)
            self.file_copy = conn.info.server_version >= 150000
            if not self._template_exists(conn):
                conn.execute(f"SET lock_timeout = {max(1000, int(timeout * 1000))}")
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self.template,))
                try:
                    if not self._template_exists(conn):
                        self._build(plugin, conn, timeout)
                finally:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.template,))
            self._ready = True

    def _template_exists(self, conn: Any) -> bool:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s AND datistemplate", (self.template,)
        ).fetchone()
        return row is not None

    def _build(self, plugin: PostgresService, conn: Any, timeout: float) -> None:
        """Schemas and seeds into a staging database, then renamed and marked a template."""
        from envctl.namespace import Namespace
        from envctl.services.postgres.data import _ident, _sql

        staging = f"envctl_tplb_{self.key}_{secrets.token_hex(3)}"
        namespace = plugin.namespace
        templates = namespace.templates.model_copy(update={"database": staging})
        builder = type(plugin)(
            plugin.spec,
            dataclasses.replace(
                plugin.context,
                namespace=Namespace(namespace.run_id, namespace.scenario, templates),
            ),
        )
        handle = ServiceHandle(self._handle.name, dict(self._handle.endpoints))
        try:
            builder.setup(handle, timeout)
            builder.seed(handle, plugin.context.timeouts.seed)
            conn.execute(
                _sql("ALTER DATABASE {} RENAME TO {}", _ident(staging), _ident(self.template))
            )
            conn.execute(_sql("ALTER DATABASE {} IS_TEMPLATE true", _ident(self.template)))
        except BaseException:
            with contextlib.suppress(Exception):
                conn.execute(_sql("DROP DATABASE IF EXISTS {} WITH (FORCE)", _ident(staging)))
            raise

    # -- copies --------------------------------------------------------------------------
    def _copy_sql(self, target: str) -> Any:
        from envctl.services.postgres.data import _ident, _sql

        strategy = " STRATEGY FILE_COPY" if self.file_copy else ""
        return _sql(
            "CREATE DATABASE {} TEMPLATE {}" + strategy, _ident(target), _ident(self.template)
        )

    def take(self, target: str, timeout: float) -> bool:
        """Rename a ready copy to ``target``; False when none is ready (or the rename lost a
        race for each). Then refill in the background."""
        import psycopg

        from envctl.services.postgres.data import _ident, _sql

        taken = False
        with self._lock:
            conn = self._admin(timeout)
            ready = [
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                    (self.prefix,),
                )
            ]
            for name in ready:
                try:
                    conn.execute(
                        _sql("ALTER DATABASE {} RENAME TO {}", _ident(name), _ident(target))
                    )
                except psycopg.errors.UndefinedObject:
                    continue  # another process took it first
                except psycopg.errors.ObjectInUse:
                    continue  # being created by a refill right now
                taken = True
                break
        self.refill(timeout)
        return taken

    def create(self, target: str, timeout: float) -> None:
        """A copy made for ``target`` now (the pool was empty)."""
        with self._new_admin(timeout) as conn:
            conn.execute(self._copy_sql(target))

    def refill(self, timeout: float) -> None:
        """Top the pool up to :data:`POOL_SIZE` in a background thread (one at a time)."""
        if not self._refilling.acquire(blocking=False):
            return

        def work() -> None:
            try:
                with self._new_admin(timeout) as conn:
                    while True:
                        count = conn.execute(
                            "SELECT count(*) FROM pg_database WHERE starts_with(datname, %s)",
                            (self.prefix,),
                        ).fetchone()[0]
                        if count >= POOL_SIZE:
                            return
                        conn.execute(self._copy_sql(f"{self.prefix}{secrets.token_hex(4)}"))
            except Exception:  # noqa: BLE001 - the next take creates its database directly
                return
            finally:
                self._refilling.release()

        # A lost refill only means the next run creates its copy itself: not cleanup.
        threading.Thread(target=work, name="envctl-pg-pool", daemon=True).start()

    def wait_refilled(self, timeout: float) -> bool:
        """Wait until no refill runs (tests, benchmarks); True when done within ``timeout``."""
        if self._refilling.acquire(timeout=timeout):
            self._refilling.release()
            return True
        return False

    def ready_count(self, timeout: float = 10.0) -> int:
        with self._lock:
            row = (
                self._admin(timeout)
                .execute(
                    "SELECT count(*) FROM pg_database WHERE starts_with(datname, %s)",
                    (self.prefix,),
                )
                .fetchone()
            )
        return int(row[0])


def pool_for(plugin: PostgresService, handle: ServiceHandle) -> DatabasePool:
    """The pool of this scenario's template on this server (one per process)."""
    key = content_hash(plugin)
    slot = f"postgres.pool.{key}"
    with _POOLS_LOCK:
        pool = handle.clients.get(slot)
        if pool is None:
            pool = handle.clients[slot] = DatabasePool(plugin, handle, key)
    assert isinstance(pool, DatabasePool)
    return pool


_POOLS_LOCK = threading.Lock()


def acquire(plugin: PostgresService, handle: ServiceHandle, timeout: float) -> float:
    """The run's main database from the pool (or straight from the template); returns the
    seconds it took. Endpoints then name it, as after :func:`setup`."""
    from envctl.services.postgres.data import point_endpoints_at_main

    t0 = time.monotonic()
    pool = pool_for(plugin, handle)
    try:
        pool.ensure_template(plugin, timeout)
        databases = plugin.physical_databases()
        main = databases[plugin.spec.database]
        if not pool.take(main, timeout):
            pool.create(main, timeout)
    except Exception as exc:  # psycopg errors, one line
        if isinstance(exc, ServiceFailed):
            raise
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise ServiceFailed(plugin.context.service, f"database pool: {text}") from None
    handle.resources["databases"] = [main]
    point_endpoints_at_main(handle, main, databases)
    return time.monotonic() - t0
