"""Run records on disk: where they live, and that a record rebuilds the scenario."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envctl.environment import (
    Environment,
    ServiceState,
    environment_from_record,
    find_records,
    forget_run,
    one_record,
    record_run,
)
from envctl.report.run_folder import RECORD_FILE, state_dir
from envctl.scenario import load_scenario, scenario_files
from envctl.services.base import ServiceHandle
from envctl.settings import Settings

REPO = Path(__file__).resolve().parents[3]


def test_state_dir_precedence(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert state_dir(settings) == tmp_path / ".envctl"
    (tmp_path / "envctl.yaml").write_text("scenarios_dir: s\n")
    (tmp_path / "sub").mkdir()
    assert state_dir(Settings.load(environ={}, cwd=tmp_path / "sub")) == tmp_path / ".envctl"
    explicit = Settings.load(environ={"ENVCTL_STATE_DIR": "state"}, cwd=tmp_path)
    assert state_dir(explicit) == tmp_path / "state"


@pytest.mark.parametrize("path", scenario_files(REPO / "scenarios"), ids=lambda p: p.name)
def test_record_round_trips_every_shipped_scenario(tmp_path: Path, path: Path) -> None:
    scenario = load_scenario(path, {}, root=REPO / "scenarios")
    states = {
        name: ServiceState(
            name=name,
            type=spec.type,
            mode=spec.mode.value,
            status="ready",
            handle=ServiceHandle(
                name, {"host": "127.0.0.1", "_secret": "x"}, resources={"topics": ["t"]}
            ),
        )
        for name, spec in scenario.external_services.items()
    }
    env = Environment("r1", scenario, "net", states)
    env.run_dir = tmp_path / "runs" / "r1"
    assert record_run(env) is None
    record = json.loads((env.run_dir / RECORD_FILE).read_text())
    assert "_secret" not in json.dumps(record)  # secrets stay in memory
    assert (env.run_dir / RECORD_FILE).stat().st_mode & 0o777 == 0o600
    settings = Settings.load(environ={"ENVCTL_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    (found,) = find_records(settings, scenario=scenario.name)
    rebuilt = environment_from_record(found, settings)
    # Equal as data; where each step was written (the loader's lines) is not recorded.
    assert rebuilt.scenario.model_dump() == scenario.model_dump()
    assert rebuilt.scenario.root == (REPO / "scenarios").resolve()
    assert set(rebuilt.services) == set(states)
    for state in rebuilt.services.values():
        assert state.handle is not None and state.handle.resources == {"topics": ["t"]}


def test_one_record_needs_exactly_one_run(tmp_path: Path) -> None:
    settings = Settings.load(environ={"ENVCTL_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    with pytest.raises(Exception, match="no record of run 'x'"):
        one_record(settings, run_id="x", scenario=None)
    with pytest.raises(Exception, match="exactly one of --run-id"):
        one_record(settings, run_id=None, scenario=None)


def test_forget_keeps_the_folder_while_it_holds_anything_else(tmp_path: Path) -> None:
    run_dir = tmp_path / "r1"
    run_dir.mkdir()
    (run_dir / RECORD_FILE).write_text("{}")
    (run_dir / "audit.jsonl").write_text("")
    forget_run(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["audit.jsonl"]
    (run_dir / "audit.jsonl").unlink()
    (run_dir / RECORD_FILE).write_text("{}")
    forget_run(run_dir)
    assert not run_dir.exists()
