"""JSON results: ``result.json`` of a run-all (read by ``envctl compare``) and ``run --json``.

``result.json`` is ``{run_id, profile, scenarios: {name: {status, seconds, reason?}}}``;
each scenario also carries its own ``run_id`` (its audit log) and ``dependency_mode``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envctl.runner.outcome import ScenarioOutcome


def results_json(
    run_id: str, profile: str, outcomes: Sequence[ScenarioOutcome], **extra: Any
) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    for outcome in outcomes:
        entry: dict[str, Any] = {"status": outcome.status, "seconds": round(outcome.seconds, 3)}
        if outcome.reason:
            entry["reason"] = outcome.reason
        entry["run_id"] = outcome.run_id
        entry["dependency_mode"] = outcome.mode_label
        if outcome.category:
            entry["category"] = outcome.category
        if outcome.shared_with:
            entry["shared_instance"] = outcome.shared_with
        scenarios[outcome.name] = entry
    return {"run_id": run_id, "profile": profile, "scenarios": scenarios, **extra}


def write_results(path: Path, data: dict[str, Any]) -> None:
    """Write the results JSON (through a symlink, never replacing a device; see
    :func:`~envctl.report.output.write_output`)."""
    from envctl.report.output import write_output

    write_output(path, json.dumps(data, indent=2) + "\n")
