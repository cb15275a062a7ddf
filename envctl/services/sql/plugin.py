"""The plugin base of the SQL types: what PostgreSQL and MySQL say alike about a run's
databases (one physical database per logical one, the endpoints that name the main one) and
the hooks they answer alike (``sql`` steps, snapshots, seed entry checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

from envctl.errors import ServiceFailed
from envctl.services.base import ServiceHandle, ServicePlugin, SpecT, mask_url
from envctl.services.sql.spec import SqlSpecFields


class SqlService(ServicePlugin[SpecT]):
    """A SQL server type: its spec has ``database``, ``databases`` and ``seed``
    (:class:`SqlSpecFields`); its tool is a SQL store."""

    resource_kinds: ClassVar[tuple[str, ...]] = ("databases",)
    supports_snapshot: ClassVar[bool] = True
    serves: ClassVar[frozenset[str]] = frozenset({"sql"})
    """The ``sql`` step and ``expected: rows`` (its tool is a SQL store)."""

    @property
    def sql_spec(self) -> SqlSpecFields:
        return cast(SqlSpecFields, self.spec)

    def _main_database(self) -> str:
        """The physical name of the run's main database."""
        try:
            return self.namespace.database(self.sql_spec.database)
        except ValueError as exc:
            raise ServiceFailed(self.context.service, str(exc)) from None

    def physical_databases(self) -> dict[str, str]:
        """Logical -> physical name of every database of the run (main first)."""
        spec = self.sql_spec
        try:
            return {
                name: self.namespace.database(name) for name in [spec.database, *spec.databases]
            }
        except ValueError as exc:
            raise ServiceFailed(self.context.service, str(exc)) from None

    @classmethod
    def snapshot_summary(cls, details: Mapping[str, Any]) -> str:
        return f"{details.get('rows', 0)} rows in {details.get('tables', 0)} tables"

    @classmethod
    def seed_entry_problems(
        cls, spec: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """A seed's ``database:`` must be the service's database or one of its databases
        (said at load time, with the line, rather than when seeding)."""
        database = entry.get("database")
        databases = [spec.get("database", "envctl"), *(spec.get("databases") or [])]
        if not isinstance(database, str) or database in databases:
            return []
        return [
            (
                "database",
                f"database '{database}' is neither the service's database nor in its databases",
            )
        ]


def point_endpoints_at(
    handle: ServiceHandle, key: str, real: str, main: str, databases: Mapping[str, str]
) -> None:
    """The endpoints name the run's main database from now on: ``key`` (``url``, ``dsn``)
    becomes ``real`` (masked, with the secret under ``_key``, when the service has a
    secret form), ``database`` becomes ``main`` and ``databases`` maps every logical name
    to its physical one."""
    endpoints = handle.endpoints
    if f"_{key}" in endpoints:
        endpoints[f"_{key}"] = real
        endpoints[key] = mask_url(real)
    else:
        endpoints[key] = real
    endpoints["database"] = main
    endpoints["databases"] = dict(databases)
