"""PostgreSQL: the official image's contract, readiness by ``SELECT 1`` over the published port.

The official image (and ``envctl-test/postgres``) initialises a new data directory with a
temporary server that listens on the unix socket only, stops it, and starts the real
server. The probe connects over TCP to the published 127.0.0.1 port, to the scenario's
database as the scenario's user, so an answer can only come from the real server after
initialisation has finished (the database exists, the password is set).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
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
    secret,
    with_password,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck
from envctl.services.sql.plugin import SqlService
from envctl.services.sql.seed import SqlSeed
from envctl.services.sql.spec import SqlSpecBase

POSTGRES_PORT = 5432
POSTGRES_IMAGE = "postgres:16"

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


class PostgresSeed(SqlSeed):
    """A seed file: ``.sql`` (run in one transaction) or ``.csv`` (COPY into ``table``)."""

    loads_csv: ClassVar[str] = "COPY into"
    table: str | None = Field(
        default=None, description="CSV: the table to COPY into ('table' or 'schema.table')."
    )


class PostgresSpec(SqlSpecBase):
    """A PostgreSQL server (image ``postgres`` or one with the same environment contract)."""

    type: Literal["postgres"]
    user: str = Field(default="postgres", description="Superuser created at first start.")
    password: str = Field(
        default="envctl",
        min_length=1,
        description="Password of user. A local test password: the port is published on "
        "127.0.0.1 only and the container is removed after the run.",
    )
    database: str = Field(
        default="envctl",
        description="The run's main database (logical; physical name per naming.database).",
    )
    databases: list[str] = Field(
        default_factory=list, description="More databases of the run (logical names)."
    )
    schemas: list[str] = Field(
        default_factory=list, description="Schemas created in the main database."
    )
    seed: list[PostgresSeed] = Field(
        default_factory=list,
        description="SQL files (one transaction each) and CSV files (COPY), run in order.",
    )

    @field_validator("databases", "schemas")
    @classmethod
    def _names(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _NAME_RE.match(value):
                raise ValueError(
                    f"{value!r} is not a usable PostgreSQL name: letters, digits, '_', '$' or "
                    "'-', starting with a letter or '_', at most 63 characters"
                )
        if len(set(values)) != len(values):
            raise ValueError("names must be unique")
        return values

    @model_validator(mode="after")
    def _no_env_against_own_settings(self) -> PostgresSpec:
        # envctl sets these itself and hands out a DSN built from user/password/database:
        # an env: value would silently break that DSN
        own = {"POSTGRES_USER": "user", "POSTGRES_PASSWORD": "password", "POSTGRES_DB": "database"}
        clash = [name for name in own if name in self.env]
        if clash:
            name = clash[0]
            raise ValueError(
                f"env {name} contradicts the DSN envctl hands out; write {own[name]}: "
                f"instead (envctl sets {name} from it)"
            )
        return self

    @field_validator("user", "database")
    @classmethod
    def _postgres_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a usable PostgreSQL name: letters, digits, '_', '$' or '-', "
                "starting with a letter or '_', at most 63 characters"
            )
        return value


_REFUSED = (
    "password authentication failed",
    "no password supplied",
    "does not exist",  # database "x" / role "x" does not exist
    "no pg_hba.conf entry",
)
"""Login refusals of a server that is up: a readiness wait ends at once on these."""


class PostgresService(SqlService[PostgresSpec]):
    type_name: ClassVar[str] = "postgres"
    spec_model = PostgresSpec
    default_image: ClassVar[str] = POSTGRES_IMAGE
    client_modules: ClassVar[tuple[str, ...]] = ("psycopg",)
    data_module: ClassVar[str | None] = "envctl.services.postgres.data"
    native_module: ClassVar[str | None] = "envctl.services.postgres.native"
    service_port: ClassVar[int | None] = POSTGRES_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(
        startup=60, health_check=60, setup=30, seed=60
    )

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        return {
            "POSTGRES_USER": self.spec.user,
            "POSTGRES_PASSWORD": self.spec.password,
            "POSTGRES_DB": self._main_database(),
        }

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        port = host_ports[POSTGRES_PORT]
        spec = self.spec
        return {
            "dsn": (
                f"postgresql://{quote(spec.user, safe='')}:{quote(spec.password, safe='')}"
                f"@127.0.0.1:{port}/{quote(self._main_database(), safe='')}"
            ),
            "host": "127.0.0.1",
            "port": port,
            "user": spec.user,
            "database": self._main_database(),
            "admin_database": "postgres",
        }

    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        from envctl.errors import ServiceFailed

        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ServiceFailed(
                self.context.service,
                f"url '{_hide_password(url)}' is not a PostgreSQL DSN; "
                "write postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            )
        try:
            port = parts.port or POSTGRES_PORT
        except ValueError:
            raise ServiceFailed(
                self.context.service, f"url '{_hide_password(url)}' has an invalid port"
            ) from None

        password = credentials.get("PASSWORD")
        cloud = self.spec.mode == ServiceMode.CLOUD
        if cloud and not password:
            raise ServiceFailed(
                self.context.service,
                f"mode: cloud needs {service_variable(self.context.service, 'PASSWORD')} in the "
                "environment (secrets are never read from the scenario file)",
            )
        sslmode = credentials.get("SSLMODE") or ("require" if cloud else "")
        if sslmode and "sslmode=" not in parts.query:
            url += ("&" if parts.query else "?") + f"sslmode={sslmode}"
        real = with_password(url, password) if password else url
        return {
            "dsn": mask_url(real),
            "_dsn": real,
            "host": parts.hostname or "localhost",
            "port": port,
            "user": unquote(parts.username) if parts.username else self.spec.user,
            "database": unquote(parts.path.lstrip("/")) or self.spec.database,
        }

    # -- lifecycle -------------------------------------------------------------------
    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        import psycopg

        try:
            with psycopg.connect(
                secret(handle.endpoints, "dsn"),
                connect_timeout=max(1, round(timeout)),
                autocommit=True,
            ) as conn:
                row = conn.execute("SELECT 1").fetchone()
        except psycopg.Error as exc:
            reason = _one_line(exc)
            if any(phrase in reason for phrase in _REFUSED):
                # the server answered and refused the login: waiting cannot fix that
                raise ProbeRefused(
                    f"the server refuses the connection: {reason}; check user, password and "
                    "database (external/cloud: ENVCTL_<SERVICE>_URL / _PASSWORD)"
                ) from None
            raise ProbeFailed(f"SELECT 1 failed: {reason}") from None
        if row != (1,):
            raise ProbeFailed(f"SELECT 1 answered {row!r}")

    # -- data --------------------------------------------------------------------------
    per_run_fields: ClassVar[frozenset[str]] = frozenset(
        {"database", "databases", "schemas", "seed"}
    )

    def setup(self, handle: ServiceHandle, timeout: float) -> None:
        from envctl.services.postgres import data as postgres_data

        # external mode: the URL's database is where databases are created and dropped
        handle.endpoints.setdefault("admin_database", handle.endpoints.get("database"))
        postgres_data.setup(self, handle, timeout)

    def acquire_namespace(self, handle: ServiceHandle, timeout: float) -> None:
        """On a warm server the run's database comes from a pool of copies of a template
        built from the schemas and seeds (see :mod:`envctl.services.postgres.pool`)."""
        from envctl.services.postgres import pool

        if not pool.poolable(self):
            super().acquire_namespace(handle, timeout)
            return
        handle.endpoints.setdefault("admin_database", handle.endpoints.get("database"))
        pool.acquire(self, handle, timeout)

    def reach(self, handle: ServiceHandle) -> dict[str, str]:
        databases: Any = handle.endpoints.get("databases") or {}
        names = ", ".join(f"{k} = {v}" for k, v in databases.items())
        return {"databases": f"psql '{handle.endpoints.get('dsn', '')}' (databases: {names})"}

    # -- what code outside this package asks ---------------------------------------------
    @classmethod
    def tool_factories(cls) -> Sequence[Any]:
        from envctl.services.postgres.factories import FACTORIES  # the tools load on first use

        return FACTORIES

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        # pg_isready over TCP: the image's temporary init server listens on the unix socket
        # only, so TCP answers once the real server runs (why envctl's probe uses TCP too).
        assert isinstance(spec, PostgresSpec)
        return HealthCheck(
            (
                "CMD",
                "pg_isready",
                "-h",
                "127.0.0.1",
                "-p",
                str(POSTGRES_PORT),
                "-U",
                spec.user,
                "-d",
                spec.database,
            ),
            start_period=start_period,
        )

    @classmethod
    def external_url(
        cls,
        spec: ServiceSpecBase,
        endpoints: Mapping[str, Any],
        ports: Sequence[tuple[int, int, str]],
    ) -> str | None:
        return str(endpoints["dsn"])

    standard_compose: ClassVar[bool] = True

    @classmethod
    def recognizes_compose_image(cls, name: str) -> bool:
        return name == "postgres"

    @classmethod
    def compose_fields(cls, env: dict[str, str], note: Callable[[str], None]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        user = env.pop("POSTGRES_USER", None)
        password = env.pop("POSTGRES_PASSWORD", None)
        database = env.pop("POSTGRES_DB", None)
        if user:
            fields["user"] = user
        if password:
            fields["password"] = password
        elif env.get("POSTGRES_HOST_AUTH_METHOD") != "trust":
            note("no POSTGRES_PASSWORD: envctl's default test password is used")
        # The official image names the database after the user when POSTGRES_DB is unset.
        fields["database"] = database or user or "postgres"
        return fields

    @classmethod
    def diff_snapshots(cls, before: Path, after: Path) -> dict[str, Any]:
        from envctl.services.postgres.diff import diff_postgres

        return diff_postgres(before, after)

    @classmethod
    def format_snapshot_diff(cls, diff: dict[str, Any]) -> list[str]:
        from envctl.services.sql.diff import format_diff

        return format_diff(diff)

    @classmethod
    def seed_mock(cls, tool: Any, seed: Any, path: Path, service: str) -> None:
        from envctl.services.postgres.mock import seed_double

        seed_double(tool, seed, path, service)

    @classmethod
    def reset_shared(cls, spec: ServiceSpecBase, tool: Any, isolated: bool) -> None:
        if not isolated:
            tool.execute("DROP SCHEMA IF EXISTS public CASCADE")
            tool.execute("CREATE SCHEMA public")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
