"""docs/faults.md: its examples are real files, and they do what the page says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from doc_examples import REPO, check_doc, commands

from envctl.cli import cli
from envctl.errors import ConfigError
from envctl.faults.models import FAULT_KINDS, FaultSpec
from envctl.scenario import load_scenario
from envctl.scenario.plan import plan_scenario

DOC = REPO / "docs" / "faults.md"
EXAMPLES = REPO / "docs" / "examples" / "faults"


def test_every_block_shows_its_file() -> None:
    files = check_doc(DOC)
    assert EXAMPLES / "commands.sh" in files
    assert len(files) == 6


def test_the_timeline_example_validates() -> None:
    data = yaml.safe_load((EXAMPLES / "timeline.yaml").read_text())
    faults = [FaultSpec.model_validate(item) for item in data["faults"]]
    assert {f.kind for f in faults} <= set(FAULT_KINDS)
    assert len(faults) == 5


@pytest.mark.parametrize(
    "name",
    ["faults_redis_latency", "faults_paused_postgres", "faults_broker_restart"],
)
def test_the_example_scenarios_plan(name: str) -> None:
    path = REPO / "scenarios" / "mixed" / f"scenario_{name}.yaml"
    plan = plan_scenario(load_scenario(path, {}))
    assert plan.faults or any(step.kind == "fault" for step in plan.steps)


def test_the_error_example_is_what_the_planner_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    with pytest.raises(ConfigError) as info:
        plan_scenario(load_scenario(Path("scenario_broken.yaml"), {}))
    assert str(info.value) + "\n" == (EXAMPLES / "errors.txt").read_text()


def test_the_commands_exist_with_their_options() -> None:
    for words in commands(EXAMPLES / "commands.sh"):
        command = cli.get_command(None, words[0])  # type: ignore[arg-type]
        assert command is not None, words
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        for word in words[1:]:
            if word.startswith("--"):
                assert word in options, (words[0], word)
