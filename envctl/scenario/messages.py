"""pydantic's validation errors in the words of a scenario file.

pydantic says "Input should be a valid dictionary or instance of SleepStep"; a user needs
"must be a number of seconds (`sleep: 0.5`) or {seconds: 0.5}, not 'abc'". Every message
shows the rejected value cut to a sensible length (:func:`~envctl.scenario.yamlfile.shorten`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envctl.scenario.yamlfile import shorten

_KINDS = {
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "finite_number": "a finite number",
}

_BOUNDS = {
    "greater_than": "greater than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
}

NAME_CHARACTERS = "letters, digits, '_', '.' and '-'"


def shown(value: Any) -> str:
    """A rejected value as a message shows it: a scalar cut to length; a list or mapping
    by its kind (its content may be long, and is in the file at the given line)."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = getattr(value, "yaml_text", None)  # a YAML number, as written: 1e9
    return str(text) if text is not None else shorten(value)


def friendly_message(error: Mapping[str, Any], shape: str | None = None) -> str:
    """One pydantic error as a sentence saying what to write; ``shape`` describes the
    expected value where a mapping's model name would mean nothing to the user."""
    kind = str(error.get("type", ""))
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind in ("dict_type", "model_type", "model_attributes_type") and shape:
        return f"must be {shape}, not {shown(value)}"
    if kind in _KINDS:
        return f"must be {_KINDS[kind]}, not {shown(value)}"
    if kind in _BOUNDS:
        bound = _BOUNDS[kind].format(**{k: _number(v) for k, v in ctx.items()})
        return f"must be {bound}, not {shown(value)}"
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "string_too_long":
        return f"is {len(str(value))} characters long; at most {ctx.get('max_length')} allowed"
    if kind == "string_too_short":
        return f"must not be empty (at least {ctx.get('min_length')} characters)"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} entries"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} entries"
    if kind == "string_pattern_mismatch":
        return f"{shown(value)} does not have the allowed form; use {NAME_CHARACTERS}"
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", " or ")
        return f"{shown(value)} is not valid; use {expected}" if expected else "is not valid"
    message = str(error.get("msg", "is not valid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
