"""Finding scenario files: by ``name:`` or by file name ``scenario_<name>.yaml``.

A scenario tree holds ``scenario_*.yaml`` files in any folder, base templates they
extend (any other ``*.yaml``), and an optional ``index.yaml`` listing scenarios.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from envctl.errors import ConfigError, Problem, ScenarioNotFound
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


def scenario_files(root: Path) -> list[Path]:
    """Every scenario file of the tree: ``scenario_*.yaml`` plus what the index lists."""
    if not root.is_dir():
        raise ConfigError(
            f"scenarios directory {root} does not exist; "
            "pass --scenarios-dir or set ENVCTL_SCENARIOS_DIR"
        )
    files = {p.resolve() for p in root.rglob(SCENARIO_GLOB) if p.is_file()}
    for entry in _read_index(root).scenarios:
        files.add((root / entry.path).resolve())
    return sorted(files)


def _read_index(root: Path) -> Index:
    path = root / INDEX_FILE
    if not path.is_file():
        return Index()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        index = Index.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}".replace("\n", " ")) from None
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(str(path), None, ".".join(str(p) for p in e["loc"]), e["msg"])
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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        return data["name"]
    return path.stem.removeprefix("scenario_")


def list_scenarios(root: Path) -> list[ScenarioRef]:
    """All scenarios of the tree; two files declaring the same name are an error."""
    refs = [ScenarioRef(_declared_name(p), p) for p in scenario_files(root)]
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
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return candidate.resolve()
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
    raise ScenarioNotFound(
        f"no scenario named '{name}' under {root}{hint} "
        "(see `envctl validate` for the list; --scenarios-dir changes where to look)"
    )
