"""The mock tool factory of the SQL types: the SQL double (:mod:`envctl.services.sql.mock`).
Each type subclasses it with its ``service_type`` (``factories.py`` of its package)."""

from __future__ import annotations

from typing import Any, ClassVar

from envctl.services.sql.mock import AsyncSqliteSqlStore, SqliteSqlStore
from envctl.tools.protocols import SqlStore
from envctl.tools.registry import MockToolFactory, ToolRequest


class SqlMockFactory(MockToolFactory):
    """Builds the SQL double of the request's namespace (its tables are shared by the
    stores of one run and service)."""

    tool_class: ClassVar[type[Any]] = SqliteSqlStore
    async_tool_class: ClassVar[type[Any] | None] = AsyncSqliteSqlStore
    protocol: ClassVar[type[Any]] = SqlStore

    def create(self, request: ToolRequest) -> SqliteSqlStore:
        return SqliteSqlStore(request.state_key)
