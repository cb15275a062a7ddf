"""The engine's pure helpers: which image, which timeouts, which container name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envctl.engine import container_name
from envctl.environment import resolve_image
from envctl.scenario import Scenario
from envctl.scenario.timeouts import resolve_timeouts
from envctl.services.base import PhaseTimeouts
from envctl.services.kafka.plugin import APACHE_IMAGE, KafkaService
from envctl.settings import Settings

DEFAULTS = PhaseTimeouts(startup=60, health_check=90, setup=30, seed=120, publish_ack=10)


def scenario(**services: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(
        {"name": "s", "external_services": {n: {"type": "kafka", **s} for n, s in services.items()}}
    )


def settings(tmp_path: Path, **environ: str) -> Settings:
    return Settings.load(environ=environ, cwd=tmp_path)


def test_image_default(tmp_path: Path) -> None:
    spec = scenario(kafka={}).external_services["kafka"]
    assert resolve_image(spec, APACHE_IMAGE, settings(tmp_path)) == (APACHE_IMAGE, "default")
    assert resolve_image(spec, APACHE_IMAGE, None) == (APACHE_IMAGE, "default")


def test_image_from_scenario_beats_default(tmp_path: Path) -> None:
    spec = scenario(kafka={"image": "my/kafka:1"}).external_services["kafka"]
    assert resolve_image(spec, APACHE_IMAGE, settings(tmp_path)) == ("my/kafka:1", "scenario")


def test_image_override_beats_scenario(tmp_path: Path) -> None:
    spec = scenario(kafka={"image": "my/kafka:1"}).external_services["kafka"]
    chosen = resolve_image(
        spec, APACHE_IMAGE, settings(tmp_path, ENVCTL_IMAGE_KAFKA="envctl-test/kafka:tansu")
    )
    assert chosen == ("envctl-test/kafka:tansu", "ENVCTL_IMAGE_KAFKA")


def test_image_override_of_another_type_is_ignored(tmp_path: Path) -> None:
    spec = scenario(kafka={"image": "my/kafka:1"}).external_services["kafka"]
    chosen = resolve_image(spec, APACHE_IMAGE, settings(tmp_path, ENVCTL_IMAGE_REDIS="r:7"))
    assert chosen == ("my/kafka:1", "scenario")


def test_timeouts_are_type_defaults_without_profile() -> None:
    assert resolve_timeouts(scenario(kafka={}), "kafka", DEFAULTS, None) == DEFAULTS


def test_timeouts_profile_by_type_fills_unset_phases_from_defaults() -> None:
    s = Scenario.model_validate(
        {
            "name": "t",
            "external_services": {"broker": {"type": "kafka"}},
            "timeout_profiles": {"kafka": {"health_check": 5}},
        }
    )
    assert resolve_timeouts(s, "broker", DEFAULTS, None) == PhaseTimeouts(
        startup=60, health_check=5, setup=30, seed=120, publish_ack=10
    )


def test_timeouts_profile_by_name_beats_profile_by_type() -> None:
    s = Scenario.model_validate(
        {
            "name": "t",
            "external_services": {"broker": {"type": "kafka"}, "other": {"type": "kafka"}},
            "timeout_profiles": {
                "kafka": {"health_check": 5, "setup": 3},
                "broker": {"health_check": 7},
            },
        }
    )
    by_name = resolve_timeouts(s, "broker", DEFAULTS, None)
    by_type = resolve_timeouts(s, "other", DEFAULTS, None)
    # The name's profile replaces the type's profile: phases it leaves unset use the defaults.
    assert (by_name.health_check, by_name.setup) == (7, 30)
    assert (by_type.health_check, by_type.setup) == (5, 3)


def test_timeouts_are_scaled(tmp_path: Path) -> None:
    s = Scenario.model_validate(
        {
            "name": "t",
            "external_services": {"kafka": {"type": "kafka"}},
            "timeout_profiles": {"kafka": {"health_check": 5}},
        }
    )
    timeouts = resolve_timeouts(s, "kafka", DEFAULTS, settings(tmp_path, ENVCTL_TIMEOUT_SCALE="2"))
    assert timeouts == PhaseTimeouts(
        startup=120, health_check=10, setup=60, seed=240, publish_ack=20
    )


def test_kafka_type_defaults_are_used(tmp_path: Path) -> None:
    timeouts = resolve_timeouts(
        scenario(kafka={}), "kafka", KafkaService.default_timeouts, settings(tmp_path)
    )
    assert timeouts == KafkaService.default_timeouts
    assert (timeouts.startup, timeouts.health_check, timeouts.publish_ack) == (60, 90, 10)


@pytest.mark.parametrize(
    ("scenario_name", "expected"),
    [
        ("kafka_real_basic", "envctl-kafka_real_basic-kafka-ab12cd34"),
        ("my scenario!", "envctl-my-scenario-kafka-ab12cd34"),
        ("v1.2", "envctl-v1.2-kafka-ab12cd34"),
        ("-weird-", "envctl-weird-kafka-ab12cd34"),
        ("!!!", "envctl-scenario-kafka-ab12cd34"),
    ],
)
def test_container_name(scenario_name: str, expected: str) -> None:
    assert container_name(scenario_name, "kafka", "ab12cd34") == expected
