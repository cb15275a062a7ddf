"""Durations written by users, in one grammar: the one home for reading them.

A duration is a number of seconds (``90``, ``1.5``; a YAML or JSON number too) or one or more
number-unit parts written together, largest first or not (``1.5s``, ``250ms``, ``2m``,
``1h30m``, ``2d``). Units: ``d``, ``h``, ``m``, ``s``, ``ms``, ``us`` (or ``µs``), ``ns`` —
lower case, as Go and Docker Compose write them (``m`` is minutes, never months). Spaces
around the whole are ignored; spaces inside (``2 h``) are not a duration. Negative, NaN and
infinite values are refused.

Used by ``gc --older-than``, ``reuse.ttl`` / ``ENVCTL_REUSE_TTL``, every duration of steps,
``expected:`` and faults (:data:`Duration`), and compose healthcheck timings; each caller
keeps its own bounds (``positive``, ``maximum`` here, or the ``Field`` bounds of its model).

Hand-rolled on purpose: pytimeparse and similar packages read other grammars (``2 hours``,
``1:30``) and none gives bounds with messages in envctl's style; the grammar is one regular
expression.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import BeforeValidator

from envctl.errors import ConfigError

UNITS: dict[str, float] = {
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
}
"""Seconds per unit."""

EXAMPLES = "90, 1.5s, 250ms, 2m, 1h30m or 2d"
"""What an error message suggests."""

_NUMBER = r"\d+(?:\.\d+)?"
_PART = re.compile(rf"({_NUMBER})(ms|us|µs|ns|d|h|m|s)")
_DURATION = re.compile(rf"(?:{_NUMBER}|(?:{_NUMBER}(?:ms|us|µs|ns|d|h|m|s))+)")


class DurationError(ConfigError, ValueError):
    """A duration that cannot be read, or is out of its caller's bounds.

    A :class:`ConfigError` for the CLI (one line, exit 2) and a :class:`ValueError` so that a
    pydantic validator turns it into a validation error at the field's path."""


def parse_duration(
    value: Any,
    *,
    where: str = "",
    positive: bool = False,
    maximum: float | None = None,
) -> float:
    """``value`` in seconds: a number, or a string in the grammar above.

    ``positive`` refuses 0; ``maximum`` (seconds) bounds it above. Errors name ``where``
    (``--older-than``, ``ENVCTL_REUSE_TTL``, ...) when given.

    >>> parse_duration("1h30m"), parse_duration("250ms"), parse_duration(90)
    (5400.0, 0.25, 90.0)
    """
    prefix = f"{where}: " if where else ""
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DurationError(f"{prefix}{shown} is not a duration; write e.g. {EXAMPLES}")
    if isinstance(value, str):
        text = value.strip()
        if not _DURATION.fullmatch(text):
            raise DurationError(f"{prefix}{shown} is not a duration; write e.g. {EXAMPLES}")
        parts = _PART.findall(text)
        seconds = sum(float(n) * UNITS[u] for n, u in parts) if parts else float(text)
    else:
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    if math.isnan(seconds) or seconds < 0:
        raise DurationError(f"{prefix}{shown} is not a duration: it must be 0 or more")
    if maximum is not None and seconds > maximum:
        raise DurationError(f"{prefix}{shown} is too long: at most {format_duration(maximum)}")
    if math.isinf(seconds):
        raise DurationError(f"{prefix}{shown} is too long to be a duration")
    if positive and seconds == 0:
        raise DurationError(f"{prefix}{shown} is not a duration: it must be more than 0")
    return seconds


class _Written(float):
    """Seconds read from a string, remembering it (``"2h"``): an error about the field's
    bounds then shows what the user wrote, as for a YAML number (``yaml_text``, read by
    :func:`envctl.scenario.messages.shown`)."""

    yaml_text: str


def seconds(value: Any) -> Any:
    """For a pydantic ``mode="before"`` validator: a number or duration string -> seconds;
    anything else unchanged, for the field's own type to refuse (or accept, e.g. ``{step:}``).
    Bounds are the field's (``gt=0``, ``le=...``); a number is checked and passed on as it
    came (a YAML number keeps the text it was written as)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    parsed = parse_duration(value)
    if not isinstance(value, str):
        return value
    written = _Written(parsed)
    written.yaml_text = repr(value.strip())
    return written


Duration = Annotated[float, BeforeValidator(seconds)]
"""A model field holding seconds, written in the grammar above (``90``, ``1.5s``, ``250ms``,
``2m``). The field's ``Field`` bounds (``gt=0``, ``le=...``) apply to the seconds; the
reference docs show its type as ``duration``."""


def is_duration(metadata: Any) -> bool:
    """Whether a pydantic field's metadata (or an ``Annotated`` type's) marks a
    :data:`Duration` (for the reference docs)."""
    return any(isinstance(m, BeforeValidator) and m.func is seconds for m in metadata)


def format_duration(seconds: float) -> str:
    """Seconds in the grammar, in the largest unit that writes them whole:
    ``3153600000`` -> ``36500d``, ``90`` -> ``90s``, ``0.25`` -> ``250ms``."""
    for unit in ("d", "h", "m", "s", "ms", "us", "ns"):
        count = seconds / UNITS[unit]
        whole = round(count)
        if whole >= 1 and math.isclose(count, whole, rel_tol=1e-12):
            return f"{whole}{unit}"
    return f"{seconds:.9f}".rstrip("0").rstrip(".") + "s"
