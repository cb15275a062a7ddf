"""Seed files as records with line numbers: JSON Lines, JSON, YAML.

A file holds a list of records (Kafka messages, Redis keys) or, where the type allows it, a
mapping (Redis: ``key: value``). Every record remembers the line it starts on, so a bad one
is reported as ``FILE:LINE: why``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from envctl.errors import Problem, SeedError
from envctl.scenario.yamlfile import parse_yaml

JSONL_SUFFIXES = (".jsonl", ".ndjson")
JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
SEED_MAX_NODES = 1_000_000
"""Values in one YAML seed file (scenario files allow far fewer)."""


class Record(NamedTuple):
    """One entry of a seed file: a list item, or a ``(key, value)`` pair of a mapping."""

    line: int | None
    data: Any


@dataclass(frozen=True)
class RecordFile:
    display: str
    shape: Literal["list", "mapping"]
    records: list[Record]


def read_records(path: Path, display: str | None = None) -> RecordFile:
    """Read a seed file; :class:`SeedError` (with the line) when it cannot be parsed."""
    shown = display or str(path)
    text = read_seed_text(path, shown)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return RecordFile(shown, "list", _jsonl(text, shown))
    if suffix in JSON_SUFFIXES:
        return _json(text, shown)
    if suffix in YAML_SUFFIXES:
        return _yaml(text, shown)
    raise SeedError(
        shown,
        None,
        f"unknown seed file type '{suffix or path.name}' "
        f"(use {', '.join(JSONL_SUFFIXES + JSON_SUFFIXES + YAML_SUFFIXES)})",
    )


def read_seed_text(path: Path, display: str) -> str:
    """A seed file's UTF-8 text; :class:`SeedError` when it is not a readable regular
    file, too large or not UTF-8."""
    from envctl.scenario.yamlfile import MAX_SEED_BYTES, UnreadableText, read_text

    try:
        return read_text(path, display, max_bytes=MAX_SEED_BYTES)
    except UnreadableText as exc:
        raise SeedError(display, exc.line, f"seed file {exc.reason}") from None


_TOO_DEEP = "nested too deeply (at most a few hundred levels); flatten the record"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number envctl accepts (finite numbers only)")


def _jsonl(text: str, display: str) -> list[Record]:
    records: list[Record] = []

    def loads(line: str) -> Any:
        return json.loads(line, parse_constant=_no_constant)

    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line.isspace():
            continue
        try:
            records.append(Record(number, loads(line)))
        except json.JSONDecodeError as exc:
            raise SeedError(
                display, number, f"invalid JSON: {exc.msg} (column {exc.colno})"
            ) from None
        except RecursionError:
            raise SeedError(display, number, _TOO_DEEP) from None
        except ValueError as exc:  # e.g. an integer of more than 4300 digits
            raise SeedError(display, number, f"invalid JSON: {exc}") from None
    return records


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _json(text: str, display: str) -> RecordFile:
    """A JSON array (or object), each element with the line it starts on."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)

    def line_of(index: int) -> int:
        return text.count("\n", 0, index) + 1

    i = _skip_ws(text, 0)
    if i >= len(text):
        return RecordFile(display, "list", [])
    opener = text[i]
    if opener not in "[{":
        raise SeedError(display, line_of(i), "a JSON seed file holds an array of records")
    closer = "]" if opener == "[" else "}"
    shape: Literal["list", "mapping"] = "list" if opener == "[" else "mapping"
    records: list[Record] = []
    i = _skip_ws(text, i + 1)
    try:
        if text.startswith(closer, i):
            i += 1
        else:
            while True:
                start = i
                if shape == "mapping":
                    key, i = decoder.raw_decode(text, i)
                    if not isinstance(key, str):
                        raise SeedError(display, line_of(start), "object keys must be strings")
                    i = _skip_ws(text, i)
                    if not text.startswith(":", i):
                        raise SeedError(display, line_of(i), "expected ':' after the key")
                    value, i = decoder.raw_decode(text, _skip_ws(text, i + 1))
                    records.append(Record(line_of(start), (key, value)))
                else:
                    value, i = decoder.raw_decode(text, i)
                    records.append(Record(line_of(start), value))
                i = _skip_ws(text, i)
                if text.startswith(",", i):
                    i = _skip_ws(text, i + 1)
                    continue
                if text.startswith(closer, i):
                    i += 1
                    break
                raise SeedError(display, line_of(i), f"expected ',' or '{closer}'")
    except json.JSONDecodeError as exc:
        raise SeedError(
            display, exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    except RecursionError:
        raise SeedError(display, line_of(i), _TOO_DEEP) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise SeedError(display, line_of(i), f"invalid JSON: {exc}") from None
    i = _skip_ws(text, i)
    if i < len(text):
        raise SeedError(display, line_of(i), "unexpected text after the JSON value")
    return RecordFile(display, shape, records)


def _yaml(text: str, display: str) -> RecordFile:

    problems: list[Problem] = []
    data, positions = parse_yaml(text, display, problems, max_nodes=SEED_MAX_NODES)
    if problems:
        first = problems[0]
        message = f"{first.path}: {first.message}" if first.path else first.message
        raise SeedError(display, first.line, message)
    if data is None or data == {}:
        return RecordFile(display, "list", [])
    if isinstance(data, list):
        return RecordFile(
            display,
            "list",
            [Record(positions.get((i,), (display, None))[1], item) for i, item in enumerate(data)],
        )
    if isinstance(data, dict):
        return RecordFile(
            display,
            "mapping",
            [Record(positions.get((k,), (display, None))[1], (k, v)) for k, v in data.items()],
        )
    raise SeedError(display, 1, "a YAML seed file holds a list of records (or a mapping)")


def did_you_mean(word: str, valid: tuple[str, ...]) -> str:
    import difflib

    close = difflib.get_close_matches(word, valid, n=1)
    return f" — did you mean '{close[0]}'?" if close else f" (valid: {', '.join(valid)})"
