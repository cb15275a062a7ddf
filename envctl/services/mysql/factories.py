"""The tools of ``type: mysql``: :class:`~.tool.MysqlStore` in real mode, the SQL double in
mock mode (``MysqlService.tool_factories``)."""

from __future__ import annotations

from typing import Any, ClassVar

from envctl.services.mysql.tool import AsyncMysqlStore, MysqlStore
from envctl.services.sql.factories import SqlMockFactory
from envctl.tools.errors import ToolResolutionError
from envctl.tools.protocols import SqlStore
from envctl.tools.registry import RealToolFactory, ToolRequest


class MysqlRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "mysql"
    tool_class: ClassVar[type[Any]] = MysqlStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncMysqlStore
    protocol: ClassVar[type[Any]] = SqlStore

    def create(self, request: ToolRequest) -> MysqlStore:
        url = request.endpoints.get("_url") or request.endpoints.get("url")  # unmasked
        if not url:
            raise ToolResolutionError(
                f"service '{request.service}' (type 'mysql') has no endpoint 'url'"
            )
        return MysqlStore(
            str(url),
            connect_timeout=request.timeouts.setup,
            statement_timeout=request.timeouts.setup,  # as the PostgreSQL store
            ssl=bool(request.endpoints.get("ssl")),
        )


class MysqlMockFactory(SqlMockFactory):
    service_type: ClassVar[str] = "mysql"


FACTORIES = (MysqlRealFactory(), MysqlMockFactory())
"""What the ``envctl.tool_factories`` entry point ``mysql`` loads."""
