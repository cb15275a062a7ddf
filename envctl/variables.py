"""Run-time variables in step bodies: ``${run.id}``, ``${services.<name>.<field>}``,
``${steps.<id>.<field>}``.

The loader has already resolved ``${VAR}`` from the environment; what is left are names
with a dot, which only exist while a scenario runs. A value that is exactly one placeholder
keeps the type of what it names (a number stays a number); inside a longer string it is
formatted with ``str``. ``$${...}`` is left for the loader (it already became ``${...}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_.\-\[\]]+)+)\}")


class UnknownVariable(LookupError):
    """A placeholder names something that does not exist (yet)."""


def lookup(scope: Mapping[str, Any], dotted: str) -> Any:
    """Walk ``a.b.c`` (or ``a.b[0]``) through nested mappings and lists."""
    current: Any = scope
    walked: list[str] = []
    for part in re.split(r"\.|(?=\[)", dotted):
        if not part:
            continue
        index_match = re.fullmatch(r"\[(\d+)\]", part)
        if index_match is not None and isinstance(current, list):
            index = int(index_match.group(1))
            if index >= len(current):
                raise UnknownVariable(
                    f"${{{dotted}}}: {'.'.join(walked)} has {len(current)} items, no [{index}]"
                )
            current = current[index]
        elif isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            known = ", ".join(sorted(map(str, current))) if isinstance(current, Mapping) else ""
            where = ".".join(walked) or "the run"
            raise UnknownVariable(
                f"${{{dotted}}}: {where} has no '{part}'" + (f" (known: {known})" if known else "")
            )
        walked.append(part)
    return current


def substitute(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with every run-time placeholder replaced, recursively."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None:
            return lookup(scope, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: _text(lookup(scope, m.group(1))), value)
    if isinstance(value, list):
        return [substitute(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, scope) for k, v in value.items()}
    return value


def dotted_fields(values: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every leaf of nested mappings as ``(dotted key, text)``, the way a user writes it:
    a service's endpoints ``{"topics": {"orders": "envctl.3f2a.orders"}}`` give
    ``("topics.orders", "envctl.3f2a.orders")``, the name ``${services.<name>.topics.orders}``
    reaches. For ``key=value`` output (``up``, ``status``)."""
    fields: list[tuple[str, str]] = []
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            fields.extend(dotted_fields(value, f"{name}."))
        else:
            fields.append((name, _text(value)))
    return fields


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
