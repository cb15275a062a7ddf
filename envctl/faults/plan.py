"""Validating a scenario's faults before anything starts (``FILE:LINE: faults[0].service``).

Checked: each entry's keys and values (the model), that its service exists (with a
did-you-mean), that every ``{step: ID}`` names a step (with a did-you-mean) and that an
``until`` step comes after the step that starts the fault.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from envctl.errors import Problem
from envctl.faults.models import FaultSpec, StepRef


def _hint(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


def check_fault(
    fault: FaultSpec,
    services: Sequence[str],
    step_ids: Mapping[str, int],
    where: str,
    file: str,
    line: int | None,
    *,
    own_index: int | None = None,
) -> list[Problem]:
    """Problems of one validated fault: unknown service or step, ``until`` before the start."""
    problems: list[Problem] = []
    if own_index is None and fault.service not in services:  # steps' services: by the plan
        problems.append(
            Problem(
                file,
                line,
                f"{where}.service",
                f"service '{fault.service}' is not defined{_hint(fault.service, services)}",
            )
        )
    start_index = own_index
    for key in ("at", "after", "until"):
        ref = getattr(fault, key)
        if not isinstance(ref, StepRef):
            continue
        if ref.step not in step_ids:
            known = ", ".join(step_ids) or "no step has an id"
            problems.append(
                Problem(
                    file,
                    line,
                    f"{where}.{key}.step",
                    f"no step has id '{ref.step}'{_hint(ref.step, list(step_ids))} (ids: {known})",
                )
            )
            continue
        index = step_ids[ref.step]
        if key != "until":
            start_index = index + (1 if key == "after" else 0)
        elif start_index is not None and index < start_index + (0 if own_index is None else 1):
            problems.append(
                Problem(
                    file,
                    line,
                    f"{where}.until.step",
                    f"step '{ref.step}' comes before the fault starts; until: names a later step",
                )
            )
    return problems


def plan_faults(
    raw: Sequence[Any],
    services: Sequence[str],
    step_ids: Mapping[str, int],
    file: str,
    lines: Mapping[int, int],
) -> tuple[list[FaultSpec], list[Problem]]:
    """The ``faults:`` section, validated; problems carry the file and line."""
    faults: list[FaultSpec] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        where = f"faults[{index}]"
        line = lines.get(index)
        try:
            fault = FaultSpec.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                message = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    fields = [f.alias or n for n, f in FaultSpec.model_fields.items()]
                    message = "unknown key" + _hint(str(err["loc"][-1]), fields)
                problems.append(Problem(file, line, f"{where}.{loc}" if loc else where, message))
            continue
        if fault.id is not None:
            if fault.id in seen:
                problems.append(
                    Problem(file, line, f"{where}.id", f"id '{fault.id}' is used twice")
                )
            seen.add(fault.id)
        problems += check_fault(fault, services, step_ids, where, file, line)
        faults.append(fault)
    return faults, problems


def proxied_services(scenario: Any) -> set[str]:
    """Services a scenario's faults reach through the fault proxy (network faults).

    Lenient: invalid entries are ignored here (the plan reports them)."""
    wanted: set[str] = set()
    items: list[Any] = list(getattr(scenario, "faults", []) or [])
    items += [
        step["fault"]
        for step in getattr(scenario, "steps", []) or []
        if isinstance(step, dict) and isinstance(step.get("fault"), dict)
    ]
    for item in items:
        try:
            fault = FaultSpec.model_validate(item)
        except ValidationError:
            continue
        if fault.needs_proxy:
            wanted.add(fault.service)
    return wanted
