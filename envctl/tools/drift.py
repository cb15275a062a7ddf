"""Protocol drift: where a real tool and its mock differ in their API.

A scenario that passes in mock mode must not fail in real mode because the mock accepts an
argument the real tool does not (or returns something else). For every service type with a
real and a mock factory, :func:`~envctl.tools.registry.check_protocols` compares the two
tool classes — and their async faces — member by member:

- ``missing``: a public method or property one side has and the other lacks (or both lack
  although the protocol the factory names requires it),
- ``kind``: method vs coroutine vs property,
- ``parameters``: names, kinds (positional, keyword-only, ``*args``...) and defaults,
- ``return``: the return annotation (as written),

plus ``unpaired`` when a type has only one of the two factories. Every divergence is data
(:class:`Divergence`); :func:`format_divergences` prints them, one per line, for
``envctl check-protocols``. :func:`~envctl.tools.registry.resolve_tools` warns with
:class:`~envctl.tools.errors.ProtocolDriftWarning` when it resolves a divergent pair.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from envctl.tools.protocols import (
    AsyncEventBus,
    AsyncKeyValueStore,
    AsyncSqlStore,
    EventBus,
    KeyValueStore,
    SqlStore,
)

if TYPE_CHECKING:
    pass

ASYNC_PROTOCOLS: dict[type[Any], type[Any]] = {
    EventBus: AsyncEventBus,
    KeyValueStore: AsyncKeyValueStore,
    SqlStore: AsyncSqlStore,
}
"""The async protocol of each sync protocol (a factory may name its own: ``async_protocol``)."""

COMPARED_DUNDERS = frozenset(
    {"__iter__", "__next__", "__enter__", "__exit__", "__aiter__", "__anext__"}
    | {"__aenter__", "__aexit__", "__call__"}
)
"""Special methods that are part of a tool's API and so are compared too."""


@dataclass(frozen=True)
class Divergence:
    """One difference between the real and the mock tool of a service type."""

    service_type: str
    face: str
    """``sync`` or ``async``."""
    member: str
    """The method or property (``-`` for a whole class)."""
    kind: str
    """``missing``, ``kind``, ``parameters``, ``return`` or ``unpaired``."""
    real: str
    """Qualified name of the real class."""
    mock: str
    """Qualified name of the mock class."""
    real_detail: str
    mock_detail: str

    @property
    def summary(self) -> str:
        return _SUMMARIES.get(self.kind, self.kind)

    def __str__(self) -> str:
        return (
            f"{self.service_type} [{self.face}] {self.member}: {self.summary} — "
            f"real {self.real}: {self.real_detail} | mock {self.mock}: {self.mock_detail}"
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


_SUMMARIES = {
    "missing": "present on one side only",
    "kind": "different kind of member",
    "parameters": "parameters differ",
    "return": "return annotation differs",
    "unpaired": "no counterpart",
}


@dataclass(frozen=True)
class _Shape:
    kind: str
    parameters: tuple[tuple[str, str, str], ...]
    returns: str

    def signature(self) -> str:
        parts: list[str] = []
        star_done = False
        for name, kind, default in self.parameters:
            if kind == "keyword-only" and not star_done:
                parts.append("*")
                star_done = True
            if kind == "variadic positional":
                parts.append(f"*{name}")
                star_done = True
            elif kind == "variadic keyword":
                parts.append(f"**{name}")
            else:
                parts.append(f"{name}={default}" if default else name)
            if kind == "positional-only":
                parts.append("/")
        text = f"({', '.join(parts)})"
        return f"{self.kind} {text} -> {self.returns}"


def qualname(cls: type[Any] | None) -> str:
    return f"{cls.__module__}.{cls.__qualname__}" if cls is not None else "-"


def _normalise(annotation: Any) -> str:
    if annotation is inspect.Signature.empty:
        return "?"
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return " ".join(text.replace("typing.", "").split())


def shape(cls: type[Any], name: str) -> _Shape | None:
    """How member ``name`` of ``cls`` looks; None when absent or a plain data attribute."""
    try:
        attr = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    if isinstance(attr, property):
        fget = attr.fget
        returns = _normalise(inspect.signature(fget).return_annotation) if fget else "?"
        return _Shape("property", (), returns)
    drop_first = True
    kind = "method"
    function: Any = attr
    if isinstance(attr, staticmethod):
        function, kind, drop_first = attr.__func__, "staticmethod", False
    elif isinstance(attr, classmethod):
        function, kind = attr.__func__, "classmethod"
    if not inspect.isfunction(function):
        return None
    if inspect.iscoroutinefunction(function):
        kind = "coroutine " + kind
    elif inspect.isasyncgenfunction(function):
        kind = "async generator " + kind
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())[1 if drop_first else 0 :]
    return _Shape(
        kind,
        tuple(
            (
                p.name,
                p.kind.description,
                "" if p.default is inspect.Parameter.empty else repr(p.default),
            )
            for p in parameters
        ),
        _normalise(signature.return_annotation),
    )


def _public(cls: type[Any]) -> set[str]:
    names = set()
    for name in dir(cls):
        if name.startswith("_") and name not in COMPARED_DUNDERS:
            continue
        if name in COMPARED_DUNDERS and getattr(cls, name, None) is getattr(object, name, None):
            continue
        if shape(cls, name) is not None:
            names.add(name)
    return names


def _protocol_members(protocol: type[Any] | None) -> set[str]:
    if protocol is None:
        return set()
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is object or base.__module__ == "typing":
            continue
        for name, value in vars(base).items():
            public = not name.startswith("_") or name in COMPARED_DUNDERS
            if public and (inspect.isfunction(value) or isinstance(value, property)):
                names.add(name)
    return names


def compare_classes(
    real: type[Any],
    mock: type[Any],
    *,
    service_type: str,
    face: str,
    protocol: type[Any] | None = None,
) -> list[Divergence]:
    """Every difference between the public members of ``real`` and ``mock``."""
    required = _protocol_members(protocol)
    found: list[Divergence] = []

    def add(member: str, kind: str, real_detail: str, mock_detail: str) -> None:
        found.append(
            Divergence(
                service_type,
                face,
                member,
                kind,
                qualname(real),
                qualname(mock),
                real_detail,
                mock_detail,
            )
        )

    absent = "absent"
    if protocol is not None:
        absent = f"absent (protocol {protocol.__name__} has it)"
    for name in sorted(_public(real) | _public(mock) | required):
        r, m = shape(real, name), shape(mock, name)
        if r is None or m is None:
            if r is not None or m is not None or name in required:
                add(
                    name,
                    "missing",
                    r.signature() if r else absent if name in required else "absent",
                    m.signature() if m else absent if name in required else "absent",
                )
            continue
        if r.kind != m.kind:
            add(name, "kind", r.signature(), m.signature())
        elif r.parameters != m.parameters:
            add(name, "parameters", r.signature(), m.signature())
        elif r.returns != m.returns:
            add(name, "return", r.signature(), m.signature())
    return found


def compare_pair(service_type: str, real_factory: Any, mock_factory: Any) -> list[Divergence]:
    """The divergences between the tools two factories build (sync and async faces)."""
    protocol = getattr(real_factory, "protocol", None) or getattr(mock_factory, "protocol", None)
    found = compare_classes(
        real_factory.tool_class,
        mock_factory.tool_class,
        service_type=service_type,
        face="sync",
        protocol=protocol,
    )
    real_async = getattr(real_factory, "async_tool_class", None)
    mock_async = getattr(mock_factory, "async_tool_class", None)
    if real_async is None and mock_async is None:
        return found
    if real_async is None or mock_async is None:
        found.append(
            Divergence(
                service_type,
                "async",
                "-",
                "missing",
                qualname(real_async),
                qualname(mock_async),
                "present" if real_async else "no async face",
                "present" if mock_async else "no async face",
            )
        )
        return found
    async_protocol = getattr(real_factory, "async_protocol", None) or ASYNC_PROTOCOLS.get(
        protocol  # type: ignore[arg-type]
    )
    found += compare_classes(
        real_async,
        mock_async,
        service_type=service_type,
        face="async",
        protocol=async_protocol,
    )
    return found


def format_divergences(divergences: Iterable[Divergence]) -> str:
    """One line per divergence, grouped by service type; a one-line all-clear when none."""
    items = list(divergences)
    if not items:
        return "no protocol drift: every real tool and its mock have the same API"
    lines: list[str] = []
    current = None
    for item in sorted(items, key=lambda d: (d.service_type, d.face, d.member)):
        if item.service_type != current:
            current = item.service_type
            lines.append(f"{current}:")
        lines.append(f"  [{item.face}] {item.member}: {item.summary}")
        lines.append(f"      real {item.real}: {item.real_detail}")
        lines.append(f"      mock {item.mock}: {item.mock_detail}")
    count = len(items)
    lines.append(f"{count} divergence{'s' if count != 1 else ''}")
    return "\n".join(lines)
