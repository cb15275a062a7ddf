#!/usr/bin/env python3
"""Figures about envctl's layout (issue 9): import cycles, service-type branches outside
their package, top-level modules, in-function imports of envctl modules, the longest
functions. Prints figures, asserts nothing (tests/unit/test_layout.py holds the rules).

Usage: scripts/layout_report.py [--root PATH]   (PATH: a checkout; default this one)

Cycles come from grimp, the import graph library import-linter is built on: strongly
connected components of the module graph (TYPE_CHECKING imports excluded; the same finder
as tests/unit/test_layout.py), counted as components and as the modules in them.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _functions(tree: ast.AST) -> list[tuple[int, str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            found.append((end - node.lineno + 1, node.name, node.lineno))
    return found


def _in_function_imports(tree: ast.AST) -> int:
    count = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("envctl"):
                    count += 1
                elif isinstance(inner, ast.Import) and any(
                    a.name.startswith("envctl") for a in inner.names
                ):
                    count += 1
    return count


def _cycles(root: Path) -> list[list[str]]:
    sys.path.insert(0, str(root))
    from test_layout import import_cycles

    return import_cycles()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--show-cycles", action="store_true")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    package = root / "envctl"

    sys.path.insert(0, str(root / "tests" / "unit"))
    sys.path.insert(0, str(REPO / "tests" / "unit"))
    from test_layout import type_branches  # the rule's own finder

    functions: list[tuple[int, str, str]] = []
    in_function = 0
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        rel = path.relative_to(root).as_posix()
        functions += [(n, f"{rel}:{line} {name}", rel) for n, name, line in _functions(tree)]
        in_function += _in_function_imports(tree)
    top_level = sorted(p.name for p in package.glob("*.py") if p.name != "__init__.py")
    branches = type_branches(root)
    cycles = _cycles(root)
    in_cycles = sum(len(c) for c in cycles)
    print(f"import cycles: {len(cycles)} strongly connected components, {in_cycles} modules")
    if args.show_cycles:
        for component in cycles:
            print("   ", " ".join(component))
    print(f"in-function imports of envctl modules: {in_function}")
    print(f"service-type branches outside services/<type>/: {len(branches)}")
    for hit in branches:
        print(f"    {hit}")
    print(f"top-level modules: {len(top_level)} ({', '.join(top_level)})")
    print("longest functions:")
    for lines, where, _ in sorted(functions, reverse=True)[:8]:
        print(f"    {lines:4d}  {where}")


if __name__ == "__main__":
    main()
