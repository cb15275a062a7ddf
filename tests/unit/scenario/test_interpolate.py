"""``${VAR}`` interpolation, alone and through the loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.scenario import Scenario
from envctl.scenario.interpolate import InterpolationError, interpolate


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        pytest.param("${VAR}", {"VAR": "v"}, "v", id="plain"),
        pytest.param("a-${VAR}-b", {"VAR": "v"}, "a-v-b", id="inside-text"),
        pytest.param("${A}${B}", {"A": "1", "B": "2"}, "12", id="two-vars"),
        pytest.param("${VAR}", {"VAR": ""}, "", id="set-but-empty"),
        pytest.param("${VAR:-d}", {}, "d", id="colon-dash-unset"),
        pytest.param("${VAR:-d}", {"VAR": ""}, "d", id="colon-dash-empty"),
        pytest.param("${VAR:-d}", {"VAR": "v"}, "v", id="colon-dash-set"),
        pytest.param("${VAR:-}", {}, "", id="colon-dash-empty-default"),
        pytest.param("${VAR:-a b:c}", {}, "a b:c", id="default-with-spaces-and-colon"),
        pytest.param("${VAR-d}", {}, "d", id="dash-unset"),
        pytest.param("${VAR-d}", {"VAR": ""}, "", id="dash-empty-keeps-empty"),
        pytest.param("${VAR-d}", {"VAR": "v"}, "v", id="dash-set"),
        pytest.param("${VAR:?msg}", {"VAR": "v"}, "v", id="colon-question-set"),
        pytest.param("${VAR?msg}", {"VAR": ""}, "", id="question-empty-is-set"),
        pytest.param("$$", {}, "$", id="escaped-dollar"),
        pytest.param("$${VAR}", {"VAR": "v"}, "${VAR}", id="escaped-reference"),
        pytest.param("price: 5$", {}, "price: 5$", id="lone-dollar"),
        pytest.param("$VAR", {"VAR": "v"}, "$VAR", id="no-braces-left-alone"),
        pytest.param("${run.id}", {}, "${run.id}", id="dotted-name-left-alone"),
        pytest.param(
            "${services.kafka.bootstrap_servers}",
            {"services": "x"},
            "${services.kafka.bootstrap_servers}",
            id="dotted-path-left-alone",
        ),
        pytest.param("${run.id}-${VAR}", {"VAR": "v"}, "${run.id}-v", id="dotted-and-plain"),
        pytest.param("no variables", {}, "no variables", id="plain-text"),
    ],
)
def test_interpolate(text: str, environ: dict[str, str], expected: str) -> None:
    assert interpolate(text, environ) == expected


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        pytest.param(
            "${VAR}",
            {},
            "environment variable VAR is not set; set it or write ${VAR:-default}",
            id="unset",
        ),
        pytest.param(
            "${VAR:?give the broker address}",
            {},
            "environment variable VAR is not set: give the broker address",
            id="colon-question-unset",
        ),
        pytest.param(
            "${VAR:?give it}",
            {"VAR": ""},
            "environment variable VAR is not set: give it",
            id="colon-question-empty",
        ),
        pytest.param(
            "${VAR?give it}",
            {},
            "environment variable VAR is not set: give it",
            id="question-unset",
        ),
        pytest.param(
            "${VAR:?}",
            {},
            "environment variable VAR is required but not set",
            id="question-without-message",
        ),
    ],
)
def test_interpolate_errors(text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(InterpolationError) as info:
        interpolate(text, environ)
    assert str(info.value) == message


def test_interpolation_error_is_a_value_error() -> None:
    assert issubclass(InterpolationError, ValueError)


def test_loader_interpolates_values_before_validation(
    load_text: Callable[..., Scenario],
) -> None:
    scenario = load_text(
        """
        name: ${NAME:-fallback}
        dependency_mode: ${MODE}
        external_services:
          kafka:
            type: kafka
            image: ${REGISTRY}/apache/kafka:3.9.0
            env:
              RUN: ${run.id}
              PRICE: $$5
            topics:
              - name: ${TOPIC-orders}
                partitions: ${PARTITIONS:-3}
        """,
        {"MODE": "real", "REGISTRY": "mirror.local", "PARTITIONS": ""},
    )
    kafka = scenario.external_services["kafka"]
    assert scenario.name == "fallback"
    assert scenario.dependency_mode.value == "real"
    assert kafka.image == "mirror.local/apache/kafka:3.9.0"
    assert kafka.env == {"RUN": "${run.id}", "PRICE": "$5"}
    assert kafka.topics[0].name == "orders"
    assert kafka.topics[0].partitions == 3


def test_loader_reports_unset_variable_at_its_line_and_key(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    lines = problems_of(
        """
        name: x
        description: ${DESC:?say what this scenario does}
        external_services:
          kafka:
            type: kafka
            env:
              BROKER: ${BROKER}
        """
    )
    f = f"{tmp_path}/s.yaml"
    assert lines == [
        f"{f}:2: description: environment variable DESC is not set: say what this scenario does",
        f"{f}:7: external_services.kafka.env.BROKER: environment variable BROKER is not set;"
        " set it or write ${BROKER:-default}",
    ]


def test_loader_reports_unset_variable_in_a_list_item(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    lines = problems_of(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            depends_on: []
            ports:
              - "${KAFKA_PORT}"
        """
    )
    assert lines[0] == (
        f"{tmp_path}/s.yaml:7: external_services.kafka.ports[0]: environment variable"
        " KAFKA_PORT is not set; set it or write ${KAFKA_PORT:-default}"
    )


def test_loader_uses_only_the_environ_it_is_given(
    load_text: Callable[..., Scenario], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVCTL_TEST_ONLY_IN_OS", "from-os")
    scenario = load_text("name: x\ndescription: ${ENVCTL_TEST_ONLY_IN_OS:-default}\n", {})
    assert scenario.description == "default"


def test_unset_variable_is_reported_once(problems_of: Callable[..., list[str]]) -> None:
    lines = problems_of(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            ports: ["${KAFKA_PORT}"]
        """
    )
    assert len(lines) == 1
