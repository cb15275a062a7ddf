"""Replay a recorded run: the same scenario and the recorded steps, against a fresh
environment (or mocks), and where the outcome differs from the recording.

The steps come from the audit log as they were written (placeholders unresolved), so
``${run.id}`` and endpoints take the new run's values. By default each service keeps the
mode it had in the recording; ``--force-dependency-mode`` changes that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.errors import ConfigError
from envctl.report.audit import RecordedRun, jsonable, read_run
from envctl.report.run_folder import RESULT_FILE
from envctl.runner.modes import ModeChoice, ModeDecision, resolve_modes
from envctl.runner.outcome import ScenarioOutcome
from envctl.runner.run import Runner
from envctl.scenario import find_scenario
from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode

VOLATILE_OUTPUTS = {"offset", "partition", "correlation_id", "timestamp", "messages", "matched"}
"""Outputs that legitimately differ between runs; not compared."""


@dataclass
class Difference:
    where: str
    recorded: Any
    replayed: Any

    def __str__(self) -> str:
        if self.recorded is NOT_RECORDED:
            return f"{self.where}: not reached in the recorded run, now {self.replayed!r}"
        return f"{self.where}: recorded {self.recorded!r}, now {self.replayed!r}"


NOT_RECORDED: Any = object()
"""A step the recorded run never reached (it ended before it)."""


@dataclass
class ReplayResult:
    recorded: RecordedRun
    outcome: ScenarioOutcome
    differences: list[Difference] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "replay_of": self.recorded.run_id,
            "run_id": self.outcome.run_id,
            "same": self.same,
            "recorded_status": _recorded_status(self.recorded),
            "status": self.outcome.status,
            "differences": [
                {"where": d.where, "recorded": d.recorded, "replayed": d.replayed}
                for d in self.differences
            ],
            "outcome": self.outcome.to_dict(),
        }


def _recorded_status(run: RecordedRun) -> str | None:
    end = run.first("run.end")
    return end.get("status") if end else None


def _scenario_of(run: RecordedRun, runner: Runner) -> Scenario:
    start = run.first("run.start")
    if start is None:
        if (run.directory / RESULT_FILE).is_file():
            raise ConfigError(
                f"run '{run.run_id}' is a run-all of several scenarios; replay one of them by "
                f"its own run id (listed in {run.directory / RESULT_FILE})"
            )
        raise ConfigError(
            f"run '{run.run_id}' recorded no scenario start (its audit log is empty or cut "
            "short); it cannot be replayed"
        )
    source = start.get("source")
    settings = runner.settings
    if source and Path(source).is_file():
        return settings.load_scenario(source)
    return settings.load_scenario(find_scenario(settings.scenarios_dir, start["scenario"]))


def _recorded_modes(run: RecordedRun, scenario: Scenario) -> ModeDecision | None:
    decision = run.first("decision.mode")
    if decision is None:
        return None
    services = {
        name: ModeChoice(DependencyMode(info["mode"]), f"replay ({info['source']})")
        for name, info in decision.get("services", {}).items()
        if name in scenario.external_services
    }
    for fallback in run.of_kind("decision.fallback"):
        services.pop(fallback["service"], None)  # it gets a fresh chance to start
    top = DependencyMode(decision["mode"])
    for name in scenario.external_services:
        services.setdefault(name, ModeChoice(top, "replay"))
    return ModeDecision(top, f"replay of {run.run_id}", services)


def replay(runner: Runner, run_id: str, *, force_mode: str | None = None) -> ReplayResult:
    recorded = read_run(runner.runs_root, run_id)
    scenario = _scenario_of(recorded, runner)
    start = recorded.first("run.start") or {}
    steps = start.get("steps")
    if not isinstance(steps, list):
        steps = None
    modes = (
        resolve_modes(scenario, force=force_mode, environ={})
        if force_mode is not None
        else _recorded_modes(recorded, scenario)
    )
    outcome = runner.run(scenario, modes=modes, steps=steps, replay_of=run_id)
    return ReplayResult(recorded, outcome, compare(recorded, outcome))


def compare(recorded: RecordedRun, outcome: ScenarioOutcome) -> list[Difference]:
    differences: list[Difference] = []
    status = _recorded_status(recorded)
    if status != outcome.status:
        differences.append(Difference("status", status, outcome.status))
    old_steps = {e["index"]: e for e in recorded.of_kind("step")}
    for step in outcome.steps:
        old = old_steps.get(step.index)
        label = step.label
        if old is None:
            differences.append(Difference(label, NOT_RECORDED, step.status))
            continue
        if old.get("status") != step.status:
            detail_old = str(old.get("status")) + (f" ({old['error']})" if old.get("error") else "")
            detail_new = step.status + (f" ({step.error})" if step.error else "")
            differences.append(Difference(label, detail_old, detail_new))
            continue
        old_out = _stable(old.get("outputs", {}), recorded.run_id)
        new_out = _stable(_as_json(step.outputs), outcome.run_id)
        if old_out != new_out:
            differences.append(Difference(f"{label} outputs", old_out, new_out))
    old_expect = {e["what"]: e["status"] for e in recorded.of_kind("expectation")}
    for item in outcome.expectations:
        before = old_expect.get(item["what"])
        if before is not None and before != item["status"]:
            differences.append(Difference(f"expected {item['what']}", before, item["status"]))
    return differences


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(jsonable(value), default=str))


def _stable(outputs: Any, run_id: str) -> Any:
    """Outputs without what differs between any two runs (offsets, the run id)."""
    if isinstance(outputs, dict):
        return {k: _stable(v, run_id) for k, v in outputs.items() if k not in VOLATILE_OUTPUTS}
    if isinstance(outputs, list):
        return [_stable(v, run_id) for v in outputs]
    if isinstance(outputs, str):
        return outputs.replace(run_id, "<run-id>")
    return outputs
