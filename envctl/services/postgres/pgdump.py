"""Reading the data of a plain-format ``pg_dump``: its COPY blocks, rows and values."""

from __future__ import annotations

import re
from collections.abc import Iterator

_COPY_START = re.compile(r"^COPY (.+) FROM stdin;\s*$")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}


def _identifiers(text: str) -> list[str]:
    """Split ``a."B c".d`` (or a column list ``a, "B"``) into unquoted identifiers."""
    names: list[str] = []
    current = ""
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted:
            if char == '"' and text[i + 1 : i + 2] == '"':
                current += '"'
                i += 1
            elif char == '"':
                quoted = False
            else:
                current += char
        elif char == '"':
            quoted = True
        elif char in ".,":
            names.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    names.append(current.strip())
    return names


def parse_copy_header(spec: str) -> tuple[str, list[str]]:
    """``public.orders (id, "Name")`` -> (``public.orders``, [``id``, ``Name``])."""
    depth_open = spec.find(" (")
    if depth_open == -1 or not spec.endswith(")"):
        return ".".join(_identifiers(spec)), []
    table = ".".join(_identifiers(spec[:depth_open]))
    columns = _identifiers(spec[depth_open + 2 : -1])
    return table, [c for c in columns if c]


def copy_blocks(dump: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """``(table, columns, raw rows)`` for every COPY block of a plain-format dump."""
    lines = iter(dump.splitlines())
    for line in lines:
        match = _COPY_START.match(line)
        if match is None:
            continue
        table, columns = parse_copy_header(match.group(1))
        rows: list[str] = []
        for data in lines:
            if data == "\\.":
                break
            rows.append(data)
        yield table, columns, rows


def decode_field(raw: str) -> str | None:
    """One field of COPY's text format: ``\\N`` is NULL, backslash escapes decoded."""
    if raw == "\\N":
        return None
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char != "\\" or i + 1 == len(raw):
            out.append(char)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", raw[i + 1 :])
            assert digits is not None
            out.append(chr(int(digits.group(0), 8)))
            i += 1 + len(digits.group(0))
        elif nxt == "x" and re.match(r"[0-9A-Fa-f]", raw[i + 2 : i + 3]):
            digits = re.match(r"[0-9A-Fa-f]{1,2}", raw[i + 2 :])
            assert digits is not None
            out.append(chr(int(digits.group(0), 16)))
            i += 2 + len(digits.group(0))
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def decode_row(raw: str) -> tuple[str | None, ...]:
    return tuple(decode_field(f) for f in raw.split("\t"))
