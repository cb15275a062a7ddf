"""``${VAR}`` interpolation from the environment, as docker compose does it.

- ``${VAR}``: the value; unset is an error (set it, or give a default).
- ``${VAR:-default}``: default when unset or empty; ``${VAR-default}``: when unset.
- ``${VAR:?message}`` / ``${VAR?message}``: an error with that message when unset (or empty).
- ``$$``: a literal ``$``.
Names with dots (``${run.id}``, ``${services.kafka.bootstrap_servers}``) are not
environment variables: they are left alone for the scenario runner to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\})"
)


class InterpolationError(ValueError):
    """A variable could not be resolved; the message says which and what to do."""


def interpolate(text: str, environ: Mapping[str, str]) -> str:
    """Resolve every ``${...}`` in ``text``. Raises :class:`InterpolationError`."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        name = match.group("name")
        op = match.group("op")
        arg = match.group("arg") or ""
        value = environ.get(name)
        empty_counts = op is not None and op.startswith(":")
        missing = value is None or (empty_counts and value == "")
        if not missing:
            assert value is not None
            return value
        if op is None:
            raise InterpolationError(
                f"environment variable {name} is not set; set it or write ${{{name}:-default}}"
            )
        if op.endswith("-"):
            return arg
        raise InterpolationError(
            f"environment variable {name} is not set: {arg}"
            if arg
            else f"environment variable {name} is required but not set"
        )

    result = _PATTERN.sub(replace, text)
    # A `${` that matched no form and is never closed (`image: "${IMG"`) is a typo; a closed
    # one that is no name (`${target%:*}` in a shell command) is left for the shell.
    leftover = _PATTERN.sub("", text)
    start = leftover.find("${")
    if start >= 0 and "}" not in leftover[start:]:
        raise InterpolationError(
            f"'{leftover[start : start + 40]}' has no closing '}}'; write ${{NAME}} "
            "(or $$ for a literal $)"
        )
    return result
