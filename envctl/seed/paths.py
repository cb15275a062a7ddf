"""Where a seed file may be: relative to the scenario file, inside the scenario tree."""

from __future__ import annotations

from pathlib import Path

from envctl.errors import SeedError


def seed_path_problem(relative: str, scenario_dir: Path, tree: Path) -> str | None:
    """Why ``relative`` is not a usable seed file (None when it is).

    ``scenario_dir`` is the folder of the scenario file (relative paths start there);
    ``tree`` is the scenario tree the file may not leave (symlinks are followed).
    """
    tree = tree.resolve()
    path = (scenario_dir / relative).resolve()
    if not path.is_relative_to(tree):
        return (
            f"seed file '{relative}' is outside the scenario tree {tree}; keep seed files under it"
        )
    if not path.is_file():
        return f"seed file '{relative}' does not exist (looked for {path})"
    return None


def resolve_seed_path(
    relative: str, scenario_dir: Path | None, tree: Path | None, service: str
) -> Path:
    """The absolute path of a seed file; :class:`SeedError` when it escapes or is missing."""
    base = scenario_dir if scenario_dir is not None else Path.cwd()
    root = tree if tree is not None else base
    problem = seed_path_problem(relative, base, root)
    if problem is not None:
        raise SeedError(relative, None, f"service '{service}': {problem}")
    return (base / relative).resolve()
