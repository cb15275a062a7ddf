"""Layout rules of issue 9: no import cycles between envctl's modules (the layering itself is
import-linter's contract in pyproject.toml, run by ``lint-imports`` in CI), and code outside
``envctl/services/<type>/`` never branches on a service type's name; it asks the type's
plugin through a hook instead.

A "branch on a type name" is a string literal naming a service type that takes part in a
decision: a comparison (``spec.type == "kafka"``, ``kind in ("kafka", "redis")``, also
through a module-level constant such as ``ISOLATABLE = {"kafka", "redis"}``), a ``match``
case, a dict keyed by type names (dispatch tables), or a loop over a literal list of types.
A collection counts when all its strings are type names (``("envctl", "redis")`` lists
packages, ``{"publish": ..., "redis": ...}`` step kinds). Plain mentions (docstrings,
messages, examples) are not decisions and are allowed.

A type's package is ``envctl/services/<name>/`` of a registered type (pyproject.toml's
``envctl.services`` entry points) or a well-known one. Another package there is a base that
types share (``envctl/services/sql/``): it is checked like code outside every type.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WELL_KNOWN_TYPES = frozenset(
    {
        "kafka",
        "postgres",
        "redis",
        "generic",
        "mysql",
        "mariadb",
        "nats",
        "rabbitmq",
        "minio",
        "elasticsearch",
    }
)
"""Type names checked besides the types envctl registers: the types users ask for, so a
branch on one cannot appear before its package does."""


def service_type_names(root: Path) -> frozenset[str]:
    """The registered types (the ``envctl.services`` entry points) and the well-known ones."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    registered = pyproject.get("project", {}).get("entry-points", {}).get("envctl.services", {})
    return WELL_KNOWN_TYPES | frozenset(registered)


def _is_type_package(path: Path, root: Path, names: frozenset[str]) -> bool:
    parts = path.relative_to(root).parts
    return len(parts) > 3 and parts[:2] == ("envctl", "services") and parts[2] in names


def _literals(node: ast.AST | None, names: frozenset[str]) -> set[str]:
    """Type names among the string constants of ``node`` (a literal or a collection)."""
    if node is None:
        return set()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value} & names
    if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
        elements = node.keys if isinstance(node, ast.Dict) else node.elts
        strings = {e.value for e in elements if isinstance(e, ast.Constant)}
        if not strings or not strings <= names:
            # not a collection of type names: step kinds (the step ``redis`` sits beside
            # ``publish``), package names (``redis`` beside ``psycopg``), ...
            return set()
        return set(strings)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"frozenset", "set", "tuple", "list"}
        and node.args
    ):
        return _literals(node.args[0], names)
    return set()


def _module_constants(tree: ast.Module, names: frozenset[str]) -> dict[str, set[str]]:
    """Module-level names bound to a collection of type names."""
    constants: dict[str, set[str]] = {}
    for statement in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(statement, ast.Assign):
            targets, value = statement.targets, statement.value
        elif isinstance(statement, ast.AnnAssign):
            targets, value = [statement.target], statement.value
        found = _literals(value, names) if not isinstance(value, ast.Constant) else set()
        for target in targets:
            if isinstance(target, ast.Name) and found:
                constants[target.id] = found
    return constants


def _branches(tree: ast.Module, names: frozenset[str]) -> Iterator[tuple[int, str, str]]:
    constants = _module_constants(tree, names)

    def operand(node: ast.expr) -> set[str]:
        if isinstance(node, ast.Name) and node.id in constants:
            return constants[node.id]
        return _literals(node, names)

    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            found: set[str] = set()
            for side in [node.left, *node.comparators]:
                found |= operand(side)
            for name in sorted(found):
                yield node.lineno, name, "comparison"
        elif isinstance(node, ast.Dict):
            for name in sorted(_literals(node, names)):
                yield node.lineno, name, "dict keyed by type"
        elif isinstance(node, ast.match_case):
            for sub in ast.walk(node.pattern):
                if isinstance(sub, ast.MatchValue):
                    for name in sorted(_literals(sub.value, names)):
                        yield sub.lineno, name, "match case"
        elif isinstance(node, ast.For | ast.comprehension):
            iterable = node.iter
            if isinstance(iterable, ast.Tuple | ast.List | ast.Set) or (
                isinstance(iterable, ast.Name) and iterable.id in constants
            ):
                for name in sorted(operand(iterable)):
                    line = getattr(node, "lineno", getattr(iterable, "lineno", 0))
                    yield line, name, "loop over types"


def type_branches(root: Path = REPO) -> list[str]:
    """Every branch on a service type's name outside its package, as ``file:line: ...``."""
    names = service_type_names(root)
    hits: list[str] = []
    for path in sorted((root / "envctl").rglob("*.py")):
        if _is_type_package(path, root, names):
            continue
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(root).as_posix()
        for line, name, how in sorted(set(_branches(tree, names))):
            hits.append(f"{rel}:{line}: {how} on {name!r}")
    return hits


def test_no_service_type_name_decides_anything_outside_its_package() -> None:
    hits = type_branches()
    assert not hits, (
        "code outside envctl/services/<type>/ branches on a service type's name; ask the "
        "type's plugin through a hook (envctl/services/base.py) instead:\n  " + "\n  ".join(hits)
    )


def test_the_finder_sees_each_kind_of_branch(tmp_path: Path) -> None:
    module = tmp_path / "envctl" / "somewhere.py"
    module.parent.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "envctl" / "services" / "kafka").mkdir(parents=True)
    (tmp_path / "envctl" / "services" / "kafka" / "__init__.py").write_text("")
    (tmp_path / "envctl" / "services" / "kafka" / "plugin.py").write_text(
        'if spec.type == "kafka":\n    pass\n'
    )
    module.write_text(
        "ISOLATABLE = {'kafka', 'redis'}\n"
        "def f(spec, kind):\n"
        "    if spec.type == 'kafka':\n"
        "        return 1\n"
        "    x = 2 if kind != 'postgres' else 3\n"
        "    if kind in ISOLATABLE:\n"
        "        return 4\n"
        "    match kind:\n"
        "        case 'generic':\n"
        "            return 5\n"
        "    table = {'mysql': 6}\n"
        "    steps = {'publish': 1, 'redis': 2}\n"
        "    for t in ('nats',):\n"
        "        pass\n"
        "    return 'kafka is fine in a message'\n"
    )
    hits = type_branches(tmp_path)
    assert [h.split(": ", 1)[1] for h in hits] == [
        "comparison on 'kafka'",
        "comparison on 'postgres'",
        "comparison on 'kafka'",
        "comparison on 'redis'",
        "match case on 'generic'",
        "dict keyed by type on 'mysql'",
        "loop over types on 'nats'",
    ]
    assert all(h.startswith("envctl/somewhere.py:") for h in hits)


def test_a_base_that_types_share_is_checked_like_code_outside_them(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project.entry-points."envctl.services"]\n'
        'echo = "envctl.services.echo.plugin:EchoService"\n'
    )
    for package in ("echo", "kafka", "sql"):
        folder = tmp_path / "envctl" / "services" / package
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "plugin.py").write_text("if spec.type in ('echo', 'kafka'):\n    pass\n")
    hits = type_branches(tmp_path)
    assert hits == [
        "envctl/services/sql/plugin.py:1: comparison on 'echo'",
        "envctl/services/sql/plugin.py:1: comparison on 'kafka'",
    ]
    assert "sql" not in service_type_names(tmp_path)


def import_cycles() -> list[list[str]]:
    """Groups of envctl modules that import each other (strongly connected components of the
    import graph grimp builds, imports inside functions included, TYPE_CHECKING ones not)."""
    import grimp
    import networkx as nx

    graph = grimp.build_graph("envctl", exclude_type_checking_imports=True, cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        edges.add_edges_from((module, i) for i in graph.find_modules_directly_imported_by(module))
    return sorted(sorted(c) for c in nx.strongly_connected_components(edges) if len(c) > 1)


def test_no_import_cycles() -> None:
    cycles = import_cycles()
    assert not cycles, "envctl modules import each other: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_no_two_test_modules_share_a_basename() -> None:
    # pytest's default (prepend) import mode imports test modules by basename: a second
    # tests/**/test_x.py stops the whole suite at collection ("import file mismatch").
    tests = Path(__file__).resolve().parents[1]
    by_name: dict[str, list[str]] = {}
    for path in sorted(tests.rglob("test_*.py")):
        by_name.setdefault(path.name, []).append(str(path.relative_to(tests)))
    assert {name: paths for name, paths in by_name.items() if len(paths) > 1} == {}
