"""Load a scenario file: YAML with line numbers, ``extends``, ``${VAR}``, validation.

Every problem of a file is collected and reported at once, each as
``path:line: key.path: message``, with did-you-mean hints for misspelt keys, service
types and service names.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from envctl.errors import ConfigError, Problem
from envctl.graph import find_cycle, format_cycle
from envctl.profiles import apply_profile
from envctl.scenario.compose import ExpandedSource, expand_compose_source
from envctl.scenario.interpolate import InterpolationError, interpolate
from envctl.scenario.merge import deep_merge
from envctl.scenario.messages import friendly_message, shown
from envctl.scenario.models import Category, Scenario
from envctl.scenario.paths import BindMountPolicy, path_problem
from envctl.scenario.plan import plan_scenario
from envctl.scenario.yamlfile import (
    Loc,
    Positions,
    dotted,
    parse_yaml,
    read_yaml_file,
    shorten,
)
from envctl.seed.paths import seed_path_problem
from envctl.services import registry

__all__ = ["deep_merge", "infer_category", "load_scenario", "parse_yaml", "scenario_tree"]


def load_scenario(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    *,
    root: Path | None = None,
    profile: str | None = None,
    project_profiles: Mapping[str, Any] | None = None,
    allowed_roots: Sequence[Path] | None = None,
    allow_docker_socket: bool = False,
) -> Scenario:
    """Load and validate one scenario file. Raises :class:`ConfigError` with every problem.

    ``root`` is the scenarios dir the file was found in: seed files may not leave it. A file
    outside it (or loaded without one) is its own tree: its folder. ``profile`` names the
    overlay(s) to apply (``--profile`` / ``ENVCTL_PROFILE``), from ``project_profiles`` (the
    project config's ``profiles:``) and the scenario's own ``profiles:``. Services of a
    ``compose:`` file are added before the profile is laid over. ``allowed_roots`` are the
    folders besides the scenario tree that base templates and compose files may
    come from (default: the working directory; see :mod:`envctl.scenario.paths`), and where
    host paths that containers bind-mount may be: under the scenario tree, the file's folder
    or one of them; the Docker socket only with ``allow_docker_socket`` (the project config's).
    Keys of a ``compose:`` source that envctl ignores are on ``scenario.warnings``.
    """
    import os

    env = dict(os.environ) if environ is None else environ
    file = Path(path)
    if "\x00" in str(path):
        raise ConfigError([Problem(repr(str(path))[1:-1], None, "", "the path has a NUL byte")])
    try:
        file.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        raise ConfigError([Problem(str(path), None, "", "file is a symlink loop")]) from None
    problems: list[Problem] = []
    tree = scenario_tree(file, root)
    allowed = (tree, *(allowed_roots if allowed_roots is not None else (Path.cwd(),)))
    state = _Extends(tuple(p.resolve() for p in allowed), problems)
    data, positions = _load_with_extends(file.resolve(), (), state, display=str(path))
    if data is None:
        raise ConfigError(_dedupe_sorted(problems))
    services = data.get("external_services")
    if isinstance(services, dict) and len(services) > MAX_SERVICES:
        file_, line = _position(positions, ("external_services",), str(path))
        message = f"{len(services)} services; a scenario holds at most {MAX_SERVICES}"
        raise ConfigError([Problem(file_, line, "external_services", message)])
    # When a base template could not be merged, what it would have held (a service's
    # type, a service another depends on) is not reported again as missing.
    template_failed = any(p.path.startswith("extends") or p.file != str(path) for p in problems)
    if "extends" in data:
        data = {k: v for k, v in data.items() if k != "extends"}
    data = _interpolate_tree(data, (), env, positions, problems, str(path))
    # A value already reported (an unresolved ${VAR}, a bad YAML scalar) is not reported
    # again by validation.
    unresolved = {p.path for p in problems if p.path}
    if "category" not in data:
        inferred = infer_category(file)
        if inferred is not None:
            data["category"] = inferred.value
    warnings: list[Problem] = []
    imported = ExpandedSource({})
    if not problems:
        try:
            expanded = expand_compose_source(
                data, file.resolve(), env, state.allowed, display=str(path), positions=positions
            )
            # The scenario's own keys win over where an imported service's keys came from.
            positions = {**expanded.positions, **positions}
            imported, warnings = expanded, expanded.warnings
            data = apply_profile(expanded.data, profile, project_profiles, env)
        except ConfigError as exc:
            problems.extend(exc.problems or [Problem(str(path), None, "", str(exc))])
            raise ConfigError(_dedupe_sorted(problems)) from None

    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        # A value whose ${VAR} could not be resolved is reported once, as that.
        problems.extend(
            p
            for p in _validation_problems(exc, data, positions, str(path))
            if not any(p.path == u or p.path.startswith((f"{u}.", f"{u}[")) for u in unresolved)
        )
    problems.extend(_semantic_problems(data, positions, str(path)))
    if scenario is not None:
        policy = BindMountPolicy(
            (file.resolve().parent, *state.allowed), allow_docker_socket=allow_docker_socket
        )
        problems.extend(
            _bind_mount_problems(scenario, positions, str(path), file, policy, imported)
        )
    problems.extend(_seed_problems(data, positions, str(path), file.resolve().parent, tree))
    if template_failed:
        problems = [
            p
            for p in problems
            if not p.message.startswith("required key") and "which is not defined" not in p.message
        ]
    if problems or scenario is None:
        raise ConfigError(_dedupe_sorted(problems))
    scenario._source = file.resolve()
    scenario._warnings = warnings
    scenario._root = tree
    scenario._lines = {
        loc: where
        for loc, where in positions.items()
        if loc[:1] in (("steps",), ("expected",), ("faults",))
    }
    # Steps and expected: are checked here too, so `validate` refuses what `run` would.

    plan_scenario(scenario)
    return scenario


def scenario_tree(file: Path, root: Path | None) -> Path:
    """The scenario tree of ``file``: ``root`` when the file lies under it, else its folder."""
    resolved = file.resolve()
    if root is not None and resolved.is_relative_to(root.resolve()):
        return root.resolve()
    return resolved.parent


def _seed_problems(
    data: Any, positions: Positions, display: str, scenario_dir: Path, tree: Path
) -> list[Problem]:
    """Seed files that escape the scenario tree or do not exist; seeds naming a topic or
    database the service does not declare."""

    problems: list[Problem] = []
    services = data.get("external_services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return problems
    for name, spec in services.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("seed"), list):
            continue
        plugin = registry.find(spec.get("type"))
        for index, entry in enumerate(spec["seed"]):
            if not isinstance(entry, dict):
                continue
            loc: Loc = ("external_services", name, "seed", index)
            source = entry.get("from")
            if isinstance(source, str):
                problem = seed_path_problem(source, scenario_dir, tree)
                if problem is not None:
                    file, line = _position(positions, (*loc, "from"), display)
                    problems.append(Problem(file, line, dotted((*loc, "from")), problem))
            for key, message in plugin.seed_entry_problems(spec, entry) if plugin else []:
                file, line = _position(positions, (*loc, key), display)
                problems.append(Problem(file, line, dotted((*loc, key)), message))
    return problems


def _bind_mount_problems(
    scenario: Scenario,
    positions: Positions,
    display: str,
    file: Path,
    policy: BindMountPolicy,
    imported: ExpandedSource,
) -> list[Problem]:
    """Host paths the services would bind-mount that the project does not allow (from the
    scenario, a ``${VAR}`` in it, or its ``compose:`` file) — found here so ``envctl
    validate`` refuses what ``up`` would. A mount the compose file wrote is shown by its
    path there (``services.app.volumes[0]``)."""
    problems: list[Problem] = []
    for name, spec in scenario.external_services.items():
        plugin = registry.find(spec.type)
        if plugin is None:
            continue
        for key, message in plugin.bind_mount_problems(spec, file.resolve().parent, policy):
            loc: Loc = ("external_services", name, *key)
            where, line = _position(positions, loc, display)
            from_compose = loc in imported.origins and positions.get(loc) == (
                imported.positions.get(loc)
            )
            shown = imported.origins[loc] if from_compose else dotted(loc)
            problems.append(Problem(where, line, shown, message))
    return problems


def infer_category(file: Path) -> Category | None:
    """The category named by the nearest enclosing folder (unit, integration, mixed)."""
    for parent in file.resolve().parents:
        if parent.name in {c.value for c in Category}:
            return Category(parent.name)
    return None


# -- YAML with positions -----------------------------------------------------------------

MAX_EXTENDS_DEPTH = 16
"""Base templates extending base templates: deeper chains are refused."""
MAX_TEMPLATES = 200
"""Distinct files one scenario may pull in through ``extends``."""
MAX_SERVICES = 500


@dataclass
class _Extends:
    """The state of one scenario's ``extends`` resolution: each base is read and merged
    once however many files name it (fan-out), and the chain depth is bounded."""

    allowed: tuple[Path, ...]
    problems: list[Problem]
    done: dict[Path, tuple[dict[str, Any] | None, Positions]] = field(default_factory=dict)


def _load_with_extends(
    file: Path,
    chain: tuple[Path, ...],
    state: _Extends,
    display: str,
) -> tuple[dict[str, Any] | None, Positions]:
    problems = state.problems
    if file in state.done:
        return state.done[file]
    data, positions = read_yaml_file(file, display, problems)
    if data is None:
        return None, positions
    if not isinstance(data, dict):
        problems.append(
            Problem(display, 1, "", "a scenario file must be a mapping of keys (name:, ...)")
        )
        return None, positions

    bases = data.get("extends")
    if bases is None:
        return data, positions
    if isinstance(bases, str):
        base_list = [bases]
    elif isinstance(bases, list) and all(isinstance(b, str) for b in bases):
        base_list = list(bases)
    else:
        line = positions.get(("extends",), (display, None))[1]
        problems.append(Problem(display, line, "extends", "must be a path or a list of paths"))
        return data, positions

    merged: dict[str, Any] = {}
    merged_pos: Positions = {}
    for index, base in enumerate(base_list):
        loc: Loc = ("extends",) if isinstance(bases, str) else ("extends", index)
        line = positions.get(loc, (display, None))[1]

        def report(message: str, loc: Loc = loc, line: int | None = line) -> None:
            problems.append(Problem(display, line, dotted(loc), message))

        reason = path_problem(base, file.parent, state.allowed, what="base template")
        if reason is not None:
            report(reason)
            continue
        base_file = (file.parent / base).resolve()
        if base_file in chain or base_file == file:
            cycle = " -> ".join(str(p) for p in (*chain, file, base_file))
            report(f"extends cycle: {cycle}")
            continue
        if len(chain) + 1 >= MAX_EXTENDS_DEPTH:
            report(
                f"extends chain deeper than {MAX_EXTENDS_DEPTH} files; merge some base templates"
            )
            continue
        if base_file not in state.done and len(state.done) >= MAX_TEMPLATES:
            report(f"more than {MAX_TEMPLATES} base templates; merge some of them")
            continue
        base_display = _display_path(base_file, Path(display))
        base_data, base_pos = _load_with_extends(base_file, (*chain, file), state, base_display)
        state.done[base_file] = (base_data, base_pos)
        if base_data is None:
            continue
        dropped = ("extends", "name")
        base_data = {k: v for k, v in base_data.items() if k not in dropped}
        merged = deep_merge(merged, base_data)
        merged_pos.update(
            {loc: p for loc, p in base_pos.items() if not loc or loc[0] not in dropped}
        )
    merged = deep_merge(merged, data)
    merged_pos.update(positions)
    return merged, merged_pos


def _display_path(target: Path, child_display: Path) -> str:
    """Show a base template the way its child was shown: absolute, or relative to cwd."""
    if child_display.is_absolute():
        return str(target)
    import os

    try:
        return os.path.relpath(target, Path.cwd())
    except ValueError:
        return str(target)


def _interpolate_tree(
    value: Any,
    loc: Loc,
    env: Mapping[str, str],
    positions: Positions,
    problems: list[Problem],
    display: str,
) -> Any:
    if isinstance(value, str):
        try:
            return interpolate(value, env)
        except InterpolationError as exc:
            file, line = _position(positions, loc, display)
            problems.append(Problem(file, line, dotted(loc), str(exc)))
            return value
    if isinstance(value, dict):
        return {
            k: _interpolate_tree(v, (*loc, k), env, positions, problems, display)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate_tree(v, (*loc, i), env, positions, problems, display)
            for i, v in enumerate(value)
        ]
    return value


# -- validation errors -> problems --------------------------------------------------------


def _validation_problems(
    exc: ValidationError, data: Any, positions: Positions, display: str
) -> list[Problem]:
    grouped: dict[Loc, list[tuple[int, Any]]] = {}
    from_union: set[Loc] = set()
    for error in exc.errors(include_url=False):
        loc, skipped = _clean_loc(tuple(error["loc"]), data)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = (*loc, "type")
        grouped.setdefault(loc, []).append((len(loc) + skipped, error))
        if skipped:
            from_union.add(loc)

    problems: list[Problem] = []
    for loc, errors in grouped.items():
        # A union (e.g. `bool | CleanupMap`) reports every member; when one member got
        # further into the value, that is the one the author meant.
        if loc in from_union and any(
            other[: len(loc)] == loc and len(other) > len(loc) for other in grouped
        ):
            continue
        deepest = max(depth for depth, _ in errors)
        chosen = [e for depth, e in errors if depth == deepest]
        messages: list[str] = []
        for error in chosen:
            message = _message(error, loc, data)
            if message not in messages:
                messages.append(message)
        text = messages[0] if len(messages) == 1 else _union_message(chosen)
        file, line = _position(positions, loc, display)
        problems.append(Problem(file, line, dotted(loc), text))
    return problems


def _union_message(errors: list[Any]) -> str:
    """One message for a value that matched no member of a union."""
    expected: list[str] = []
    for error in errors:
        text = str(error["msg"]).removeprefix("Input should be ").removeprefix("a valid ")
        text = text.removesuffix(", unable to interpret input")
        if text.startswith(("dictionary", "object")):
            text = "a mapping"
        elif text.startswith("list") or text.startswith("array"):
            text = "a list"
        elif text == "boolean":
            text = "true/false"
        elif text in ("string", "integer", "number"):
            text = f"a {text}"
        if text not in expected:
            expected.append(text)
    value = errors[0].get("input")
    # the value as written and cut to length (a 5,000-character string is not echoed whole)
    text = f"{shown(value)} is not valid" if not isinstance(value, dict | list) else "not valid"
    return f"{text}; expected {', '.join(expected[:-1])} or {expected[-1]}"


def _clean_loc(loc: Loc, data: Any) -> tuple[Loc, int]:
    """Drop union-member tags pydantic puts in ``loc`` so it follows the data."""
    cleaned: list[str | int] = []
    skipped = 0
    current = data
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, dict) and part in current:
            cleaned.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            cleaned.append(part)
            current = current[part]
        elif (
            _is_member_tag(part)
            or (isinstance(current, dict) and current.get("type") == part)
            or (not last and isinstance(current, dict | list))
        ):
            skipped += 1  # a union member name such as 'kafka', 'bool' or 'CleanupMap'
        else:
            cleaned.append(part)
            current = None
    return tuple(cleaned), skipped


def _is_member_tag(part: str | int) -> bool:
    # Only called for parts that are not keys of the data: pydantic's names for the
    # members of a union ('bool', "literal['on_success']", 'CleanupMap', ...).
    text = str(part)
    return (
        text in ("bool", "str", "int", "float", "list", "dict")
        or text.startswith(("literal[", "function-", "list[", "dict["))
        or (text[:1].isupper() and text.isidentifier())
    )


def _message(error: Mapping[str, Any], loc: Loc, data: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1], data)
        key = str(loc[-1])
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        valid = f" (valid: {', '.join(sorted(allowed))})" if allowed and not close else ""
        return f"unknown key{hint}{valid}"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return registry.unknown_type_message(str(error.get("ctx", {}).get("tag", "")))
    if kind == "union_tag_not_found":
        return f"required key 'type' is missing (one of: {', '.join(registry.type_names())})"
    if kind in ("enum", "literal_error"):
        message = str(error["msg"])
        return f"{shorten(error.get('input'))} is not valid; {message[0].lower()}{message[1:]}"
    return friendly_message(error)


def _allowed_keys(loc: Loc, data: Any) -> list[str]:
    annotation: Any = Scenario
    current = data
    for part in loc:
        annotation = _unwrap(annotation, current)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                field = next(
                    (
                        f
                        for f in annotation.model_fields.values()
                        if f.validation_alias == part or f.alias == part
                    ),
                    None,
                )
            if field is None:
                return []
            annotation = field.annotation
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return []
        current = (
            current.get(part)
            if isinstance(current, dict)
            else (
                current[part]
                if isinstance(current, list) and isinstance(part, int) and part < len(current)
                else None
            )
        )
    annotation = _unwrap(annotation, current)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        keys = []
        for name, field in annotation.model_fields.items():
            keys.append(field.alias or name)
            if isinstance(field.validation_alias, str):
                keys.append(field.validation_alias)
        return keys
    return []


def _unwrap(annotation: Any, value: Any) -> Any:
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            if isinstance(value, dict) and models:
                tag = value.get("type")
                for model in models:
                    field = model.model_fields.get("type")
                    if field is not None and tag in typing.get_args(field.annotation):
                        return model
                return models[0]
            annotation = members[0] if len(members) == 1 else annotation
            if len(members) != 1:
                return annotation
            continue
        return annotation


# -- checks across keys ---------------------------------------------------------------------


def _semantic_problems(data: Any, positions: Positions, display: str) -> list[Problem]:
    problems: list[Problem] = []
    services = data.get("external_services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        return problems
    names = [str(n) for n in services]
    depends: dict[str, list[str]] = {}
    for name, spec in services.items():
        deps = spec.get("depends_on", []) if isinstance(spec, dict) else []
        if isinstance(deps, str):
            deps = [deps]
        if not isinstance(deps, list):
            continue
        depends[name] = [d for d in deps if isinstance(d, str)]
        for index, dep in enumerate(deps):
            loc: Loc = ("external_services", name, "depends_on", index)
            if not isinstance(dep, str):
                continue  # the model reports the wrong kind of value
            if dep == name:
                message = f"service '{name}' depends on itself"
            elif dep not in services:
                close = difflib.get_close_matches(str(dep), names, n=1)
                hint = f" — did you mean '{close[0]}'?" if close else ""
                message = f"service '{name}' depends on '{dep}', which is not defined{hint}"
            else:
                continue
            file, line = _position(positions, loc, display)
            problems.append(Problem(file, line, dotted(loc), message))
    cycle = find_cycle({n: [d for d in deps if d != n] for n, deps in depends.items()})
    if cycle:
        loc = ("external_services", cycle[0], "depends_on")
        file, line = _position(positions, loc, display)
        problems.append(
            Problem(file, line, dotted(loc), f"dependency cycle: {format_cycle(cycle)}")
        )

    profiles = data.get("timeout_profiles")
    if isinstance(profiles, dict):
        types_used = {str(s.get("type")) for s in services.values() if isinstance(s, dict)}
        for key in profiles:
            if key in services or key in types_used:
                continue
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            loc = ("timeout_profiles", key)
            file, line = _position(positions, loc, display)
            problems.append(
                Problem(
                    file,
                    line,
                    dotted(loc),
                    f"'{key}' is neither a service nor a service type of this scenario{hint}",
                )
            )
    return problems


# -- helpers ----------------------------------------------------------------------------------


def _position(positions: Positions, loc: Loc, display: str) -> tuple[str, int | None]:
    for end in range(len(loc), -1, -1):
        found = positions.get(tuple(loc[:end]))
        if found is not None:
            return found
    return display, None


def _dedupe_sorted(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    unique = [p for p in problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]
    return sorted(unique, key=lambda p: (p.file, p.line or 0))
