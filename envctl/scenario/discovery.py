"""Finding scenario files: by ``name:`` or by file name ``scenario_<name>.yaml``.

A scenario tree holds ``scenario_*.yaml`` files in any folder, base templates they
extend (any other ``*.yaml``), and an optional ``index.yaml`` listing scenarios.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from envctl.errors import ConfigError, Problem, ScenarioNotFound
from envctl.scenario.messages import friendly_message
from envctl.scenario.models import Category

INDEX_FILE = "index.yaml"
SCENARIO_GLOB = "scenario_*.yaml"


class IndexEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    path: str
    category: Category | None = None
    description: str = ""


class Index(BaseModel):
    """``scenarios/index.yaml``: an optional list of the tree's scenarios."""

    model_config = ConfigDict(extra="forbid")

    scenarios: list[IndexEntry] = []


@dataclass(frozen=True)
class ScenarioRef:
    """A scenario file found in the tree, before it is fully loaded."""

    name: str
    path: Path


MAX_FOLDERS = 10_000
"""Folders searched for scenario files: a scenarios tree is far smaller; a larger tree
(``--scenarios-dir /``) is a mistake, reported instead of searched for minutes."""
_SKIPPED = {".git", ".hg", ".svn", ".envctl", "node_modules", "__pycache__", ".venv", "venv"}


def scenario_files(root: Path, problems: list[Problem] | None = None) -> list[Path]:
    """Every scenario file of the tree: ``scenario_*.yaml`` plus what the index lists.

    A broken ``index.yaml`` does not stop the search: its problems go to ``problems``
    (when given) and the files found by name are returned.
    """
    try:
        found = root.is_dir()
    except OSError as exc:  # a name longer than the file system allows
        raise ConfigError(
            f"scenarios directory {str(root)[:80]}… cannot be read ({exc.strerror or exc}); "
            "pass --scenarios-dir or set ENVCTL_SCENARIOS_DIR"
        ) from None
    if not found:
        raise ConfigError(
            f"scenarios directory {root} does not exist; "
            "pass --scenarios-dir or set ENVCTL_SCENARIOS_DIR"
        )
    files: set[Path] = set()
    # os.walk ignores folders that vanish or cannot be read (as under /proc).
    for folders, (folder, subfolders, names) in enumerate(os.walk(root), start=1):
        if folders > MAX_FOLDERS:
            raise ConfigError(
                f"more than {MAX_FOLDERS} folders under {root}; point --scenarios-dir (or "
                "ENVCTL_SCENARIOS_DIR) at the folder that holds the scenarios"
            )
        subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED)
        for name in names:
            if fnmatch.fnmatchcase(name, SCENARIO_GLOB):
                path = Path(folder) / name
                if path.is_file():
                    files.add(path.resolve())
    try:
        index = _read_index(root)
    except ConfigError as exc:
        if problems is None:
            raise
        problems.extend(exc.problems or [Problem(str(root / INDEX_FILE), None, "", str(exc))])
        index = Index()
    for entry in index.scenarios:
        files.add((root / entry.path).resolve())
    return sorted(files)


def _read_index(root: Path) -> Index:
    from envctl.scenario.yamlfile import dotted, read_yaml_file

    path = root / INDEX_FILE
    if not path.is_file():
        return Index()
    read_problems: list[Problem] = []
    data, positions = read_yaml_file(path, str(path), read_problems)
    if read_problems:
        raise ConfigError(read_problems)
    try:
        index = Index.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    str(path),
                    positions.get(tuple(e["loc"][:2]), (str(path), None))[1],
                    dotted(tuple(e["loc"])),
                    friendly_message(e),
                )
                for e in exc.errors()
            ]
        ) from None
    missing = [
        Problem(str(path), None, f"scenarios[{i}].path", f"'{e.path}' does not exist")
        for i, e in enumerate(index.scenarios)
        if not (root / e.path).is_file()
    ]
    if missing:
        raise ConfigError(missing)
    return index


def _declared_name(path: Path) -> str:
    """The ``name:`` of a scenario file, read cheaply; the file stem when unreadable."""
    from envctl.scenario.yamlfile import read_yaml_file

    data, _positions = read_yaml_file(path, str(path), [])  # problems: reported by validate
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return data["name"]
    return path.stem.removeprefix("scenario_")


def list_scenarios(root: Path) -> list[ScenarioRef]:
    """All scenarios of the tree; two files declaring the same name are an error. A broken
    ``index.yaml`` is left out (``envctl validate`` reports it)."""
    refs = [ScenarioRef(_declared_name(p), p) for p in scenario_files(root, [])]
    by_name: dict[str, list[Path]] = {}
    for ref in refs:
        by_name.setdefault(ref.name, []).append(ref.path)
    clashes = [
        Problem(str(paths[1]), None, "name", f"scenario '{name}' is also defined in {paths[0]}")
        for name, paths in by_name.items()
        if len(paths) > 1
    ]
    if clashes:
        raise ConfigError(clashes)
    return sorted(refs, key=lambda r: r.name)


def find_scenario(root: Path, name: str) -> Path:
    """The file of the scenario called ``name`` (its ``name:`` or ``scenario_<name>.yaml``)."""
    candidate = Path(name)
    try:
        if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
            return candidate.resolve()
    except (OSError, ValueError):  # a name longer than the file system allows, a NUL
        pass
    refs = list_scenarios(root)
    matches = {r.path for r in refs if r.name == name}
    matches |= {r.path for r in refs if r.path.name == f"scenario_{name}.yaml"}
    if len(matches) > 1:
        raise ConfigError(
            f"scenario '{name}' matches several files: {', '.join(sorted(map(str, matches)))}; "
            "rename one"
        )
    if matches:
        return matches.pop()
    names = [r.name for r in refs]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" — did you mean '{close[0]}'?" if close else ""
    shown = name if len(name) <= 60 else name[:59] + "…"
    raise ScenarioNotFound(
        f"no scenario named '{shown}' under {root}{hint} "
        "(see `envctl validate` for the list; --scenarios-dir changes where to look)"
    )
