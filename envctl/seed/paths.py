"""Where a seed file may be: relative to the scenario file, inside the scenario tree."""

from __future__ import annotations

from pathlib import Path

from envctl.errors import SeedError


def seed_path_problem(relative: str, scenario_dir: Path, tree: Path) -> str | None:
    """Why ``relative`` is not a usable seed file (None when it is).

    ``scenario_dir`` is the folder of the scenario file (relative paths start there);
    ``tree`` is the scenario tree the file may not leave (symlinks are followed).
    """
    from envctl.scenario.paths import path_problem

    try:
        tree = tree.resolve()
        path = (scenario_dir / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return f"seed file '{relative[:60]}' cannot be resolved (a symlink loop?)"
    if "\x00" not in relative and not path.is_relative_to(tree):
        return (
            f"seed file '{relative}' is outside the scenario tree {tree}; keep seed files under it"
        )
    return path_problem(relative, scenario_dir, [tree], what="seed file", yaml_only=False)


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
