"""Issue 10 §4: a failed real run names topics by their scenario (logical) name with the
physical one beside it (``'orders' (envctl.<run>.orders)``); a mock run by the logical
name alone. The same scenario runs in both modes."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support import run_envctl

SCENARIO = """
name: {name}
dependency_mode: real
external_services:
  kafka: {{type: kafka, topics: [orders]}}
steps:
{steps}
"""

CASES = {
    "expect_message timeout": (
        """
  - publish: {topic: orders, key: "1", value: {id: 1}}
  - expect_message: {topic: orders, match: {value.id: 2}, within: 1}
""",
        1,
        "service 'kafka', topic {orders}: expected a message matching",
    ),
    "publish to an undeclared topic": (
        """
  - publish: {topic: nothere, key: "1", value: {id: 1}}
""",
        0,
        "topic {nothere} does not exist",
    ),
}


def _outcome(result: Any) -> dict[str, Any]:
    assert result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize("mode", ["real", "mock"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_step_names_the_topic_logically_and_physically_for_real(
    case: str, mode: str, tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    steps, failing, expected = CASES[case]
    name = f"names_{case.split()[0]}"
    (tmp_path / f"scenario_{name}.yaml").write_text(
        textwrap.dedent(SCENARIO.format(name=name, steps=steps.strip("\n")))
    )
    args = ("--scenarios-dir", str(tmp_path), "run", "-s", name, "--json")
    result = run_envctl(*args, "--force-dependency-mode", mode, env=test_env)
    assert result.returncode == 1, result.stderr
    outcome = _outcome(result)
    step = outcome["steps"][failing]
    assert step["status"] == "failed"
    run = outcome["run_id"]

    def show(topic: str) -> str:
        return f"'{topic}' (envctl.{run}.{topic})" if mode == "real" else f"'{topic}'"

    wanted = expected.format(orders=show("orders"), nothere=show("nothere"))
    assert wanted in outcome["reason"], outcome["reason"]
    if mode == "mock":
        assert f"envctl.{run}." not in outcome["reason"]
