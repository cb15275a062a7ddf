"""MySQL data: the run's databases, seed files, snapshot/restore/diff, cleanup.

The hooks of :class:`~envctl.services.mysql.plugin.MysqlService` call these functions. Every
database of a run is a physical database of its own (``envctl_<run>_<name>``, as for
PostgreSQL), created by the run and dropped with it.

Snapshot files (in ``<snapshot>/<service>/``):

- ``<database>.sql``: a dump of each of the run's databases: ``CREATE TABLE`` (as the server
  shows it), the rows as batched ``INSERT``s, then the views; loadable with the ``mysql``
  client (``mysql DB < file``) as well as by :func:`restore`. Triggers and routines are not
  part of it.
- ``<database>.rows.json``: the same rows as JSON (values as text: decimals and dates as
  the server prints them, bytes as ``0x…`` hex), which :func:`diff` compares;
- ``tables.json``: per database its tables with columns, primary key and row count.

The dump is made by envctl over the client connection, not by ``mysqldump``: one way for
docker, external and cloud servers alike, for MySQL and MariaDB (whose dump programs differ
in name and options, and a ``mysqldump`` of one fails against the other's server on
``COLUMN_STATISTICS``), and its rows are the data :func:`diff` reads.
"""

from __future__ import annotations

import csv
import datetime
import decimal
import json
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from envctl.errors import SeedError, SeedRejected, ServiceFailed, SnapshotError
from envctl.namespace import shown
from envctl.services.base import ServiceHandle, SnapshotOptions, SnapshotResult, secret
from envctl.services.mysql.client import connect_args, error_code, one_line
from envctl.services.sql import diff as sql_diff
from envctl.services.sql.diff import TableRows
from envctl.services.sql.plugin import point_endpoints_at
from envctl.services.sql.seed import seed_overran, seed_plan
from envctl.services.sql.snapshot import read_tables, write_tables
from envctl.snapshot.compare import read_json

if TYPE_CHECKING:
    from envctl.services.mysql.plugin import MysqlService

ROWS_SUFFIX = ".rows.json"
INSERT_BATCH_BYTES = 1 << 20
"""A dump's INSERT statements hold about this much text each (well under max_allowed_packet)."""
CSV_BATCH_ROWS = 500

# A statement ends at a ';' outside quotes ('...', "...", `...`, backslash escapes) and
# comments (-- , #, /* */). sqlparse would do it too, as a dependency for this one split.
_STATEMENT_PARTS = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`|--[ \t][^\n]*|--\n|\#[^\n]*"""
    r"""|/\*.*?\*/|;""",
    re.DOTALL,
)
_BLANK = re.compile(r"(?:\s+|--[ \t][^\n]*|--\n|\#[^\n]*|/\*(?!!).*?\*/)+", re.DOTALL)


def split_statements(text: str) -> Iterator[tuple[int, str]]:
    """``(first line, statement)`` for each statement of a SQL file (1-based lines)."""
    start = 0
    for match in _STATEMENT_PARTS.finditer(text):
        if match.group(0) != ";":
            continue
        yield from _statement(text, start, match.start())
        start = match.end()
    yield from _statement(text, start, len(text))


def _statement(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    chunk = text[start:end]
    lead = _BLANK.match(chunk)
    skip = lead.end() if lead else 0
    body = chunk[skip:].strip()
    if body and _BLANK.sub("", body):
        yield text.count("\n", 0, start + skip) + 1, body


def quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _table_name(name: str) -> str:
    return ".".join(quote_name(part) for part in name.split(".", 1))


# -- connections --------------------------------------------------------------------------------


def connect(
    handle: ServiceHandle,
    timeout: float,
    database: str | None = None,
    *,
    admin: bool = False,
    autocommit: bool = True,
) -> Any:
    """A PyMySQL connection to the service: to ``database`` (``""``: none), as the run's
    user, or as root in docker mode when ``admin``."""
    import pymysql

    endpoints = dict(handle.endpoints)
    if admin and "_admin_url" in endpoints:
        endpoints = {"url": endpoints["_admin_url"], "ssl": endpoints.get("ssl")}
    return pymysql.connect(
        **connect_args(endpoints, database),
        autocommit=autocommit,
        connect_timeout=max(1, round(min(timeout, 30))),
        read_timeout=max(1, round(timeout)),
        write_timeout=max(1, round(timeout)),
        local_infile=False,
    )


# -- setup --------------------------------------------------------------------------------------


def setup(plugin: MysqlService, handle: ServiceHandle, timeout: float) -> None:
    """Create the run's databases (if missing); a user other than root is granted them."""
    import pymysql

    service = plugin.context.service
    databases = plugin.physical_databases()
    docker = "_admin_url" in handle.endpoints
    user = str(handle.endpoints.get("user") or plugin.spec.user)
    try:
        with connect(handle, timeout, "", admin=True) as conn, conn.cursor() as cursor:
            for physical in databases.values():
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS {quote_name(physical)}")
                if docker and user != "root":
                    cursor.execute(f"GRANT ALL ON {quote_name(physical)}.* TO %s@'%%'", (user,))
    except pymysql.err.MySQLError as exc:
        raise ServiceFailed(
            service, f"cannot create the run's databases: {one_line(exc)}"
        ) from None
    handle.resources["databases"] = list(databases.values())
    main = databases[plugin.spec.database]
    # ``url`` and ``database`` name the run's main database from now on
    parts = urlsplit(str(secret(handle.endpoints, "url")))
    real = urlunsplit(parts._replace(path="/" + quote(main, safe="")))
    point_endpoints_at(handle, "url", real, main, databases)


# -- seeding ------------------------------------------------------------------------------------


def seed(plugin: MysqlService, handle: ServiceHandle, timeout: float) -> None:
    """Run SQL files (statement by statement) and load CSV files, in the order listed."""
    if not plugin.spec.seed:
        return
    import pymysql

    service = plugin.context.service
    for step in seed_plan(plugin, handle, timeout):
        entry, path = step.entry, step.path
        try:
            with connect(handle, step.seconds_left, step.database, autocommit=False) as conn:
                if path.suffix.lower() == ".csv":
                    _seed_csv(conn, path, entry, service)
                else:
                    _seed_sql(conn, path, entry.from_, service)
                conn.commit()
        except SeedRejected as exc:
            raise exc.into(step.target) from None
        except pymysql.err.OperationalError as exc:
            if error_code(exc) in (2013, 2006):  # the read timeout (the seed phase) ran out
                raise seed_overran(service, timeout, entry.from_) from None
            raise step.failed(service, one_line(exc)) from None


_AT_LINE = re.compile(r"at line (\d+)")


def _seed_sql(conn: Any, path: Path, display: str, service: str) -> None:
    import pymysql

    text = path.read_text(encoding="utf-8")
    with conn.cursor() as cursor:
        for line, statement in split_statements(text):
            try:
                cursor.execute(statement)
            except pymysql.err.OperationalError as exc:
                if error_code(exc) in (2013, 2006):
                    raise
                raise SeedRejected(display, line, service, one_line(exc)) from None
            except pymysql.err.MySQLError as exc:
                found = _AT_LINE.search(str(exc))
                where = line + int(found.group(1)) - 1 if found else line
                raise SeedRejected(display, where, service, one_line(exc)) from None


def _seed_csv(conn: Any, path: Path, entry: Any, service: str) -> None:
    """Rows of a CSV file as batched INSERTs in one transaction (an empty field is NULL).

    ``LOAD DATA LOCAL INFILE`` is off by default on MySQL 8 servers (``local_infile``), so
    envctl does not depend on it.
    """
    import pymysql

    with open(path, encoding="utf-8", newline="") as source:
        reader = csv.reader(source, delimiter=entry.delimiter)
        columns: list[str] = []
        if entry.header:
            columns = [c.strip() for c in next(reader, [])]
            if not columns or any(not c for c in columns):
                raise SeedError(entry.from_, 1, "the header line names no columns")
        target = _table_name(entry.table)
        names = f" ({', '.join(quote_name(c) for c in columns)})" if columns else ""
        batch: list[tuple[int, list[str | None]]] = []
        with conn.cursor() as cursor:

            def flush() -> None:
                if not batch:
                    return
                width = len(batch[0][1])
                placeholders = "(" + ", ".join(["%s"] * width) + ")"
                sql = f"INSERT INTO {target}{names} VALUES {placeholders}"
                try:
                    cursor.executemany(sql, [row for _, row in batch])
                except pymysql.err.MySQLError as exc:
                    if error_code(exc) in (2013, 2006):
                        raise
                    line, message = _failing_row(cursor, sql, batch, exc)
                    conn.rollback()
                    raise SeedError(entry.from_, line, f"service '{service}': {message}") from None
                batch.clear()

            for row in reader:
                if not row:
                    continue
                values = [None if value == "" else value for value in row]
                if batch and len(values) != len(batch[0][1]):
                    flush()
                batch.append((reader.line_num, values))
                if len(batch) >= CSV_BATCH_ROWS:
                    flush()
            flush()


def _failing_row(
    cursor: Any, sql: str, batch: list[tuple[int, list[str | None]]], exc: Exception
) -> tuple[int | None, str]:
    """The CSV line whose row the server refuses: the batch's rows one at a time (the
    transaction is rolled back afterwards)."""
    import pymysql

    for line, row in batch:
        try:
            cursor.execute(sql, row)
        except pymysql.err.MySQLError as one:
            return line, one_line(one)
    return None, one_line(exc)


# -- snapshot -----------------------------------------------------------------------------------


def _text(value: Any) -> Any:
    """A row value as JSON: numbers and NULL as they are, bytes as hex, the rest as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, decimal.Decimal | datetime.date | datetime.time | datetime.timedelta):
        return str(value)
    return str(value)


def _table_info(cursor: Any, database: str) -> tuple[list[str], list[str]]:
    """(base tables, views) of ``database``, by name."""
    cursor.execute(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME",
        (database,),
    )
    tables: list[str] = []
    views: list[str] = []
    for name, kind in cursor.fetchall():
        (views if kind == "VIEW" else tables).append(name)
    return tables, views


def _columns(cursor: Any, database: str, table: str) -> tuple[list[str], list[str]]:
    cursor.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    columns = [r[0] for r in cursor.fetchall()]
    cursor.execute(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
        (database, table),
    )
    return columns, [r[0] for r in cursor.fetchall()]


_DEFINER = re.compile(r"\s*DEFINER\s*=\s*(?:`(?:[^`]|``)*`|\S+?)@(?:`(?:[^`]|``)*`|\S+)")


def dump_database(conn: Any, database: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(SQL dump, rows as JSON by table, table info) of one database."""
    lines = [
        f"-- envctl dump of database {database}",
        "SET NAMES utf8mb4;",
        "SET FOREIGN_KEY_CHECKS = 0;",
        "SET UNIQUE_CHECKS = 0;",
        "",
    ]
    rows_json: dict[str, Any] = {}
    info: dict[str, Any] = {}
    with conn.cursor() as cursor:
        cursor.execute(f"USE {quote_name(database)}")
        tables, views = _table_info(cursor, database)
        for table in tables:
            columns, key = _columns(cursor, database, table)
            cursor.execute(f"SHOW CREATE TABLE {quote_name(table)}")
            create = cursor.fetchone()[1]
            lines += [f"DROP TABLE IF EXISTS {quote_name(table)};", f"{create};"]
            order = f" ORDER BY {', '.join(quote_name(k) for k in key)}" if key else ""
            cursor.execute(f"SELECT * FROM {quote_name(table)}{order}")
            rows = cursor.fetchall()
            lines += _inserts(conn, table, columns, rows)
            lines.append("")
            rows_json[table] = {"columns": columns, "rows": [[_text(v) for v in r] for r in rows]}
            info[table] = {"columns": columns, "primary_key": key, "rows": len(rows)}
        for view in views:
            cursor.execute(f"SHOW CREATE VIEW {quote_name(view)}")
            # without DEFINER=, anyone who may create views can load the dump
            create = _DEFINER.sub("", cursor.fetchone()[1], count=1)
            lines += [f"DROP VIEW IF EXISTS {quote_name(view)};", f"{create};", ""]
    lines += ["SET UNIQUE_CHECKS = 1;", "SET FOREIGN_KEY_CHECKS = 1;", ""]
    return "\n".join(lines), rows_json, info


def _inserts(conn: Any, table: str, columns: list[str], rows: list[Any]) -> list[str]:
    if not rows:
        return []
    head = f"INSERT INTO {quote_name(table)} ({', '.join(quote_name(c) for c in columns)}) VALUES"
    statements: list[str] = []
    values: list[str] = []
    size = 0
    for row in rows:
        text = "(" + ", ".join(conn.literal(v) for v in row) + ")"
        if values and size + len(text) > INSERT_BATCH_BYTES:
            statements.append(head + "\n" + ",\n".join(values) + ";")
            values, size = [], 0
        values.append(text)
        size += len(text)
    statements.append(head + "\n" + ",\n".join(values) + ";")
    return statements


def snapshot(
    plugin: MysqlService, handle: ServiceHandle, target: Path, options: SnapshotOptions
) -> SnapshotResult:
    import pymysql

    service = plugin.context.service
    target.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {}
    for logical, physical in plugin.physical_databases().items():
        try:
            with connect(handle, options.timeout, physical) as conn:
                dump, data, tables = dump_database(conn, physical)
        except pymysql.err.MySQLError as exc:
            raise SnapshotError(
                f"service '{service}': reading database {shown(logical, physical)}: {one_line(exc)}"
            ) from None
        (target / f"{logical}.sql").write_text(dump, encoding="utf-8")
        (target / f"{logical}{ROWS_SUFFIX}").write_text(
            json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        info[logical] = {"physical": physical, "tables": tables}
    return SnapshotResult(details=write_tables(target, info))


# -- restore ------------------------------------------------------------------------------------


def restore(plugin: MysqlService, handle: ServiceHandle, source: Path, timeout: float) -> list[str]:
    """Bring the run's databases back to the snapshot: each is dropped, created and its dump
    replayed; the run's databases made after the snapshot are dropped."""
    import pymysql

    service = plugin.context.service
    info = read_tables(source)
    wanted = {logical: plugin.namespace.database(logical) for logical in info}
    notes: list[str] = []
    doing = ""
    try:
        with connect(handle, timeout, "", admin=True) as admin, admin.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            for (name,) in cursor.fetchall():
                if plugin.namespace.owns_database(name) and name not in wanted.values():
                    cursor.execute(f"DROP DATABASE IF EXISTS {quote_name(name)}")
            for logical, physical in wanted.items():
                doing = f" of database {shown(logical, physical)}"
                dump = (source / f"{logical}.sql").read_text(encoding="utf-8")
                cursor.execute(f"DROP DATABASE IF EXISTS {quote_name(physical)}")
                cursor.execute(f"CREATE DATABASE {quote_name(physical)}")
                cursor.execute(f"USE {quote_name(physical)}")
                for _line, statement in split_statements(dump):
                    cursor.execute(statement)
                notes.append(
                    f"{service}: database {shown(logical, physical)} restored by replaying its dump"
                )
                doing = ""
    except OSError as exc:
        raise SnapshotError(f"service '{service}': restore{doing} failed: {exc}") from None
    except pymysql.err.MySQLError as exc:
        raise SnapshotError(
            f"service '{service}': restore{doing} failed: {one_line(exc)}"
        ) from None
    return notes


# -- diff -----------------------------------------------------------------------------------------


def _rows(folder: Path, database: str) -> dict[str, TableRows]:
    """The rows of one database of a snapshot folder, by table (its ``.rows.json``)."""
    data = read_json(folder / f"{database}{ROWS_SUFFIX}", {})
    return {table: (t["columns"], t["rows"]) for table, t in data.items()}


def diff(a: Path, b: Path) -> dict[str, Any]:
    """What changed from snapshot folder ``a`` to ``b`` (:func:`envctl.services.sql.diff.diff`,
    the rows read from each database's ``.rows.json``)."""
    return sql_diff.diff(a, b, _rows)


# -- mock mode ------------------------------------------------------------------------------------


def seed_double(store: Any, seed: Any, path: Path, service: str) -> None:
    """Load one seed file into the SQL double (mock mode): the SQL file's statements in order,
    or the CSV file's rows (an empty field is NULL, as for the real server)."""
    if path.suffix.lower() != ".csv":
        text = path.read_text(encoding="utf-8")
        for line, statement in split_statements(text):
            try:
                store.execute(statement)
            except Exception as exc:  # noqa: BLE001 - reported with the file and line
                raise SeedError(str(path), line, f"service '{service}' (mock): {exc}") from None
        return
    table = _table_name(str(seed.table).rsplit(".", 1)[-1])  # the double has one database
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source, delimiter=seed.delimiter)
        columns = [c.strip() for c in next(reader, [])] if seed.header else []
        names = f" ({', '.join(quote_name(c) for c in columns)})" if columns else ""
        for row in reader:
            if not row:
                continue
            marks = ", ".join(["%s"] * len(row))
            values = [None if value == "" else value for value in row]
            try:
                store.execute(f"INSERT INTO {table}{names} VALUES ({marks})", values)
            except Exception as exc:  # noqa: BLE001 - reported with the file and line
                raise SeedError(
                    str(path), reader.line_num, f"service '{service}' (mock): {exc}"
                ) from None


# -- cleanup ------------------------------------------------------------------------------------


def cleanup(
    plugin: MysqlService, handle: ServiceHandle, timeout: float, kinds: Collection[str] | None
) -> None:
    """Drop the run's databases (recorded by setup, or named by the run's namespace)."""
    import pymysql

    if kinds is not None and "databases" not in kinds:
        return
    recorded = set(handle.resources.get("databases", []))
    try:
        with connect(handle, timeout, "", admin=True) as admin, admin.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            for (name,) in cursor.fetchall():
                if name in recorded or plugin.namespace.owns_database(name):
                    cursor.execute(f"DROP DATABASE IF EXISTS {quote_name(name)}")
    except pymysql.err.MySQLError as exc:
        raise ServiceFailed(
            plugin.context.service, f"cannot drop the run's databases: {one_line(exc)}"
        ) from None
