"""Bytes in snapshot files: text when they are UTF-8, else ``{"base64": "..."}``."""

from __future__ import annotations

import base64
from typing import Any


def text_or_base64(raw: bytes | None) -> Any:
    """Bytes as text when they are UTF-8, else ``{"base64": ...}``; None stays None."""
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode()}


def from_text_or_base64(value: Any) -> bytes | None:
    """The inverse of :func:`text_or_base64`."""
    if value is None:
        return None
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return str(value).encode()
