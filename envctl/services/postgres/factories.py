"""The tools of ``type: postgres``: :class:`~.tool.PostgresStore` in real mode, the SQLite
double :class:`~.mock.SqliteSqlStore` in mock mode (``PostgresService.tool_factories``)."""

from __future__ import annotations

from typing import Any, ClassVar

from envctl.services.postgres.tool import AsyncPostgresStore, PostgresStore
from envctl.services.sql.factories import SqlMockFactory
from envctl.tools.protocols import SqlStore
from envctl.tools.registry import RealToolFactory, ToolRequest, endpoint


class PostgresRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "postgres"
    tool_class: ClassVar[type[Any]] = PostgresStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncPostgresStore
    protocol: ClassVar[type[Any]] = SqlStore

    def create(self, request: ToolRequest) -> PostgresStore:
        dsn = request.endpoints.get("_dsn") or endpoint(request, "dsn")  # unmasked for cloud
        # connects and each statement are bounded by the setup timeout, like Redis commands
        return PostgresStore(
            dsn, connect_timeout=request.timeouts.setup, statement_timeout=request.timeouts.setup
        )


class PostgresMockFactory(SqlMockFactory):
    service_type: ClassVar[str] = "postgres"


FACTORIES = (PostgresRealFactory(), PostgresMockFactory())
