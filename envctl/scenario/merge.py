"""How ``extends`` and overlays merge scenario data: maps recursively, everything else
(lists included) replaced. Pure; used by the loader and the compose import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Maps merge recursively; anything else (lists included) is replaced by ``override``."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result
