"""Steps and expected: validated before anything runs, with file and line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from envctl.errors import ConfigError
from envctl.scenario import Scenario
from envctl.scenario.plan import plan_scenario


def _problems(load_text: Callable[..., Scenario], text: str) -> list[str]:
    # The loader checks steps and expected: (so `validate` refuses what `run` would).
    with pytest.raises(ConfigError) as info:
        load_text(text)
    return str(info.value).splitlines()


def test_steps_get_their_lines_and_default_services(load_text: Callable[..., Scenario]) -> None:
    plan = plan_scenario(
        load_text(
            """
            name: p
            external_services:
              kafka: {type: kafka}
            steps:
              - publish: {topic: t, value: 1}
              - sleep: 0.1
              - expect_message: {topic: t, match: {value: 1}}
            """
        )
    )
    assert [s.kind for s in plan.steps] == ["publish", "sleep", "expect_message"]
    assert [s.line for s in plan.steps] == [5, 6, 7]
    assert plan.steps[0].service == "kafka"
    assert plan.steps[0].label == "step 0 (publish, " + plan.steps[0].file + ":5)"


def test_misspelt_step_key_has_a_hint(load_text: Callable[..., Scenario]) -> None:
    lines = _problems(
        load_text,
        """
        name: p
        external_services:
          kafka: {type: kafka}
        steps:
          - publish: {topc: t}
        """,
    )
    assert any(":5: steps[0].publish.topc: unknown key — did you mean 'topic'?" in x for x in lines)
    assert any(":5: steps[0].publish.topic: required key is missing" in x for x in lines)


def test_missing_and_ambiguous_services(load_text: Callable[..., Scenario]) -> None:
    lines = _problems(
        load_text,
        """
        name: p
        external_services:
          a: {type: postgres}
          b: {type: postgres}
        steps:
          - publish: {topic: t}
          - sql: {query: "SELECT 1"}
          - redis: {service: kafak, command: [GET, x]}
        """,
    )
    text = "\n".join(lines)
    assert "steps[0].publish: needs a kafka service; the scenario has none" in text
    assert "steps[1].sql: needs a mysql or postgres service; the scenario has 2, name one" in text
    assert "steps[2].redis.service: service 'kafak' is not defined" in text


def test_wrong_service_type_and_duplicate_ids(load_text: Callable[..., Scenario]) -> None:
    lines = _problems(
        load_text,
        """
        name: p
        external_services:
          kafka: {type: kafka}
          db: {type: postgres}
        steps:
          - sql: {id: a, service: kafka, query: "SELECT 1"}
          - sleep: {id: a, seconds: 0}
        """,
    )
    text = "\n".join(lines)
    assert "'kafka' is a kafka service; sql needs a mysql or postgres service" in text
    assert "id 'a' is used twice" in text


def test_expected_is_validated(load_text: Callable[..., Scenario]) -> None:
    lines = _problems(
        load_text,
        """
        name: p
        external_services:
          kafka: {type: kafka}
        expected:
          messages: {t: -1}
        """,
    )
    assert ":5: expected.messages.t.equals: must be at least 0, not -1" in lines[0]
    lines = _problems(
        load_text,
        """
        name: p
        external_services:
          kafka: {type: kafka}
        expected:
          rows: {t: 1}
        """,
    )
    assert "expected.rows: needs a mysql or postgres service" in lines[0]


def test_expected_list_form(load_text: Callable[..., Scenario]) -> None:
    plan = plan_scenario(
        load_text(
            """
            name: p
            external_services:
              kafka: {type: kafka}
              cache: {type: redis}
            expected:
              - messages: {t: {at_least: 1, at_most: 3}}
              - {service: cache, keys: {k: v, gone: {exists: false}}}
            """
        )
    )
    assert plan.expected[0].messages["t"].accepts(2)
    assert not plan.expected[0].messages["t"].accepts(4)
    assert plan.expected[1].keys["gone"].exists is False
