"""Environment profiles: overlays change exactly what they say, on raw scenario data."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from doc_examples import EXAMPLES, REPO, check_doc, commands

from envctl.errors import ConfigError
from envctl.profiles import (
    Profile,
    apply_profile,
    apply_profile_to_scenario,
    known_profiles,
    profile_changes,
    profile_names,
)
from envctl.scenario import Scenario
from envctl.scenario.spec import service_variable
from envctl.scenario.timeouts import resolve_timeouts
from envctl.services.registry import plugin_for
from envctl.settings import ProjectConfig, Settings

PROFILES_EXAMPLE = EXAMPLES / "profiles"

RAW: dict[str, Any] = {
    "name": "orders",
    "dependency_mode": "real",
    "external_services": {
        "kafka": {"type": "kafka", "topics": ["orders"]},
        "events": {"type": "kafka"},
        "db": {"type": "postgres", "database": "orders"},
        "cache": {"type": "redis", "depends_on": ["db"]},
    },
    "timeout_profiles": {"kafka": {"health_check": 90, "startup": 45}},
    "cleanup_after": True,
    "profiles": {
        "laptop": {"services": {"db": {"cleanup_after": False}}},
        "typo": {"services": {"dbb": {"mode": "external"}}},
    },
}


def _raw() -> dict[str, Any]:
    return copy.deepcopy(RAW)


def _changes(profile: str, project: dict[str, Any] | None = None, **environ: str) -> list[str]:
    return profile_changes(RAW, apply_profile(_raw(), profile, project or {}, environ))


def test_no_profile_changes_nothing() -> None:
    assert apply_profile(_raw(), None, {}) == RAW
    assert apply_profile(_raw(), " , ", {}) == RAW
    assert profile_names(" ci, external ,") == ["ci", "external"]


def test_the_input_is_never_modified() -> None:
    raw = _raw()
    apply_profile(raw, "staging", {"staging": {"services": {"kafka": {"mode": "external"}}}})
    assert raw == RAW


def test_a_service_overlay_changes_exactly_what_it_says() -> None:
    project = {
        "staging": {
            "services": {
                "db": {
                    "mode": "external",
                    "url": "postgresql://u:p@db.staging:5432/orders",
                    "image": "postgres:15",
                    "cleanup_after": {"databases": False},
                }
            }
        }
    }
    assert _changes("staging", project) == [
        'external_services.db.mode: (unset) -> "external"',
        'external_services.db.image: (unset) -> "postgres:15"',
        'external_services.db.url: (unset) -> "postgresql://u:p@db.staging:5432/orders"',
        'external_services.db.cleanup_after: (unset) -> {"databases": false}',
    ]


def test_a_type_key_reaches_every_service_of_the_type_and_star_every_service() -> None:
    by_type = {"p": {"services": {"kafka": {"image": "mirror/kafka:1"}}}}
    # 'kafka' is also a service name: the name wins, `events` (also kafka) is untouched.
    assert _changes("p", by_type) == ['external_services.kafka.image: (unset) -> "mirror/kafka:1"']
    redis_type = {"p": {"services": {"redis": {"image": "mirror/redis:7"}}}}
    assert _changes("p", redis_type) == [
        'external_services.cache.image: (unset) -> "mirror/redis:7"'
    ]
    every = {"p": {"services": {"*": {"cleanup_after": False}}}}
    assert len(_changes("p", every)) == 4


def test_timeout_scale_multiplies_every_effective_timeout() -> None:
    project = {"ci": {"timeout_scale": 2}}
    after = apply_profile(_raw(), "ci", project)
    before_scenario = Scenario.model_validate({k: v for k, v in RAW.items()})
    after_scenario = Scenario.model_validate(after)
    for name, spec in before_scenario.external_services.items():
        defaults = plugin_for(spec.type).default_timeouts
        old = resolve_timeouts(before_scenario, name, defaults, None)
        new = resolve_timeouts(after_scenario, name, defaults, None)
        assert new == old.scaled(2), name
    # Nothing else moved.
    assert {k: v for k, v in after.items() if k != "timeout_profiles"} == {
        k: v for k, v in RAW.items() if k != "timeout_profiles"
    }


def test_explicit_timeouts_are_absolute_and_keep_the_other_phases() -> None:
    project = {
        "ci": {"timeout_scale": 3, "services": {"kafka": {"timeouts": {"health_check": 120}}}},
        "slowdb": {"services": {"db": {"timeouts": {"setup": 5}}}},
    }
    after = Scenario.model_validate(apply_profile(_raw(), "ci", project))
    kafka = resolve_timeouts(after, "kafka", plugin_for("kafka").default_timeouts, None)
    assert kafka.health_check == 120
    assert kafka.startup == 45 * 3
    db_only = apply_profile(_raw(), "slowdb", project)
    assert db_only["timeout_profiles"] == {**RAW["timeout_profiles"], "db": {"setup": 5}}


def test_profile_wide_cleanup_after() -> None:
    assert _changes("keep", {"keep": {"cleanup_after": False}}) == ["cleanup_after: true -> false"]


def test_profiles_apply_in_order_project_then_scenario() -> None:
    project = {
        "laptop": {"services": {"db": {"image": "postgres:15", "cleanup_after": True}}},
        "ci": {"timeout_scale": 2},
    }
    after = apply_profile(_raw(), "laptop", project)
    # The scenario's own `laptop` is laid over the project's.
    assert after["external_services"]["db"]["image"] == "postgres:15"
    assert after["external_services"]["db"]["cleanup_after"] is False
    both = apply_profile(_raw(), "laptop,ci", project)
    assert both["timeout_profiles"]["db"]["health_check"] == 120


def test_the_builtin_external_profile_attaches_where_a_url_is_set() -> None:
    changes = _changes("external", ENVCTL_DB_URL="postgresql://x@h/orders", ENVCTL_EVENTS_URL="")
    assert changes == ['external_services.db.mode: (unset) -> "external"']
    assert service_variable("order-events", "URL") == "ENVCTL_ORDER_EVENTS_URL"


def test_an_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        apply_profile(_raw(), "lapto", {"ci": {"timeout_scale": 2}})
    assert str(info.value) == (
        "unknown profile 'lapto' — did you mean 'laptop'?; known profiles: ci (project config), "
        "external (built in), laptop (scenario), typo (scenario)"
    )
    assert known_profiles(RAW, {"laptop": {}}) == {
        "external": "built in",
        "laptop": "project config, scenario",
        "typo": "scenario",
    }


def test_a_scenario_profile_naming_a_missing_service_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"services.dbb: no service .* did you mean 'db'\?"):
        apply_profile(_raw(), "typo", {})


def test_a_project_profile_skips_services_this_scenario_does_not_have() -> None:
    project = {"staging": {"services": {"billing": {"mode": "external"}}}}
    assert apply_profile(_raw(), "staging", project) == RAW


def test_profile_models_reject_unknown_keys_and_builtin_names() -> None:
    with pytest.raises(ValueError, match="built in"):
        ProjectConfig.model_validate({"profiles": {"external": {}}})
    with pytest.raises(ValueError, match="extra"):
        ProjectConfig.model_validate({"profiles": {"ci": {"timeout_scal": 2}}})
    with pytest.raises(ValueError, match="comma"):
        Scenario.model_validate({"name": "s", "profiles": {"a,b": {}}})
    with pytest.raises(ValueError, match="greater than 0"):
        Profile.model_validate({"timeout_scale": 0})


def test_an_invalid_selected_scenario_profile_is_left_for_validation() -> None:
    raw = _raw()
    raw["profiles"]["broken"] = {"services": {"db": {"mode": "moon"}}}
    after = apply_profile(raw, "broken", {})
    assert after == raw
    with pytest.raises(ValueError, match=r"profiles\.broken\.services\.db\.mode"):
        Scenario.model_validate(after)


def test_on_a_loaded_scenario(load_text: Any) -> None:
    scenario: Scenario = load_text(
        """
        name: loaded
        external_services:
          kafka: {type: kafka, topics: [{name: orders, partitions: 3}]}
          app: {type: generic, image: "x:1", probe: {exec: [true]}}
        profiles:
          staging: {services: {kafka: {mode: external, url: "broker:9092"}}}
        """
    )
    staged = apply_profile_to_scenario(scenario, "staging", {})
    assert staged.external_services["kafka"].mode.value == "external"
    assert staged.external_services["kafka"].topics[0].partitions == 3  # type: ignore[union-attr]
    assert staged.source == scenario.source
    assert apply_profile_to_scenario(scenario, None) is scenario
    # The result is validated like any scenario: an exec probe needs envctl's container.
    with pytest.raises(ConfigError, match=r"external_services.app.*exec probes need a container"):
        apply_profile_to_scenario(scenario, "x", {"x": {"services": {"app": {"mode": "external"}}}})


# -- the CLI and the docs' example ----------------------------------------------------------------


@pytest.fixture
def profiles_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    shutil.copytree(PROFILES_EXAMPLE, project)
    monkeypatch.chdir(project)
    return project


def test_docs_examples_are_the_files(profiles_project: Path) -> None:
    files = check_doc(REPO / "docs" / "profiles.md")
    assert PROFILES_EXAMPLE / "envctl.yaml" in files
    config = yaml.safe_load((PROFILES_EXAMPLE / "envctl.yaml").read_text())
    ProjectConfig.model_validate(config)
    settings = Settings.load(environ={}, cwd=profiles_project)
    assert settings.project_config_path == profiles_project / "envctl.yaml"


def test_docs_commands_print_what_they_say(profiles_project: Path) -> None:
    expected = (PROFILES_EXAMPLE / "show-staging.txt").read_text()
    runner = CliRunner(env={"STAGING_KAFKA": "kafka.staging.internal:9092"})
    from envctl.cli import cli

    outputs = []
    for args in commands(PROFILES_EXAMPLE / "commands.sh"):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, f"envctl {' '.join(args)}: {result.output}{result.exception}"
        outputs.append(result.stdout)
    assert expected in outputs
    for shown in ("list.txt", "show-ci-keep.txt"):
        assert (PROFILES_EXAMPLE / shown).read_text() in outputs, shown


def test_profile_show_reports_an_unknown_profile(profiles_project: Path) -> None:
    from envctl.cli import cli

    result = CliRunner().invoke(cli, ["profile", "show", "stagin", "--scenario", "orders"])
    assert isinstance(result.exception, ConfigError)
    assert "did you mean 'staging'?" in str(result.exception)
