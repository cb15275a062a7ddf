"""PostgreSQL data: the run's databases and schemas, seed files, snapshot and restore, cleanup.

The hooks of :class:`~envctl.services.postgres.PostgresService` call these functions. Every
database of a run is a physical database of its own (``envctl_<run>_<name>``), created by
the run and dropped with it; schemas are created inside the run's main database.

Snapshot files (in ``<snapshot>/<service>/``):
- ``<database>.sql``: ``pg_dump`` of each of the run's databases (schema and data, plain SQL;
  in docker mode run inside the container, so the versions always match; for an external
  server the host's ``pg_dump``);
- ``tables.json``: per database its tables with columns, primary key and row count, and the
  template database kept for a fast restore (``CREATE DATABASE ... TEMPLATE``), if any.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import SeedError, SeedRejected, ServiceFailed, SnapshotError
from envctl.namespace import shown
from envctl.seed.records import read_seed_text
from envctl.services.base import ServiceHandle, SnapshotOptions, SnapshotResult, secret
from envctl.services.sql.plugin import point_endpoints_at
from envctl.services.sql.seed import seed_overran, seed_plan
from envctl.services.sql.snapshot import read_tables, write_tables

if TYPE_CHECKING:
    from envctl.services.postgres.plugin import PostgresService

SNAPSHOT_DB_PREFIX = "_snapshot_"
"""Logical name prefix of the template databases kept for fast restores."""

_COPY_START = re.compile(r"^COPY (.+) FROM stdin;\s*$")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- connections --------------------------------------------------------------------------------


def conninfo(handle: ServiceHandle, database: str) -> str:
    """A connection string for ``database`` on the service (the secret DSN's credentials)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(str(secret(handle.endpoints, "dsn")), dbname=database)


def admin_database(handle: ServiceHandle) -> str:
    return str(handle.endpoints.get("admin_database") or "postgres")


def _connect(handle: ServiceHandle, database: str, timeout: float, autocommit: bool) -> Any:
    import psycopg

    ms = max(1000, int(timeout * 1000))
    return psycopg.connect(
        conninfo(handle, database),
        autocommit=autocommit,
        connect_timeout=max(1, round(min(timeout, 30))),
        options=f"-c statement_timeout={ms}",
    )


def _ident(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(name)


def _table_ident(name: str) -> Any:
    from psycopg import sql

    parts = name.split(".", 1)
    return sql.Identifier(*parts)


# -- setup --------------------------------------------------------------------------------------


def setup(plugin: PostgresService, handle: ServiceHandle, timeout: float) -> None:
    """Create the run's databases (if missing) and the main database's schemas."""
    import psycopg

    service = plugin.context.service
    databases = plugin.physical_databases()
    main = databases[plugin.spec.database]
    try:
        with _connect(handle, admin_database(handle), timeout, autocommit=True) as conn:
            existing = {
                row[0]
                for row in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%s)",
                    (list(databases.values()),),
                )
            }
            for physical in databases.values():
                if physical not in existing:
                    conn.execute(_sql("CREATE DATABASE {}", _ident(physical)))
        if plugin.spec.schemas:
            with _connect(handle, main, timeout, autocommit=True) as conn:
                for schema in plugin.spec.schemas:
                    conn.execute(_sql("CREATE SCHEMA IF NOT EXISTS {}", _ident(schema)))
    except psycopg.Error as exc:
        raise ServiceFailed(
            service, f"cannot create the run's databases: {_one_line(exc)}"
        ) from None
    handle.resources["databases"] = list(databases.values())
    point_endpoints_at_main(handle, main, databases)


def point_endpoints_at_main(handle: ServiceHandle, main: str, databases: dict[str, str]) -> None:
    """``dsn`` and ``database`` name the run's main database from now on."""
    real = _with_database(str(secret(handle.endpoints, "dsn")), main)
    point_endpoints_at(handle, "dsn", real, main, databases)


def _with_database(dsn: str, database: str) -> str:
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.scheme in ("postgresql", "postgres"):
        return urlunsplit(parts._replace(path="/" + quote(database, safe="")))
    from psycopg.conninfo import make_conninfo

    return make_conninfo(dsn, dbname=database)


def _sql(template: str, *parts: Any) -> Any:
    from psycopg import sql

    return sql.SQL(template).format(*parts)


# -- seeding ------------------------------------------------------------------------------------


def seed(plugin: PostgresService, handle: ServiceHandle, timeout: float) -> None:
    """Run SQL files (one transaction each) and COPY CSV files, in the order listed."""
    if not plugin.spec.seed:
        return
    import psycopg

    service = plugin.context.service
    for step in seed_plan(plugin, handle, timeout):
        entry, path = step.entry, step.path
        try:
            with _connect(handle, step.database, step.seconds_left, autocommit=False) as conn:
                if path.suffix.lower() == ".csv":
                    _seed_csv(conn, path, entry, service)
                else:
                    _seed_sql(conn, path, entry.from_, service)
        except SeedRejected as exc:
            raise exc.into(step.target) from None
        except psycopg.errors.QueryCanceled:
            raise seed_overran(service, timeout, entry.from_) from None
        except psycopg.OperationalError as exc:
            raise step.failed(service, _one_line(exc)) from None


def _seed_sql(conn: Any, path: Path, display: str, service: str) -> None:
    import psycopg

    text = read_seed_text(path, display)
    try:
        with conn.transaction():
            conn.execute(text.encode())
    except psycopg.errors.QueryCanceled:
        raise
    except psycopg.Error as exc:
        position = exc.diag.statement_position
        line = text[: int(position)].count("\n") + 1 if position else None
        message = exc.diag.message_primary or _one_line(exc)
        raise SeedRejected(display, line, service, message) from None


def _seed_csv(conn: Any, path: Path, entry: Any, service: str) -> None:
    import psycopg
    from psycopg import sql

    with open(path, encoding="utf-8", newline="") as source:
        first = source.readline()
        columns: list[str] = []
        if entry.header:
            columns = next(csv.reader([first], delimiter=entry.delimiter), [])
            if not columns or any(not c.strip() for c in columns):
                raise SeedError(entry.from_, 1, "the header line names no columns")
        target = _table_ident(entry.table)
        if columns:
            target = sql.SQL("{} ({})").format(
                target, sql.SQL(", ").join(_ident(c.strip()) for c in columns)
            )
        statement = sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER {}, DELIMITER {})").format(
            target, sql.SQL("true" if entry.header else "false"), sql.Literal(entry.delimiter)
        )
        try:
            with conn.transaction(), conn.cursor().copy(statement) as copy:
                copy.write(first.encode())
                while chunk := source.read(1 << 20):
                    copy.write(chunk.encode())
        except psycopg.errors.QueryCanceled:
            raise
        except psycopg.Error as exc:
            context = exc.diag.context or ""
            found = re.search(r"line (\d+)", context)
            message = exc.diag.message_primary or _one_line(exc)
            column = re.search(r"column (\S+?):", context)
            where = f" (column {column.group(1)})" if column else ""
            raise SeedRejected(
                entry.from_, int(found.group(1)) if found else None, service, f"{message}{where}"
            ) from None


# -- snapshot -----------------------------------------------------------------------------------


def snapshot(
    plugin: PostgresService, handle: ServiceHandle, target: Path, options: SnapshotOptions
) -> SnapshotResult:
    import psycopg

    service = plugin.context.service
    target.mkdir(parents=True, exist_ok=True)
    databases = plugin.physical_databases()
    info: dict[str, Any] = {}
    notes: list[str] = []
    for logical, physical in databases.items():
        dump = _pg_dump(plugin, handle, physical, options.timeout)
        (target / f"{logical}.sql").write_text(dump, encoding="utf-8")
        try:
            with _connect(handle, physical, options.timeout, autocommit=True) as conn:
                tables = _tables(conn)
        except psycopg.Error as exc:
            raise SnapshotError(
                f"service '{service}': reading database {shown(logical, physical)}: "
                f"{_one_line(exc)}"
            ) from None
        template, why = _template_copy(plugin, handle, logical, physical, options)
        if why:
            notes.append(why)
        info[logical] = {"physical": physical, "template": template, "tables": tables}
    details = write_tables(target, info)
    details["fast_restore"] = all(d["template"] for d in info.values())
    return SnapshotResult(details=details, notes=notes)


def _pg_dump(plugin: PostgresService, handle: ServiceHandle, database: str, timeout: float) -> str:
    service = plugin.context.service
    user = str(handle.endpoints.get("user") or plugin.spec.user)
    flags = ["--no-owner", "--no-privileges", "--username", user, "--dbname", database]
    if handle.container is not None:
        # TMPDIR: the container's /tmp, or a native service's own scratch folder
        error_file = '"${TMPDIR:-/tmp}/envctl-pg_dump.err"'
        script = (
            f"pg_dump {' '.join(shlex.quote(f) for f in flags)} 2>{error_file} "
            f"|| {{ cat {error_file}; exit 1; }}"
        )
        result = handle.container.exec(
            ["env", f"PGPASSWORD={plugin.spec.password}", "sh", "-c", script]
        )
        if result.exit_code != 0:
            raise SnapshotError(
                f"service '{service}': pg_dump of {database} failed in its container: "
                f"{_one_line(Exception(result.output[-500:]))}"
            )
        return result.output
    program = shutil.which("pg_dump")
    if program is None:
        raise SnapshotError(
            f"service '{service}': a snapshot of an external PostgreSQL needs pg_dump on PATH "
            "(postgresql-client of the server's major version or newer)"
        )
    command, env = pg_dump_command(program, conninfo(handle, database))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        raise SnapshotError(
            f"service '{service}': pg_dump took longer than {timeout:.0f}s"
        ) from None
    if done.returncode != 0:
        why = _one_line(Exception(done.stderr))
        raise SnapshotError(f"service '{service}': pg_dump of {database} failed: {why}")
    return done.stdout


def pg_dump_command(program: str, dsn: str) -> tuple[list[str], dict[str, str]]:
    """The pg_dump command line and environment for ``dsn``: the password goes through
    PGPASSWORD in the child's environment (readable by its owner only), never on the command
    line, which every local user can read in /proc/PID/cmdline."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    command = [program, "--no-owner", "--no-privileges", "--dbname", make_conninfo("", **params)]
    return command, env


def _tables(conn: Any) -> dict[str, dict[str, Any]]:
    from psycopg import sql

    tables: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        """
        SELECT n.nspname, c.relname, c.oid FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%'
        ORDER BY 1, 2
        """
    ).fetchall()
    for schema, name, oid in rows:
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                (oid,),
            )
        ]
        key = [
            r[0]
            for r in conn.execute(
                "SELECT a.attname FROM pg_index i "
                "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = %s AND i.indisprimary ORDER BY k.n",
                (oid,),
            )
        ]
        count = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
        ).fetchone()[0]
        tables[f"{schema}.{name}"] = {"columns": columns, "primary_key": key, "rows": count}
    return tables


def _template_name(plugin: PostgresService, logical: str, snapshot: str) -> str | None:
    if not plugin.namespace.owns("database") or not snapshot:
        return None  # only names the run owns may be created and later removed by pattern
    digest = hashlib.sha1(f"{logical}\0{snapshot}".encode()).hexdigest()[:10]
    try:
        return plugin.namespace.database(f"{SNAPSHOT_DB_PREFIX}{digest}")
    except ValueError:
        return None


def _template_copy(
    plugin: PostgresService,
    handle: ServiceHandle,
    logical: str,
    physical: str,
    options: SnapshotOptions,
) -> tuple[str | None, str | None]:
    """Copy the database into a template for a fast restore; (name, None) or (None, why)."""
    import psycopg

    name = _template_name(plugin, logical, options.name)
    if name is None:
        return None, None
    try:
        with _connect(handle, admin_database(handle), options.timeout, autocommit=True) as conn:
            conn.execute(_sql("DROP DATABASE IF EXISTS {}", _ident(name)))
            conn.execute(_sql("CREATE DATABASE {} TEMPLATE {}", _ident(name), _ident(physical)))
    except psycopg.Error as exc:
        return None, (
            f"{plugin.context.service}: no fast-restore copy of database "
            f"{shown(logical, physical)} "
            f"({_one_line(exc)}); restore will replay the dump"
        )
    return name, None


# -- restore ------------------------------------------------------------------------------------


def restore(
    plugin: PostgresService, handle: ServiceHandle, source: Path, timeout: float
) -> list[str]:
    import psycopg

    service = plugin.context.service
    info = read_tables(source)
    notes: list[str] = []
    doing = ""
    wanted = {logical: plugin.namespace.database(logical) for logical in info}
    try:
        with _connect(handle, admin_database(handle), timeout, autocommit=True) as admin:
            existing = {r[0] for r in admin.execute("SELECT datname FROM pg_database")}
            # databases of the run made after the snapshot go
            for name in sorted(existing):
                logical = plugin.namespace.logical_database(name)
                if (
                    plugin.namespace.owns_database(name)
                    and logical is not None
                    and not logical.startswith(SNAPSHOT_DB_PREFIX)
                    and name not in wanted.values()
                ):
                    _drop(admin, name)
            for logical, physical in wanted.items():
                doing = f" of database {shown(logical, physical)}"
                template = info[logical].get("template")
                _drop(admin, physical)
                if template and template in existing:
                    admin.execute(
                        _sql("CREATE DATABASE {} TEMPLATE {}", _ident(physical), _ident(template))
                    )
                    continue
                admin.execute(_sql("CREATE DATABASE {}", _ident(physical)))
                dump = (source / f"{logical}.sql").read_text(encoding="utf-8")
                with _connect(handle, physical, timeout, autocommit=False) as conn:
                    run_dump(conn, dump)
                notes.append(
                    f"{service}: database {shown(logical, physical)} restored by replaying its dump"
                )
                doing = ""
    except psycopg.Error as exc:
        raise SnapshotError(
            f"service '{service}': restore{doing} failed: {_one_line(exc)}"
        ) from None
    return notes


def _drop(admin: Any, name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )
    admin.execute(_sql("DROP DATABASE IF EXISTS {}", _ident(name)))


def run_dump(conn: Any, dump: str) -> None:
    """Execute a plain-format ``pg_dump`` in one transaction: statements and COPY blocks.

    psql meta-commands (lines starting with a backslash, e.g. ``\\restrict``) are skipped.
    """
    with conn.transaction():
        statements: list[str] = []
        lines = iter(dump.splitlines(keepends=True))

        def flush() -> None:
            text = "".join(statements).strip()
            if text:
                conn.execute(text.encode())
            statements.clear()

        for line in lines:
            if line.startswith("\\"):
                continue
            match = _COPY_START.match(line)
            if match is None:
                statements.append(line)
                continue
            flush()
            with conn.cursor().copy(f"COPY {match.group(1)} FROM STDIN".encode()) as copy:
                for data in lines:
                    if data.rstrip("\r\n") == "\\.":
                        break
                    copy.write(data.encode())
        flush()


# -- cleanup and inspection ---------------------------------------------------------------------


def run_database_names(plugin: PostgresService, handle: ServiceHandle, conn: Any) -> list[str]:
    recorded = set(handle.resources.get("databases", []))
    names = [r[0] for r in conn.execute("SELECT datname FROM pg_database")]
    return sorted(n for n in names if n in recorded or plugin.namespace.owns_database(n))


def cleanup(
    plugin: PostgresService, handle: ServiceHandle, timeout: float, kinds: Collection[str] | None
) -> None:
    import psycopg

    if kinds is not None and "databases" not in kinds:
        return
    admin_db = admin_database(handle)
    try:
        with _connect(handle, admin_db, timeout, autocommit=True) as admin:
            for name in run_database_names(plugin, handle, admin):
                if name != admin_db:
                    _drop(admin, name)
    except psycopg.Error as exc:
        raise ServiceFailed(
            plugin.context.service, f"cannot drop the run's databases: {_one_line(exc)}"
        ) from None
