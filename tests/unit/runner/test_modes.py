"""Dependency mode resolution: precedence, sources, per-service overrides, invalid values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from envctl.errors import ConfigError
from envctl.runner.modes import resolve_modes
from envctl.scenario import Scenario

BASE = """
name: m
{mode}
external_services:
  kafka: {{type: kafka}}
  db:
    type: postgres
    {override}
"""


def _scenario(load_text: Callable[..., Scenario], mode: str = "", override: str = "") -> Scenario:
    return load_text(BASE.format(mode=mode, override=override))


def test_default_is_mock(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(_scenario(load_text))
    assert decision.mode.value == "mock"
    assert decision.source == "default"
    assert decision.label == "mock"


def test_scenario_mode(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(_scenario(load_text, "dependency_mode: real"))
    assert (decision.mode.value, decision.source) == ("real", "dependency_mode")
    assert decision.real_services() == ["kafka", "db"]


def test_environment_beats_scenario(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(
        _scenario(load_text, "dependency_mode: real"),
        environ={"ENVCTL_DEPENDENCY_MODE": "MOCK"},
    )
    assert (decision.mode.value, decision.source) == ("mock", "ENVCTL_DEPENDENCY_MODE")


def test_force_beats_environment(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(
        _scenario(load_text, "dependency_mode: mock"),
        force="real",
        environ={"ENVCTL_DEPENDENCY_MODE": "mock"},
    )
    assert (decision.mode.value, decision.source) == ("real", "--force-dependency-mode")


def test_per_service_override_makes_a_mixed_scenario(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(_scenario(load_text, "dependency_mode: real", "dependency_mode: mock"))
    assert decision.label == "mixed"
    assert decision.services["db"].source == "external_services.db.dependency_mode"
    assert decision.mock_services() == ["db"]
    assert decision.to_dict()["services"]["kafka"] == {"mode": "real", "source": "dependency_mode"}


def test_force_wins_over_per_service_override(load_text: Callable[..., Scenario]) -> None:
    decision = resolve_modes(
        _scenario(load_text, "dependency_mode: real", "dependency_mode: mock"), force="real"
    )
    assert decision.label == "real"


@pytest.mark.parametrize(
    ("force", "environ", "where"),
    [
        ("fake", {}, "--force-dependency-mode"),
        (None, {"ENVCTL_DEPENDENCY_MODE": "docker"}, "ENVCTL_DEPENDENCY_MODE"),
    ],
)
def test_invalid_mode_lists_the_valid_ones(
    load_text: Callable[..., Scenario], force: str | None, environ: dict[str, str], where: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_modes(_scenario(load_text), force=force, environ=environ)
    assert where in str(info.value)
    assert "valid: real, mock" in str(info.value)


def test_fallback_needs_an_optional_service(problems_of: Callable[..., list[str]]) -> None:
    lines = problems_of(
        """
        name: f
        external_services:
          cache: {type: redis, fallback: mock}
        """
    )
    assert any("fallback: mock applies to optional services only" in line for line in lines)
