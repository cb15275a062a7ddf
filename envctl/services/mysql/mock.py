"""The double of ``type: mysql`` in mock mode: the SQL double, SQLite in memory
(:class:`~envctl.services.sql.mock.SqliteSqlStore`), the one PostgreSQL uses. It takes the same
``%s`` / ``%(name)s`` parameters as :class:`~envctl.services.mysql.tool.MysqlStore`; SQL must
stay in the subset SQLite understands (no ``AUTO_INCREMENT``, backticks are fine)."""

from __future__ import annotations

from envctl.services.sql.mock import AsyncSqliteSqlStore, SqliteSqlStore

__all__ = ["AsyncSqliteSqlStore", "SqliteSqlStore"]
