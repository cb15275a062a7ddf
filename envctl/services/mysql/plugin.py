"""MySQL (and MariaDB): the official image's contract, readiness by ``SELECT 1`` over the
MySQL protocol on the published port.

The official ``mysql`` image (and ``mariadb``, which accepts the same ``MYSQL_*`` variables,
and ``envctl-test/mysql``) initialises a new data directory with a temporary server that
listens on the unix socket only (``--skip-networking``), creates ``MYSQL_DATABASE`` and the
accounts, runs ``/docker-entrypoint-initdb.d``, stops it and starts the real server. The
probe logs in over TCP to the published 127.0.0.1 port as the scenario's user, into the
scenario's database, so an answer can only come from the real server after initialisation.
A refused login (error 1045) or an unknown database (1049) from the *real* server cannot
heal by waiting: the probe says so and the engine stops waiting at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import Field, field_validator, model_validator

from envctl.scenario.spec import ServiceMode, ServiceSpecBase, service_variable
from envctl.services.base import (
    Endpoints,
    PhaseTimeouts,
    ProbeFailed,
    ProbeRefused,
    ServiceHandle,
    mask_url,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck
from envctl.services.mysql.client import MYSQL_PORT, connect_args, error_code, one_line
from envctl.services.sql.plugin import SqlService
from envctl.services.sql.seed import SqlSeed
from envctl.services.sql.spec import SqlSpecBase

MYSQL_IMAGE = "mysql:8.4"
MARIADB_IMAGE = "mariadb:11"

Flavor = Literal["mysql", "mariadb"]

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
_USER_RE = re.compile(r"^[A-Za-z0-9_.$-]{1,32}$")

# Server errors that waiting cannot fix (the server answered: it is up, the login is wrong).
ACCESS_DENIED = 1045
UNKNOWN_DATABASE = 1049
FATAL_LOGIN_ERRORS = frozenset({ACCESS_DENIED, UNKNOWN_DATABASE, 1044, 1251, 1698})
"""1045 access denied, 1049 unknown database, 1044 no access to the database, 1251 the
client does not support the server's authentication, 1698 root needs the unix socket."""


class MysqlSeed(SqlSeed):
    """A seed file: ``.sql`` (its statements, in order) or ``.csv`` (rows into ``table``)."""

    loads_csv: ClassVar[str] = "load into"
    table: str | None = Field(
        default=None, description="CSV: the table the rows go into ('table' or 'db.table')."
    )


def _check_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a usable MySQL database name: letters, digits, '_', '$' or "
            "'-', starting with a letter or '_', at most 63 characters"
        )
    return value


class MysqlSpec(SqlSpecBase):
    """A MySQL server (image ``mysql``), or MariaDB (``flavor: mariadb``, image ``mariadb``)."""

    type: Literal["mysql"]
    flavor: Flavor | None = Field(
        default=None,
        description="mysql | mariadb; default: recognised from the image's repository name "
        f"(mysql when unsure). mariadb without an image runs {MARIADB_IMAGE}.",
    )
    user: str = Field(
        default="root",
        description="Account the run uses. root: the server's root; another name is created "
        "at first start (MYSQL_USER) and granted the run's databases.",
    )
    password: str = Field(
        default="envctl",
        min_length=1,
        description="Password of user (and of root). A local test password: the port is "
        "published on 127.0.0.1 only and the container is removed after the run.",
    )
    database: str = Field(
        default="envctl",
        description="The run's main database (logical; physical name per naming.database).",
    )
    databases: list[str] = Field(
        default_factory=list, description="More databases of the run (logical names)."
    )
    seed: list[MysqlSeed] = Field(
        default_factory=list,
        description="SQL files (statements in order) and CSV files (batched inserts), in order.",
    )

    @field_validator("databases")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_name(value)
        if len(set(values)) != len(values):
            raise ValueError("names must be unique")
        return values

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str) -> str:
        if not _USER_RE.match(value):
            raise ValueError(
                f"{value!r} is not a usable MySQL user name: letters, digits, '_', '.', '$' "
                "or '-', at most 32 characters"
            )
        return value

    @model_validator(mode="after")
    def _flavor_image(self) -> MysqlSpec:
        if self.flavor == "mariadb" and self.image is None:
            self.image = MARIADB_IMAGE  # the flavor's default image (ENVCTL_IMAGE_MYSQL wins)
        return self


def flavor_of(spec: MysqlSpec, image: str) -> Flavor:
    """The flavor set in the scenario, else recognised from the image's repository name."""
    if spec.flavor is not None:
        return spec.flavor
    repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    return "mariadb" if "mariadb" in repository else "mysql"


def mysql_url(user: str, password: str, host: str, port: int, database: str) -> str:
    return (
        f"mysql://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database, safe='')}"
    )


class MysqlService(SqlService[MysqlSpec]):
    type_name: ClassVar[str] = "mysql"
    spec_model = MysqlSpec
    default_image: ClassVar[str] = MYSQL_IMAGE
    client_modules: ClassVar[tuple[str, ...]] = ("pymysql",)
    data_module: ClassVar[str | None] = "envctl.services.mysql.data"
    service_port: ClassVar[int | None] = MYSQL_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(
        startup=60, health_check=90, setup=30, seed=60
    )

    @property
    def flavor(self) -> Flavor:
        return flavor_of(self.spec, self.context.image or self.spec.image or MYSQL_IMAGE)

    # -- docker mode ---------------------------------------------------------------------
    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        env = {
            "MYSQL_ROOT_PASSWORD": self.spec.password,
            "MYSQL_DATABASE": self._main_database(),
        }
        if self.spec.user != "root":
            env["MYSQL_USER"] = self.spec.user
            env["MYSQL_PASSWORD"] = self.spec.password
        return env

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        port = host_ports[MYSQL_PORT]
        spec = self.spec
        main = self._main_database()
        return {
            "url": mysql_url(spec.user, spec.password, "127.0.0.1", port, main),
            "host": "127.0.0.1",
            "port": port,
            "user": spec.user,
            "database": main,
            "flavor": self.flavor,
            # docker mode: root creates and drops the run's databases (same password)
            "_admin_url": mysql_url("root", spec.password, "127.0.0.1", port, ""),
        }

    @classmethod
    def tool_factories(cls) -> Sequence[Any]:
        from envctl.services.mysql.factories import FACTORIES  # the tools load on first use

        return FACTORIES

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        """``mysqladmin ping`` over TCP for compose/GitHub Actions (``mariadb-admin`` in the
        mariadb image, which has no ``mysql*`` names): the temporary server of the first start
        listens on the socket only, so the check cannot pass before initialisation is done."""
        assert isinstance(spec, MysqlSpec)
        program = "mariadb-admin" if flavor_of(spec, image) == "mariadb" else "mysqladmin"
        command = (
            program,
            "ping",
            "--host=127.0.0.1",
            f"--port={MYSQL_PORT}",
            f"--user={spec.user}",
            f"--password={spec.password}",
            "--silent",
        )
        return HealthCheck(("CMD", *command), start_period=start_period)

    # -- external / cloud mode -------------------------------------------------------------
    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        from envctl.errors import ServiceFailed

        service = self.context.service
        parts = urlsplit(url)
        if parts.scheme not in ("mysql", "mariadb"):
            raise ServiceFailed(
                service,
                f"url '{mask_url(url)}' is not a MySQL URL; "
                "write mysql://USER:PASSWORD@HOST:PORT/DATABASE",
            )
        try:
            port = parts.port or MYSQL_PORT
        except ValueError:
            raise ServiceFailed(service, f"url '{mask_url(url)}' has an invalid port") from None
        password = credentials.get("PASSWORD")
        cloud = self.spec.mode == ServiceMode.CLOUD
        if cloud and not password:
            raise ServiceFailed(
                service,
                f"mode: cloud needs {service_variable(service, 'PASSWORD')} in the "
                "environment (secrets are never read from the scenario file)",
            )
        user = unquote(parts.username) if parts.username else self.spec.user
        database = unquote(parts.path.lstrip("/")) or self.spec.database
        real = mysql_url(
            user,
            password if password else unquote(parts.password or ""),
            parts.hostname or "localhost",
            port,
            database,
        )
        if not password and parts.password is None:
            real = real.replace(f"{quote(user, safe='')}:@", f"{quote(user, safe='')}@", 1)
        endpoints: Endpoints = {
            "url": mask_url(real),
            "_url": real,
            "host": parts.hostname or "localhost",
            "port": port,
            "user": user,
            "database": database,
            "flavor": self.flavor,
        }
        ssl = credentials.get("SSL", "true" if cloud else "").lower()
        if ssl in ("1", "true", "yes", "required"):
            endpoints["ssl"] = True
        return endpoints

    # -- lifecycle ---------------------------------------------------------------------------
    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        import pymysql

        args = connect_args(handle.endpoints)
        try:
            conn = pymysql.connect(
                **args,
                connect_timeout=max(1, min(round(timeout), 30)),
                read_timeout=max(1, round(timeout)),
            )
        except pymysql.err.OperationalError as exc:
            code = error_code(exc)
            if code in FATAL_LOGIN_ERRORS:
                # The real server answered and refused: waiting cannot fix the login.
                raise ProbeRefused(
                    f"the server refuses the login of user '{args['user']}' to database "
                    f"'{args.get('database', '')}': {one_line(exc)}; check user, password and "
                    "database (external: ENVCTL_<SERVICE>_URL / _PASSWORD)",
                ) from None
            raise ProbeFailed(f"SELECT 1 failed: {one_line(exc)}") from None
        except pymysql.err.MySQLError as exc:
            raise ProbeFailed(f"SELECT 1 failed: {one_line(exc)}") from None
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1")
                row = cursor.fetchone()
        except pymysql.err.MySQLError as exc:
            raise ProbeFailed(f"SELECT 1 failed: {one_line(exc)}") from None
        finally:
            conn.close()
        if row != (1,):
            raise ProbeFailed(f"SELECT 1 answered {row!r}")

    def setup(self, handle: ServiceHandle, timeout: float) -> None:
        from envctl.services.mysql import data

        data.setup(self, handle, timeout)

    def reach(self, handle: ServiceHandle) -> dict[str, str]:
        endpoints = handle.endpoints
        databases: Any = endpoints.get("databases") or {}
        names = ", ".join(f"{k} = {v}" for k, v in databases.items())
        command = (
            f"mysql --host={endpoints.get('host')} --port={endpoints.get('port')} "
            f"--user={endpoints.get('user')} --password {endpoints.get('database')}"
        )
        return {"databases": f"{command} (databases: {names})"}

    # -- snapshots: diff ---------------------------------------------------------------------
    @classmethod
    def diff_snapshots(cls, a: Path, b: Path) -> dict[str, Any]:
        from envctl.services.mysql import data

        return data.diff(a, b)

    @classmethod
    def format_snapshot_diff(cls, result: dict[str, Any]) -> list[str]:
        from envctl.services.sql.diff import format_diff

        return format_diff(result)

    @classmethod
    def reset_shared(cls, spec: ServiceSpecBase, tool: Any, isolated: bool) -> None:
        """Drop the tables and views of the main database (as PostgreSQL drops its schema);
        a shared instance is never isolated by namespace (one database per run)."""
        if isolated:
            return
        names = tool.query(
            "SELECT TABLE_NAME AS name, TABLE_TYPE AS kind FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()"
        )
        views = [r["name"] for r in names if r["kind"] == "VIEW"]
        tables = [r["name"] for r in names if r["kind"] != "VIEW"]
        quoted = {n: "`" + str(n).replace("`", "``") + "`" for n in views + tables}
        if views:
            tool.execute(f"DROP VIEW IF EXISTS {', '.join(quoted[v] for v in views)}")
        if tables:
            tool.execute(
                "SET FOREIGN_KEY_CHECKS = 0; "
                f"DROP TABLE IF EXISTS {', '.join(quoted[t] for t in tables)}; "
                "SET FOREIGN_KEY_CHECKS = 1"
            )

    # -- mock mode -----------------------------------------------------------------------------
    @classmethod
    def seed_mock(cls, tool: Any, seed: Any, path: Path, service: str) -> None:
        from envctl.services.mysql import data

        data.seed_double(tool, seed, path, service)
