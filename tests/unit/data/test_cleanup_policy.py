"""cleanup_after as a decision: what a finished run removes and keeps (no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from envctl.cleanup import KINDS, KeptReport, KeptResource, plan, removal
from envctl.scenario.models import Scenario
from envctl.scenario.spec import CleanupMap

DATA_KINDS = {
    "kafka": ("topics", "consumer_groups"),
    "db": ("databases",),
    "cache": ("databases",),
    "app": (),
}


def scenario(cleanup: Any, **services: Any) -> Scenario:
    specs: dict[str, Any] = {
        "kafka": {"type": "kafka"},
        "db": {"type": "postgres"},
        "cache": {"type": "redis"},
        "app": {"type": "generic", "image": "x"},
    }
    for name, override in services.items():
        specs[name] = {**specs[name], "cleanup_after": override}
    return Scenario.model_validate(
        {"name": "s", "cleanup_after": cleanup, "external_services": specs}
    )


@pytest.mark.parametrize(
    ("setting", "passed", "removed"),
    [
        (True, True, True),
        (True, False, True),
        (False, True, False),
        (False, False, False),
        ("on_success", True, True),
        ("on_success", False, False),
    ],
)
def test_plain_settings_apply_to_every_kind(setting: Any, passed: bool, removed: bool) -> None:
    assert removal(setting, passed) == dict.fromkeys(KINDS, removed)


def test_a_map_decides_per_kind() -> None:
    setting = CleanupMap(topics=False, consumer_groups="on_success", volumes=False)
    assert removal(setting, passed=False) == {
        "containers": True,
        "topics": False,
        "consumer_groups": False,
        "databases": True,
        "volumes": False,
    }
    assert removal(setting, passed=True)["consumer_groups"] is True


def test_kept_data_keeps_its_container_with_a_note() -> None:
    plans = plan(scenario({"topics": False}), False, DATA_KINDS, {"kafka", "db", "cache", "app"})
    kafka = plans["kafka"]
    assert kafka.keep_data == ("topics",)
    assert kafka.remove_data == ("consumer_groups",)
    assert kafka.keep_container
    assert kafka.note == "container kept: its topics are kept and live in it"
    assert not plans["db"].keep_container and plans["db"].remove_volumes
    assert not plans["app"].keep_container


def test_external_services_keep_or_remove_data_only() -> None:
    plans = plan(scenario(False), True, DATA_KINDS, docker=set())
    assert plans["db"].keep_data == ("databases",)
    assert not plans["db"].keep_container and not plans["db"].docker
    plans = plan(scenario(True), True, DATA_KINDS, docker=set())
    assert plans["kafka"].remove_data == ("topics", "consumer_groups")


def test_a_service_overrides_the_scenario() -> None:
    plans = plan(
        scenario(True, cache=False, db="on_success"), False, DATA_KINDS, {"kafka", "db", "cache"}
    )
    assert not plans["kafka"].keep_container
    assert plans["cache"].keep_container and plans["cache"].keep_data == ("databases",)
    assert plans["db"].keep_container  # on_success and the run failed


def test_containers_kept_while_data_is_removed() -> None:
    plans = plan(scenario({"containers": False}), True, DATA_KINDS, {"kafka"})
    assert plans["kafka"].keep_container
    assert plans["kafka"].remove_data == ("topics", "consumer_groups")
    assert plans["kafka"].note is None


def test_volumes_kept_when_their_container_goes() -> None:
    plans = plan(scenario({"volumes": False}), True, DATA_KINDS, {"app"})
    assert not plans["app"].keep_container and not plans["app"].remove_volumes


def test_report_says_what_was_kept_and_how_to_remove_it() -> None:
    report = KeptReport("r1", "s", passed=False)
    assert str(report) == "run r1 (s) failed: everything removed"
    report.kept.append(KeptResource("db", "databases", ["envctl_r1_envctl"], "psql 'x'"))
    text = str(report)
    assert "kept for inspection:" in text
    assert "db: databases envctl_r1_envctl — psql 'x'" in text
    assert text.endswith("remove with: envctl down --run-id r1")
    assert report.to_dict()["remove_with"] == "envctl down --run-id r1"
