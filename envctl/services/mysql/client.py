"""Reaching a MySQL/MariaDB server with PyMySQL: connection keywords from a service's
endpoints, and its errors said in one line. Shared by the plugin, its data hooks and its
tool, which import this module rather than each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from envctl.services.base import secret

MYSQL_PORT = 3306


def connect_args(endpoints: Mapping[str, Any], database: str | None = None) -> dict[str, Any]:
    """PyMySQL ``connect`` keywords from a service's endpoints (the secret URL's credentials).

    ``database``: another database than the URL's; ``""`` for none.
    """
    parts = urlsplit(str(secret(dict(endpoints), "url")))
    args: dict[str, Any] = {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or MYSQL_PORT,
        "user": unquote(parts.username or "root"),
        "password": unquote(parts.password or ""),
        "charset": "utf8mb4",
    }
    db = unquote(parts.path.lstrip("/")) if database is None else database
    if db:
        args["database"] = db
    if endpoints.get("ssl"):
        args["ssl"] = {"check_hostname": True}
    return args


def error_code(exc: BaseException) -> int | None:
    """The server's error number of a PyMySQL error (None when the server sent none)."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    return args[0] if args and isinstance(args[0], int) else None


def one_line(exc: BaseException) -> str:
    """A PyMySQL error on one line: ``(1045) Access denied for user ...``."""
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if len(args) == 2 and isinstance(args[0], int):
        return f"({args[0]}) {' '.join(str(args[1]).split())}"
    return " ".join(str(exc).split()) or type(exc).__name__
