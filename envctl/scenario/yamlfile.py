"""Reading YAML files safely: YAML 1.2 core-schema values, line numbers, bounded work.

Every file envctl reads as YAML (scenario files, base templates, compose sources, the
project config, YAML seed files) goes through :func:`read_yaml_file` / :func:`parse_yaml`:

- **YAML 1.2 core schema.** PyYAML implements YAML 1.1, which silently rewrites strings
  (``1.10`` -> 1.1, ``0755`` -> 493, ``12:30`` -> 750, ``yes`` -> true, ``2001-02-03`` ->
  a date). Here a plain scalar is null, a boolean, an integer or a float only in the 1.2
  core forms, anything else stays the text the user wrote, and numbers remember their text
  (:class:`YamlInt` / :class:`YamlFloat`) so a value that ends up a string (env, labels,
  topic config) is exactly what was written: ``retention.ms: 0600000`` stays ``"0600000"``.
  This is a resolver on PyYAML's parser (the composer keeps every node's line) rather than
  a second YAML library: ruamel.yaml's round-trip loader would give 1.2 semantics but is
  slower and would not let us bound alias expansion while building.
- **Bounded work.** The file size, the nesting depth, the number of aliases and the number
  of values built through aliases are limited ("billion laughs": a few hundred bytes that
  expand to gigabytes), recursive aliases are refused, and only regular files are read (a
  FIFO, ``/dev/zero`` or a directory never blocks or floods the reader).
- **One-line problems.** Every failure is a :class:`~envctl.errors.Problem` with the file
  and line: bad scalars for explicit tags (``!!int abc``), control characters, text that
  is not UTF-8, non-finite numbers, NUL bytes and lone surrogates in strings, integers too
  long to be numbers.
"""

from __future__ import annotations

import codecs
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from envctl.errors import Problem

Loc = tuple[str | int, ...]
Positions = dict[Loc, tuple[str, int]]
"""Where each value came from: data path -> (file, line)."""

MAX_FILE_BYTES = 512 * 1024
"""Scenario files, templates, compose sources and project configs: 512 KiB (some 10,000
lines) is far beyond any hand-written file and keeps parsing under a few seconds."""
MAX_NODES = 50_000
"""Values (scalars, lists, mappings) in one file."""
MAX_SEED_BYTES = 64 * 1024 * 1024
"""JSON/CSV/SQL seed files are read as text; YAML seeds also obey :data:`MAX_FILE_BYTES`."""
MAX_DEPTH = 64
"""Nesting of mappings and lists."""
MAX_ALIASES = 10_000
MAX_ALIAS_NODES = 100_000
"""Values built through aliases, beyond the file's own nodes."""
MAX_INT_DIGITS = 100
"""Longer runs of digits are refused (quote them when they are text)."""
MAX_SHOWN = 60
"""Characters of a rejected value shown in a message."""

_PLAIN = "tag:envctl:plain"
_CORE = "tag:yaml.org,2002:"
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_INT_RE = re.compile(r"^[-+]?[0-9]+$")
_OCT_RE = re.compile(r"^0o[0-7]+$")
_HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT_RE = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF_RE = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN_RE = re.compile(r"^\.(?:nan|NaN|NAN)$")
_BAD_CHARS_RE = re.compile("[\x00\ud800-\udfff]")


_Number = TypeVar("_Number", bound="_AsWritten")


class _AsWritten:
    """A number that remembers how it was written; mixed into ``int`` and ``float``."""

    yaml_text: str

    def __new__(cls: type[_Number], value: float, text: str) -> _Number:
        obj = super().__new__(cls, value)  # type: ignore[call-arg]  # int's or float's
        obj.yaml_text = text
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled and copied as the class, its plain number (``real`` of an int or float
        subclass is the plain int or float) and its text."""
        return (type(self), (self.real, self.yaml_text))  # type: ignore[attr-defined]


class YamlInt(_AsWritten, int):
    """An integer that remembers how it was written (``0600000``)."""


class YamlFloat(_AsWritten, float):
    """A float that remembers how it was written (``1.10``)."""


def as_written(value: Any) -> Any:
    """The text a YAML number was written as (``0755``), else the value unchanged."""
    return getattr(value, "yaml_text", value)


def shorten(value: Any, limit: int = MAX_SHOWN) -> str:
    """``repr`` of a rejected value, cut to ``limit`` characters."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


class _Limit(yaml.YAMLError):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser and composer when PyYAML has them (about 20 times faster than the pure
Python ones; a 1 MiB file parses in a second instead of twenty)."""


class _Loader(_BaseLoader):
    """Plain scalars are left unresolved: :class:`_Builder` applies the 1.2 core schema."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _PLAIN
        return str(super().resolve(kind, value, implicit))


def _line(event: Any) -> int | None:
    mark = event.start_mark
    return mark.line + 1 if mark is not None else None


def _prescan(text: str, max_nodes: int = MAX_NODES) -> int:
    """Walk the parser's events (no tree is built): refuse too deep nesting and too many
    aliases before composing; returns the number of nodes."""
    loader = _BaseLoader(text)
    depth = aliases = nodes = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                nodes += 1
                if depth > MAX_DEPTH:
                    raise _Limit(_too_deep(), _line(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise _Limit(
                        f"more than {MAX_ALIASES} aliases; write the values out",
                        _line(event),
                    )
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
            if nodes > max_nodes:
                raise _Limit(
                    f"more than {max_nodes} values in one file; split it or move data "
                    "into seed files",
                    _line(event),
                )
    finally:
        loader.dispose()
    return nodes


@dataclass
class _Builder:
    display: str
    problems: list[Problem]
    positions: Positions
    budget: int
    active: set[int]

    def problem(self, node: yaml.Node, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.display, node.start_mark.line + 1, dotted(loc), message))

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _Limit(
                "aliases expand to too many values (an alias bomb?); write the values out",
                node.start_mark.line + 1,
            )
        self.positions.setdefault(loc, (self.display, node.start_mark.line + 1))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, loc)
        if id(node) in self.active:
            self.problem(node, loc, "recursive alias: the value contains itself")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag not in (_CORE + "seq",):
                    self.problem(node, loc, f"unsupported tag {_tag(node.tag)} on a list")
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                if node.tag not in (_CORE + "map",):
                    self.problem(node, loc, f"unsupported tag {_tag(node.tag)} on a mapping")
                return self.mapping(node, loc)
        finally:
            self.active.discard(id(node))
        return None  # pragma: no cover - PyYAML has no other node kinds

    def mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problem(key_node, loc, "keys must be plain scalars (text or numbers)")
                continue
            key = key_node.value
            if key_node.tag == _PLAIN and key == "<<":
                merged.update(self.merge_sources(value_node, loc))
                continue
            bad = _BAD_CHARS_RE.search(key)
            if bad is not None:
                self.problem(key_node, loc, f"key {shorten(key)} {_bad_char_reason(bad.group())}")
                continue
            if key in result:
                self.problem(
                    key_node, (*loc, key), "duplicate key (an earlier value would be lost)"
                )
            result[key] = self.build(value_node, (*loc, key))
            self.positions[(*loc, key)] = (self.display, key_node.start_mark.line + 1)
        if merged:
            return {**merged, **result}
        return result

    def merge_sources(self, node: yaml.Node, loc: Loc) -> dict[str, Any]:
        """``<<: *base`` (or a list of them): the keys the mapping takes over."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            value = self.build(source, loc)
            if not isinstance(value, dict):
                self.problem(source, loc, "'<<' merges mappings only")
                continue
            merged.update(value)
        return merged

    def scalar(self, node: yaml.ScalarNode, loc: Loc) -> Any:
        text: str = node.value
        tag = node.tag
        if tag == _PLAIN:
            return self.plain(node, loc, text)
        if tag == _CORE + "str":
            return self.string(node, loc, text)
        if tag == _CORE + "int":
            value = self.number(node, loc, text, floats=False)
            if value is None:
                self.problem(node, loc, f"!!int {shorten(text)} is not an integer")
            return value
        if tag == _CORE + "float":
            value = self.number(node, loc, text, floats=True)
            if value is None:
                self.problem(node, loc, f"!!float {shorten(text)} is not a number")
            return value
        if tag == _CORE + "bool":
            if text in _TRUE or text in _FALSE:
                return text in _TRUE
            self.problem(node, loc, f"!!bool {shorten(text)} is not true or false")
            return None
        if tag == _CORE + "null":
            if _NULL_RE.match(text):
                return None
            self.problem(node, loc, f"!!null {shorten(text)} is not null")
            return None
        self.problem(
            node,
            loc,
            f"unsupported tag {_tag(tag)} (scenario files hold text, numbers, true/false, "
            "null, lists and mappings; quote the value to keep it as text)",
        )
        return None

    def plain(self, node: yaml.ScalarNode, loc: Loc, text: str) -> Any:
        if _NULL_RE.match(text):
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        if text[:1] in "0123456789+-.":
            number = self.number(node, loc, text, floats=True)
            if number is not None or _looks_numeric(text):
                return number
        return self.string(node, loc, text)

    def number(self, node: yaml.ScalarNode, loc: Loc, text: str, *, floats: bool) -> Any:
        digits = sum(c.isdigit() for c in text)
        if _INT_RE.match(text) or _OCT_RE.match(text) or _HEX_RE.match(text):
            if digits > MAX_INT_DIGITS:
                self.problem(
                    node,
                    loc,
                    f"a number of {digits} digits is too large (quote it if it is text)",
                )
                return None
            base = 8 if text.startswith("0o") else 16 if text.startswith("0x") else 10
            body = text[2:] if base != 10 else text
            return YamlInt(int(body, base), text)
        if not floats:
            return None
        if _INF_RE.match(text) or _NAN_RE.match(text):
            self.problem(
                node,
                loc,
                f"{text} is not allowed: envctl takes finite numbers only "
                "(write a number of seconds, or quote it if it is text)",
            )
            return None
        if _FLOAT_RE.match(text):
            if digits > MAX_INT_DIGITS:
                self.problem(
                    node,
                    loc,
                    f"a number of {digits} digits is too large (quote it if it is text)",
                )
                return None
            value = float(text)
            if not math.isfinite(value):
                self.problem(
                    node, loc, f"{shorten(text)} is too large a number (quote it if it is text)"
                )
                return None
            return YamlFloat(value, text)
        return None

    def string(self, node: yaml.ScalarNode, loc: Loc, text: str) -> str | None:
        bad = _BAD_CHARS_RE.search(text)
        if bad is not None:
            self.problem(node, loc, _bad_char_reason(bad.group()))
            return None
        return text


def _looks_numeric(text: str) -> bool:
    """A plain scalar the 1.2 core schema reads as a number (then ``number`` decided)."""
    return bool(
        _INT_RE.match(text)
        or _OCT_RE.match(text)
        or _HEX_RE.match(text)
        or _FLOAT_RE.match(text)
        or _INF_RE.match(text)
        or _NAN_RE.match(text)
    )


def _bad_char_reason(char: str) -> str:
    if char == "\x00":
        return "contains a NUL character; remove it"
    return f"contains a lone surrogate (\\u{ord(char):04x}); write a valid character"


def _tag(tag: str) -> str:
    if tag.startswith(_CORE):
        return "!!" + tag[len(_CORE) :]
    return shorten(tag, 40).strip("'")


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels; flatten the structure"


def parse_yaml(
    text: str, display: str, problems: list[Problem], *, max_nodes: int = MAX_NODES
) -> tuple[Any, Positions]:
    """Parse one YAML document keeping the line of every key and list item.

    Problems (duplicate keys, bad scalars, limits) are appended to ``problems``; the
    result is ``(None, positions)`` when the file cannot be read as YAML at all.
    """
    positions: Positions = {}
    if not _printable(text, display, problems):
        return None, positions
    loader: Any = None
    try:
        nodes = _prescan(text, max_nodes)
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            return {}, positions
        builder = _Builder(display, problems, positions, nodes + MAX_ALIAS_NODES, set())
        return builder.build(node, ()), positions
    except _Limit as exc:
        problems.append(Problem(display, exc.line, "", exc.message))
    except yaml.MarkedYAMLError as exc:
        line, reason = _syntax_error(text, exc)
        if "maximum nesting depth" in reason:
            # libyaml >= 0.2.5 (PyYAML 6.0.4's wheels) stops at 1,000 levels while scanning
            # ahead, before our own bound is reached: say it in our words
            problems.append(Problem(display, line, "", _too_deep()))
        else:
            problems.append(Problem(display, line, "", f"invalid YAML: {reason}"))
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        # PyYAML lets a few Python errors escape (chr() of an escape beyond U+10FFFF).
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "chr()" in reason:
            reason = "an escape beyond U+10FFFF is not a character"
        line = getattr(loader, "line", None) if loader is not None else None
        problems.append(
            Problem(display, line + 1 if line is not None else None, "", f"invalid YAML: {reason}")
        )
    finally:
        if loader is not None:
            loader.dispose()
    return None, positions


def _syntax_error(text: str, exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """The line and reason of a syntax error. libyaml's reasons are terse ("found character
    that cannot start any token"); PyYAML's pure-Python parser names the character and the
    token, so the text up to the error is parsed again with it when that is cheap."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    reason = exc.problem or exc.context or "not valid YAML"
    if _BaseLoader is not yaml.SafeLoader and mark is not None and mark.index < 65_536:
        end = text.find("\n", mark.index)
        prefix = text if end < 0 else text[: end + 1]
        slow = yaml.SafeLoader(prefix)
        try:
            while slow.check_event():
                slow.get_event()
        except yaml.MarkedYAMLError as again:
            again_mark = again.problem_mark or again.context_mark
            if again_mark is not None and again_mark.line + 1 == line and again.problem:
                reason = again.problem
        except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
            pass  # libyaml's reason stands
        finally:
            slow.dispose()
    if "'\\t'" in reason or "\t" in reason:
        reason += " (indent with spaces; YAML does not allow tabs there)"
    return line, reason


def _printable(text: str, display: str, problems: list[Problem]) -> bool:
    match = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if match is None:
        return True
    char = match.group()
    line = text.count("\n", 0, match.start()) + 1
    problems.append(
        Problem(
            display,
            line,
            "",
            f"control character U+{ord(char):04X} is not allowed in YAML; remove it "
            '(inside double quotes write it as an escape, e.g. "\\t")',
        )
    )
    return False


class UnreadableText(ValueError):
    """Why a file's text cannot be read, as a phrase after the file's name (``is a
    directory, not a file``), and the line it concerns when there is one."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


def read_text(path: Path, display: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The text of a regular UTF-8 file, at most ``max_bytes`` long.

    Raises :class:`UnreadableText` (a :class:`ValueError`) with a one-line reason: not a
    regular file (a FIFO, a device, a directory), a symlink loop, too large, not UTF-8
    (UTF-16 is named).
    """
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableText(_os_reason(exc)) from None
    except ValueError:
        raise UnreadableText("the path contains a NUL character") from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableText("is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableText("is not a regular file (a device, FIFO or socket); give a file")
    if info.st_size > max_bytes:
        raise UnreadableText(f"is too large ({info.st_size} bytes; at most {max_bytes})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnreadableText(_os_reason(exc)) from None
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnreadableText(f"is too large (more than {max_bytes} bytes)")
    return decode_utf8(data)


def decode_utf8(data: bytes) -> str:
    """UTF-8 text (a UTF-8 BOM is dropped); UnreadableText naming UTF-16/32 or the bad byte."""
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            raise UnreadableText(f"is {name} text; save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableText(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8", line
        ) from None


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "is a symlink loop"
    if exc.errno == errno.ENOENT:
        return "does not exist"
    if exc.errno == errno.ENAMETOOLONG:
        return "has a name longer than the file system allows"
    return f"cannot be read ({exc.strerror or exc})"


def read_yaml_file(
    path: Path, display: str, problems: list[Problem], *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[Any, Positions]:
    """Read and parse a YAML file; ``(None, {})`` with a problem when it cannot be."""
    try:
        text = read_text(path, display, max_bytes=max_bytes)
    except UnreadableText as exc:
        problems.append(Problem(display, exc.line, "", f"file {exc.reason}"))
        return None, {}
    return parse_yaml(text, display, problems)


def dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text
