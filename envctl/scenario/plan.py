"""A scenario's steps and expectations, validated and tied to their lines, before anything runs.

The loader calls :func:`plan_scenario` on every scenario it loads, so ``envctl validate``
checks everything ``envctl run`` checks; the runner calls it again to get the validated
bodies (replay passes recorded steps). Lines come from the loader's positions, kept on
the scenario: the YAML is never read again. Every problem is reported at once as a
:class:`ConfigError` (``FILE:LINE: steps[3].publish.topc: ...``), the form the loader uses.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from envctl.errors import ConfigError, Problem
from envctl.faults.models import FaultSpec
from envctl.faults.plan import check_fault, plan_faults
from envctl.scenario.messages import friendly_message
from envctl.scenario.models import Scenario
from envctl.scenario.steps import (
    STEP_MODELS,
    STEP_NEEDS,
    Expected,
    StepBody,
    parse_expected,
)
from envctl.services import registry

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class PlannedStep:
    """One step: its position, kind, validated body and the service it talks to."""

    index: int
    kind: str
    body: StepBody
    raw: Any
    """The body as written (placeholders unresolved): what replay re-runs."""
    service: str | None
    line: int | None
    file: str | None

    @property
    def label(self) -> str:
        """``step 3 (publish, scenarios/x.yaml:14)``."""
        where = f", {self.file}:{self.line}" if self.file and self.line else ""
        name = f" '{self.body.id}'" if self.body.id else ""
        return f"step {self.index}{name} ({self.kind}{where})"


@dataclass(frozen=True)
class Plan:
    steps: list[PlannedStep]
    expected: list[Expected]
    faults: list[FaultSpec] = field(default_factory=list)
    """The ``faults:`` section, validated (fault steps are among ``steps``)."""


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def serving(scenario: Scenario, capability: str) -> list[str]:
    """The scenario's services whose type serves ``capability`` (``event_bus``, ``sql``, ...:
    :attr:`~envctl.services.base.ServicePlugin.serves`)."""
    types = set(registry.types_serving(capability))
    return [n for n, s in scenario.external_services.items() if s.type in types]


def needed_types(capability: str) -> str:
    """The types serving ``capability``, said in an error (``kafka``, ``mysql or postgres``)."""
    return " or ".join(registry.types_serving(capability)) or capability


def default_service(scenario: Scenario, capability: str) -> str | None:
    """The only service serving ``capability``, or None when there is none or several."""
    names = serving(scenario, capability)
    return names[0] if len(names) == 1 else None


def plan_scenario(scenario: Scenario, steps: list[dict[str, Any]] | None = None) -> Plan:
    """Validate the steps (default: the scenario's) and ``expected:``."""
    fallback_file = _display(scenario.source) if scenario.source else scenario.name
    lines = scenario._lines if steps is None else {}
    problems: list[Problem] = []
    planned: list[PlannedStep] = []
    seen_ids: set[str] = set()
    for index, step in enumerate(scenario.steps if steps is None else steps):
        kind, raw = next(iter(step.items()))
        file, line = lines.get(("steps", index), (fallback_file, None))
        at = _At(file, line, f"steps[{index}].{kind}", problems, lines, ("steps", index, kind))
        body = _step_body(kind, raw, at)
        if body is None:
            continue
        if body.id is not None:
            if body.id in seen_ids:
                at.problem(f"id '{body.id}' is used twice", ".id")
            seen_ids.add(body.id)
        service = _step_service(scenario, kind, getattr(body, "service", None), at)
        planned.append(PlannedStep(index, kind, body, raw, service, at.line, file))
    expected = _expected(scenario, fallback_file, problems)
    faults = _faults(scenario, planned, fallback_file, problems)
    if problems:
        raise ConfigError(problems)
    return Plan(planned, expected, faults)


def _faults(
    scenario: Scenario, planned: list[PlannedStep], fallback_file: str, problems: list[Problem]
) -> list[FaultSpec]:
    """The ``faults:`` section validated, and the fault steps' triggers checked."""
    services = list(scenario.external_services)
    step_ids = {p.body.id: p.index for p in planned if p.body.id}
    for step in planned:
        if isinstance(step.body, FaultSpec):
            problems += check_fault(
                step.body,
                services,
                step_ids,
                f"steps[{step.index}].fault",
                step.file or fallback_file,
                step.line,
                own_index=step.index,
            )
    faults, fault_problems = plan_faults(
        scenario.faults,
        services,
        step_ids,
        _display(scenario.source) if scenario.source else fallback_file,
        {
            int(loc[1]): line
            for loc, (_file, line) in scenario._lines.items()
            if len(loc) == 2 and loc[0] == "faults" and isinstance(loc[1], int)
        },
    )
    problems += fault_problems
    return faults


@dataclass(frozen=True)
class _At:
    """Where a step is written (file, line, ``steps[3].publish``); collects its problems."""

    file: str
    line: int | None
    where: str
    problems: list[Problem]
    lines: Mapping[Loc, tuple[str, int]]
    loc: Loc

    def problem(self, message: str, suffix: str = "", inner: Loc = ()) -> None:
        file, line = self.file, self.line
        full = (*self.loc, *inner)
        for end in range(len(full), len(self.loc) - 1, -1):
            if full[:end] in self.lines:
                file, line = self.lines[full[:end]]
                break
        self.problems.append(Problem(file, line, self.where + suffix, message))


def _step_body(kind: str, raw: Any, at: _At) -> StepBody | None:
    """The step's validated body; None (and its problems noted) when it is invalid."""
    model = STEP_MODELS[kind]
    try:
        return model.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            if err["type"] == "extra_forbidden":
                key = str(err["loc"][-1])
                close = difflib.get_close_matches(key, list(model.model_fields), n=1)
                valid = ", ".join(model.model_fields)
                message = "unknown key" + (
                    f" — did you mean '{close[0]}'?" if close else f" (valid: {valid})"
                )
            else:
                message = friendly_message(err, _STEP_SHAPES.get(kind))
            at.problem(message, f".{loc}" if loc else "", tuple(err["loc"]))
        return None


_STEP_SHAPES = {
    "sleep": "a duration (`sleep: 0.5`, `sleep: 500ms`) or {seconds: 0.5}",
    "call": "'module:function' or {function: 'module:function', args: {...}}",
}
"""What a step body looks like where pydantic would only say "a valid dictionary"."""


def _step_service(scenario: Scenario, kind: str, service: str | None, at: _At) -> str | None:
    """The service a step talks to: the one it names, or the only one of the type its kind
    needs; a missing, unknown or wrong-typed service is noted as a problem."""
    services = scenario.external_services
    needs = STEP_NEEDS.get(kind)
    if needs is None:
        return service
    if service is None and needs:
        service = default_service(scenario, needs)
        if service is None:
            count = len(serving(scenario, needs))
            at.problem(
                f"needs a {needed_types(needs)} service; the scenario has "
                + ("none" if count == 0 else f"{count}, name one with service:")
            )
    elif service is not None and service not in services:
        close = difflib.get_close_matches(service, list(services), n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        at.problem(f"service '{service}' is not defined{hint}", ".service")
    elif service is not None and needs and service not in serving(scenario, needs):
        at.problem(
            f"'{service}' is a {services[service].type} service; {kind} needs "
            f"a {needed_types(needs)} service",
            ".service",
        )
    return service


def _expected(scenario: Scenario, file: str, problems: list[Problem]) -> list[Expected]:
    """The scenario's ``expected:``, validated, each item's service checked."""
    expected: list[Expected] = []
    lines = scenario._lines
    prefix: Loc = ("expected",)

    def where(inner: Loc) -> tuple[str, int | None]:
        full = (*prefix, *inner)
        for end in range(len(full), 0, -1):
            if full[:end] in lines:
                return lines[full[:end]]
        return file, None

    try:
        expected = parse_expected(scenario.expected)
    except ValidationError as exc:
        many = isinstance(scenario.expected, list)
        for err in exc.errors():
            inner = tuple(err["loc"]) if many else tuple(err["loc"])[1:]
            loc = _dotted_loc(inner)
            at_file, at_line = where(inner)
            problems.append(
                Problem(at_file, at_line, f"expected{loc}", friendly_message(err, None))
            )
    for item in expected:
        for kind_name, wanted, used in (
            ("messages", "event_bus", item.messages),
            ("rows", "sql", item.rows),
            ("keys", "key_value", item.keys),
        ):
            if not used:
                continue
            service = item.service
            if service is None:
                service = default_service(scenario, wanted)
            if service is None or service not in serving(scenario, wanted):
                at_file, at_line = where((kind_name,))
                problems.append(
                    Problem(
                        at_file,
                        at_line,
                        f"expected.{kind_name}",
                        f"needs a {needed_types(wanted)} service (set "
                        "expected.service when there are several)",
                    )
                )
    return expected


def _dotted_loc(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def expected_service(scenario: Scenario, item: Expected, capability: str) -> str:
    service = item.service or default_service(scenario, capability)
    assert service is not None  # checked by plan_scenario
    return service
