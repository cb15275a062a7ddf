"""Fuzzing the scenario loader (issue 10): generated broken scenario files, across the
families of hostile input, either load or raise envctl's own error — never another
exception, a hang or a flood of memory.

Each family is one property; ``max_examples`` is modest so the whole module stays well
under a minute. Hypothesis shrinks a failure to a small file and prints it.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envctl.errors import EnvctlError
from envctl.scenario import load_scenario

SECONDS = 60.0
"""Per example: a hang detector, not a speed target (those live in scripts/bench_*.py). A
hang or an alias expansion takes minutes; a loaded CI machine once took 16 s over an example
that loads in < 0.5 s here, so the bound is generous."""
MEGABYTES = 200.0

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@contextmanager
def bounded() -> Iterator[None]:
    # The process's peak resident memory only grows: an example that needs more than
    # MEGABYTES beyond the peak so far raises it by that much. (tracemalloc would be exact
    # but slows allocation-heavy parsing about tenfold.)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    assert took < SECONDS, f"took {took:.1f}s"
    assert grown < MEGABYTES, f"peak memory grew by {grown:.0f} MB"


def check_load(folder: Path, data: bytes, name: str = "scenario_f.yaml") -> None:
    """The property: envctl's own error, or a scenario; within time and memory."""
    path = folder / name
    path.write_bytes(data)
    with bounded():
        try:
            load_scenario(path, {}, root=folder, allowed_roots=[folder])
        except EnvctlError as exc:
            text = str(exc)
            assert text, "an error says what is wrong"
            assert "Traceback" not in text
            assert "<unicode string>" not in text


@pytest.fixture
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# -- building blocks ---------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "f",
    "description": "fuzzed",
    "dependency_mode": "mock",
    "external_services": {
        "kafka": {"type": "kafka", "topics": [{"name": "orders", "partitions": 1}]},
        "db": {"type": "postgres", "databases": ["app"]},
        "cache": {"type": "redis"},
        "app": {
            "type": "generic",
            "image": "busybox",
            "env": {"A": "1"},
            "ports": [8080],
            "depends_on": ["kafka"],
            "probe": {"log": "ready"},
        },
    },
    "timeout_profiles": {"kafka": {"health_check": 30}},
    "cleanup_after": True,
    "snapshot": {"before": False},
    "steps": [
        {"publish": {"topic": "orders", "key": "1", "value": {"id": 1}}},
        {"expect_message": {"topic": "orders", "match": {"value.id": 1}, "within": 5}},
        {"sql": {"query": "SELECT 1", "expect_rows": 1}},
        {"redis": {"command": ["SET", "k", "v"]}},
        {"sleep": 0.1},
    ],
    "expected": {"messages": {"orders": 1}},
}

HOSTILE_SCALARS = [
    "2001-13-45",
    "2001-02-29",
    "!!int abc",
    "!!float xyz",
    "!!bool maybe",
    "!!timestamp nope",
    "!!binary AAAA",
    "!!python/object:os.system x",
    "!custom x",
    "9" * 5000,
    "-" + "9" * 400,
    '"\\U00110000"',
    '"\\ud800"',
    '"a\\0b"',
    ".inf",
    "-.inf",
    ".nan",
    "1e999",
    "0x" + "f" * 300,
    "0o777",
    "0755",
    "1.10",
    "12:30",
    "yes",
    "~",
    "",
    "'",
    '"',
    "&a",
    "*a",
    "*nope",
    "[",
    "{",
    "]",
    "}",
    "|",
    ">",
    "- -",
    "? x",
    "<<: *a",
    "${IMG",
    "${X:?boom}",
    "$${X}",
    "%TAG",
    "@x",
    "`x`",
    "\t",
    "a: b: c",
]

scalar_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["", "kafka", "orders", "../../x", "/etc/passwd", "a" * 300, "${X"]),
)
json_values = st.recursive(
    scalar_values,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


PATHS = _paths(BASE)[1:]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode(
        "utf-8", "surrogatepass"
    )


# -- the families --------------------------------------------------------------------------------


@FUZZ
@given(path=st.sampled_from(PATHS), value=json_values)
def test_wrong_types_anywhere(folder: Path, path: tuple[Any, ...], value: Any) -> None:
    check_load(folder, dump(_replace(BASE, path, value)))


@FUZZ
@given(path=st.sampled_from(PATHS), scalar=st.sampled_from(HOSTILE_SCALARS))
def test_hostile_scalars_and_tags_anywhere(
    folder: Path, path: tuple[Any, ...], scalar: str
) -> None:
    marker = "FUZZ_MARKER_VALUE"
    text = dump(_replace(BASE, path, marker)).decode()
    check_load(folder, text.replace(marker, scalar, 1).encode("utf-8", "surrogatepass"))


@FUZZ
@given(
    raw=st.binary(max_size=300),
    at=st.integers(min_value=0, max_value=400),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "utf-32", "cp1252"]),
)
def test_bytes_and_encodings(folder: Path, raw: bytes, at: int, encoding: str) -> None:
    text = dump(BASE).decode()
    try:
        encoded = text.encode(encoding)
    except UnicodeEncodeError:
        encoded = text.encode("utf-8")
    at = min(at, len(encoded))
    check_load(folder, encoded[:at] + raw + encoded[at:])


@FUZZ
@given(
    width=st.integers(min_value=1, max_value=12),
    levels=st.integers(min_value=1, max_value=12),
    recursive=st.booleans(),
    where=st.sampled_from(["steps", "description", "expected", "external_services"]),
)
def test_aliases_and_bombs(
    folder: Path, width: int, levels: int, recursive: bool, where: str
) -> None:
    lines = ["a0: &a0 [x, y, z]"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    value = "&r [*r]" if recursive else f"*a{levels}"
    lines.append(f"{where}: {value}")
    lines.append("name: f")
    check_load(folder, ("\n".join(lines) + "\n").encode())


@FUZZ
@given(
    depth=st.integers(min_value=1, max_value=3000),
    opener=st.sampled_from(["[", "{a: ", "- ", "{", "[[", "a:\n  "]),
)
def test_nesting(folder: Path, depth: int, opener: str) -> None:
    closer = {"[": "]", "{a: ": "}", "- ": "", "{": "}", "[[": "]]", "a:\n  ": ""}[opener]
    body = opener * depth + "x" + closer * depth
    check_load(folder, f"name: f\ndescription: {body}\n".encode())


@FUZZ
@given(
    relative=st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            [
                "/etc/shadow",
                "/etc/passwd.yaml",
                "../" * 20 + "etc/hosts.yaml",
                "/dev/zero",
                "/proc/self/environ",
                "base.yaml",
                "loop.yaml",
                "dir.yaml",
                "a" * 5000 + ".yaml",
                "fifo.yaml",
                "",
                ".",
                "..",
                "nul\x00.yaml",
                "\udc80.yaml",
            ]
        ),
    ),
    key=st.sampled_from(["extends", "compose", "seed"]),
)
def test_bad_paths(folder: Path, relative: str, key: str) -> None:
    import os

    (folder / "base.yaml").write_text("description: base\n")
    if not (folder / "loop.yaml").is_symlink():
        (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    (folder / "dir.yaml").mkdir(exist_ok=True)
    if not (folder / "fifo.yaml").exists():
        os.mkfifo(folder / "fifo.yaml")
    if key == "extends":
        data: dict[str, Any] = {"name": "f", "extends": relative}
    elif key == "compose":
        data = {"name": "f", "compose": {"file": relative}}
    else:
        data = {
            "name": "f",
            "external_services": {
                "kafka": {
                    "type": "kafka",
                    "topics": ["t"],
                    "seed": [{"topic": "t", "from": relative}],
                }
            },
        }
    check_load(folder, dump(data))


@FUZZ
@given(
    edges=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=80),
    fan_out=st.integers(min_value=1, max_value=20),
)
def test_extends_graphs(folder: Path, edges: list[tuple[int, int]], fan_out: int) -> None:
    bases: dict[int, list[int]] = {}
    for a, b in edges:
        bases.setdefault(a, []).append(b)
    for node in range(31):
        targets = [f"b{t}.yaml" for t in bases.get(node, [])[:fan_out]]
        (folder / f"b{node}.yaml").write_text(
            dump({"extends": targets, "description": f"b{node}"}).decode()
        )
    check_load(folder, dump({"name": "f", "extends": [f"b{n}.yaml" for n in range(fan_out)]}))


@FUZZ
@given(
    service=st.dictionaries(
        st.sampled_from(
            [
                "image",
                "command",
                "ports",
                "volumes",
                "environment",
                "depends_on",
                "healthcheck",
                "build",
                "entrypoint",
                "privileged",
                "network_mode",
                "x-any",
            ]
        ),
        json_values,
        max_size=6,
    ),
    command=st.sampled_from(["echo 'unbalanced", 'sh -c "x', "ok", "a\\", "${X"]),
)
def test_compose_sources(folder: Path, service: dict[str, Any], command: str) -> None:
    compose = {"services": {"app": {"image": "busybox", "command": command, **service}}}
    (folder / "compose.yaml").write_bytes(dump(compose))
    check_load(folder, dump({"name": "f", "compose": {"file": "compose.yaml"}}))


@FUZZ
@given(
    steps=st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "publish",
                    "expect_message",
                    "consume",
                    "sql",
                    "redis",
                    "http",
                    "exec",
                    "sleep",
                    "call",
                    "fault",
                    "bogus",
                ]
            ),
            json_values,
            min_size=1,
            max_size=2,
        ),
        max_size=5,
    ),
    expected=json_values,
)
def test_steps_and_expected(folder: Path, steps: list[Any], expected: Any) -> None:
    check_load(folder, dump({**BASE, "steps": steps, "expected": expected}))
