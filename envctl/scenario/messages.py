"""pydantic's validation errors in the words of a scenario file.

pydantic says "Input should be a valid dictionary or instance of SleepStep"; a user needs
"must be a number of seconds (`sleep: 0.5`) or {seconds: 0.5}, not 'abc'". Every message
shows the rejected value cut to a sensible length (:func:`~envctl.scenario.yamlfile.shorten`).
"""

from __future__ import annotations

import re
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

_CLASS = re.compile(r"\[([^\]]+)\]")
_SIMPLE = re.compile(r"^\^(\[[^\]]+\])?(\[[^\]]+\])[*+](?:\{[^}]*\})?\$$")


def describe_class(body: str) -> str:
    """``A-Za-z0-9_.-`` as words: "letters, digits, '_', '.' and '-'"."""
    words: list[str] = []
    rest = body
    for span, word in (
        ("A-Za-z", "letters"),
        ("a-zA-Z", "letters"),
        ("a-z", "lower-case letters"),
        ("A-Z", "upper-case letters"),
        ("0-9", "digits"),
        ("\\w", "letters, digits and '_'"),
    ):
        if span.replace("\\", "\\") in rest:
            rest = rest.replace(span.replace("\\", "\\"), "")
            if word not in words:
                words.append(word)
    words += [f"'{c}'" for c in rest.replace("\\", "")]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " and " + words[-1]


def describe_pattern(pattern: str) -> str:
    """What a name pattern allows, in words (the pattern itself when it is not simple)."""
    simple = _SIMPLE.match(pattern.replace("{0,62}", "*").replace("{0,63}", "*"))
    if simple is None:
        if ":" in pattern and "\\w" in pattern:
            return "write module:function (e.g. my_tests.steps:check)"
        return f"it must match {pattern}"
    first, rest = simple.group(1), simple.group(2)
    text = "use " + describe_class(rest[1:-1])
    if first is not None:
        start = describe_class(first[1:-1]).replace(" and ", " or ")
        for plural, single in (
            ("lower-case letters", "a lower-case letter"),
            ("letters", "a letter"),
            ("digits", "a digit"),
        ):
            start = start.replace(plural, single)
        text += f", starting with {start}"
    return text


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
        return (
            f"{shown(value)} is not allowed here: {describe_pattern(str(ctx.get('pattern', '')))}"
        )
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
