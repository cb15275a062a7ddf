"""Run records are readable by the version that wrote them; `down` works without them
(issue 10 §3b)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envctl.cleanup import remove_recorded
from envctl.environment import Environment, find_records, record_data
from envctl.scenario import load_scenario
from envctl.scenario.models import Scenario
from envctl.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def round_trip(scenario: Scenario) -> Scenario:
    env = Environment("r1", scenario, None, {}, None)
    data = json.loads(json.dumps(record_data(env), default=str))
    return Scenario.model_validate(data["scenario_model"])


def test_a_cloud_postgres_record_validates() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "cloudy",
            "dependency_mode": "real",
            "external_services": {
                "pg": {"type": "postgres", "mode": "cloud", "url": "postgresql://u@127.0.0.1:9/db"}
            },
        }
    )
    assert round_trip(scenario) == scenario


@pytest.mark.parametrize(
    "path", sorted(p for p in (REPO / "scenarios").rglob("scenario_*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_scenario_survives_its_record(path: Path) -> None:
    scenario = load_scenario(path)
    assert round_trip(scenario).model_dump() == scenario.model_dump()


def test_down_goes_on_when_a_record_no_longer_validates(tmp_path: Path) -> None:
    settings = Settings.load(environ={"ENVCTL_STATE_DIR": str(tmp_path)}, cwd=tmp_path)
    folder = tmp_path / "runs" / "old1"
    folder.mkdir(parents=True)
    bad_model = {"name": "x", "external_services": {"k": {"type": "kafka", "bogus": 1}}}
    record = {
        "run_id": "old1",
        "scenario": "x",
        "scenario_model": bad_model,
        "services": {"k": {"type": "kafka", "mode": "docker", "container": "c"}},
    }
    (folder / "environment.json").write_text(json.dumps(record))
    done, errors = remove_recorded(settings, run_id="old1")
    assert (done, errors) == ([], [])
    assert find_records(settings, run_id="old1") == []


def test_records_keep_their_labels_and_down_all_takes_only_its_own(tmp_path: Path) -> None:
    """`down --all` under ENVCTL_LABELS forgets only records made with those labels."""
    scenario = Scenario.model_validate({"name": "s", "external_services": {}})
    for run_id, user in (("runa", "a"), ("runb", "b"), ("runold", None)):
        env = Environment(run_id, scenario, None, {}, None)
        env.labels = {"team": user} if user else {}
        folder = tmp_path / "runs" / run_id
        folder.mkdir(parents=True)
        (folder / "environment.json").write_text(json.dumps(record_data(env), default=str))

    def settings(labels: str) -> Settings:
        environ = {"ENVCTL_STATE_DIR": str(tmp_path), "ENVCTL_LABELS": labels}
        return Settings.load(environ=environ, cwd=tmp_path)

    assert [r.run_id for r in find_records(settings(""))] == ["runa", "runb", "runold"]
    assert [r.labels for r in find_records(settings(""), labels={"team": "b"})] == [{"team": "b"}]
    assert remove_recorded(settings("team=a"), everything=True) == ([], [])
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["runb", "runold"]
    # a run id names one run exactly, whatever the labels
    assert [r.run_id for r in find_records(settings(""), run_id="runb", labels={"team": "a"})] == [
        "runb"
    ]
