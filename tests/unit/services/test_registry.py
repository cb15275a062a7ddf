"""The open registry of service types (entry-point group ``envctl.services``)."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
from doc_examples import check_doc

from envctl.scenario.models import Scenario
from envctl.services import registry
from envctl.services.base import ServicePlugin
from envctl.services.kafka.plugin import KafkaService

REPO = Path(__file__).resolve().parents[3]
BUILTINS = ["generic", "kafka", "postgres", "redis"]


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[EntryPoint]]:
    """The group's entry points as the registry reads them; tests add their own."""
    registry.cache_clear()
    found = [
        EntryPoint(name, f"envctl.services.{name}.plugin:{name.title()}Service", registry.GROUP)
        for name in BUILTINS
    ]

    def fake(group: str) -> list[EntryPoint]:
        assert group == registry.GROUP
        return found

    monkeypatch.setattr(registry, "entry_points", fake)
    yield found
    registry.cache_clear()


def test_envctls_own_types_come_from_its_installed_metadata() -> None:
    assert set(BUILTINS) <= set(registry.type_names())
    assert registry.plugin_for("kafka") is KafkaService
    models = registry.spec_models()
    assert KafkaService.spec_model in models
    schema = Scenario.model_json_schema()
    assert {"KafkaSpec", "PostgresSpec", "RedisSpec", "GenericSpec"} <= set(schema["$defs"])


def test_unknown_types_get_a_hint_and_the_valid_names() -> None:
    with pytest.raises(registry.UnknownServiceType) as raised:
        registry.plugin_for("kafak")
    assert "unknown service type 'kafak' — did you mean 'kafka'?" in str(raised.value)
    assert registry.find("kafak") is None and registry.find(None) is None


def test_a_broken_entry_point_is_one_line_naming_it(entry_points: list[EntryPoint]) -> None:
    entry_points.append(EntryPoint("nats", "envctl_nats_missing:NatsService", registry.GROUP))
    with pytest.raises(registry.BrokenServicePlugin, match=r"envctl_nats_missing.*failed to load"):
        registry.plugin_for("nats")


def test_an_entry_point_must_name_a_plugin_of_its_own_type(
    entry_points: list[EntryPoint],
) -> None:
    entry_points.append(
        EntryPoint("nats", "envctl.services.redis.plugin:RedisSpec", registry.GROUP)
    )
    entry_points.append(
        EntryPoint("nats2", "envctl.services.redis.plugin:RedisService", registry.GROUP)
    )
    with pytest.raises(registry.BrokenServicePlugin, match="not a ServicePlugin subclass"):
        registry.plugin_for("nats")
    with pytest.raises(registry.BrokenServicePlugin, match="type_name = 'redis'"):
        registry.plugin_for("nats2")


def test_an_empty_group_says_envctl_is_not_installed(entry_points: list[EntryPoint]) -> None:
    entry_points.clear()
    with pytest.raises(registry.BrokenServicePlugin, match="pip install -e"):
        registry.type_names()


def test_capabilities_come_from_the_plugins() -> None:
    assert registry.types_serving("event_bus") == ["kafka"]
    assert "postgres" in registry.types_serving("sql")
    plugin: Any = registry.plugin_for("generic")
    assert issubclass(plugin, ServicePlugin) and "http" in plugin.serves


def test_the_plugin_guide_shows_the_tested_example() -> None:
    files = check_doc(REPO / "docs" / "service-plugins.md")
    assert any(f.name == "pyproject.toml" for f in files)
