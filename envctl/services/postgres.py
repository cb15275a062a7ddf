"""PostgreSQL: the official image's contract, readiness by ``SELECT 1`` over the published port.

The official image (and ``envctl-test/postgres``) initialises a new data directory with a
temporary server that listens on the unix socket only, stops it, and starts the real
server. The probe connects over TCP to the published 127.0.0.1 port, to the scenario's
database as the scenario's user, so an answer can only come from the real server after
initialisation has finished (the database exists, the password is set).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import ClassVar, Literal
from urllib.parse import quote, unquote, urlsplit

from pydantic import Field, field_validator, model_validator

from envctl.scenario.spec import ServiceMode, ServiceSpecBase
from envctl.services.base import (
    Endpoints,
    PhaseTimeouts,
    ProbeFailed,
    ServiceHandle,
    ServicePlugin,
    mask_url,
    secret,
    with_password,
)
from envctl.services.kafka import credential_prefix

POSTGRES_PORT = 5432
POSTGRES_IMAGE = "postgres:16"

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")


class PostgresSpec(ServiceSpecBase):
    """A PostgreSQL server (image ``postgres`` or one with the same environment contract)."""

    type: Literal["postgres"]
    user: str = Field(default="postgres", description="Superuser created at first start.")
    password: str = Field(
        default="envctl",
        min_length=1,
        description="Password of user. A local test password: the port is published on "
        "127.0.0.1 only and the container is removed after the run.",
    )
    database: str = Field(default="envctl", description="Database created at first start.")

    @model_validator(mode="after")
    def _no_password_for_cloud(self) -> PostgresSpec:
        if self.mode == ServiceMode.CLOUD and "password" in self.model_fields_set:
            raise ValueError(
                "mode: cloud takes its password from ENVCTL_<SERVICE>_PASSWORD, never from "
                "the scenario file; remove password"
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


class PostgresService(ServicePlugin[PostgresSpec]):
    type_name: ClassVar[str] = "postgres"
    spec_model = PostgresSpec
    default_image: ClassVar[str] = POSTGRES_IMAGE
    client_modules: ClassVar[tuple[str, ...]] = ("psycopg",)
    service_port: ClassVar[int | None] = POSTGRES_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(
        startup=60, health_check=60, setup=30, seed=60
    )

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        return {
            "POSTGRES_USER": self.spec.user,
            "POSTGRES_PASSWORD": self.spec.password,
            "POSTGRES_DB": self.spec.database,
        }

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        port = host_ports[POSTGRES_PORT]
        spec = self.spec
        return {
            "dsn": (
                f"postgresql://{quote(spec.user, safe='')}:{quote(spec.password, safe='')}"
                f"@127.0.0.1:{port}/{quote(spec.database, safe='')}"
            ),
            "host": "127.0.0.1",
            "port": port,
            "user": spec.user,
            "database": spec.database,
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
        from envctl.scenario.spec import ServiceMode

        password = credentials.get("PASSWORD")
        cloud = self.spec.mode == ServiceMode.CLOUD
        if cloud and not password:
            raise ServiceFailed(
                self.context.service,
                f"mode: cloud needs {credential_prefix(self.context.service)}PASSWORD in the "
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
            raise ProbeFailed(f"SELECT 1 failed: {_one_line(exc)}") from None
        if row != (1,):
            raise ProbeFailed(f"SELECT 1 answered {row!r}")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
