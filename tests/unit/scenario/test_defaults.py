"""Defaults and short forms of the scenario format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from envctl.scenario import Category, DependencyMode, Scenario, ServiceMode, load_scenario
from envctl.scenario.loader import infer_category
from envctl.scenario.spec import CleanupMap, PortMapping, SnapshotPolicy, TimeoutProfile
from envctl.services.kafka.plugin import KafkaSpec, TopicSpec


def test_minimal_scenario_defaults(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text("name: minimal\n")
    assert scenario.dependency_mode is DependencyMode.MOCK
    assert scenario.description == ""
    assert scenario.category is None  # tmp_path is in no unit/integration/mixed folder
    assert scenario.external_services == {}
    assert scenario.timeout_profiles == {}
    assert scenario.cleanup_after is True
    assert scenario.snapshot == SnapshotPolicy(before=False, after=False)
    assert scenario.steps == []
    assert scenario.expected == {}


def test_service_defaults(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text("name: x\nexternal_services:\n  kafka: {type: kafka}\n")
    kafka = scenario.external_services["kafka"]
    assert isinstance(kafka, KafkaSpec)
    assert kafka.mode is ServiceMode.DOCKER
    assert kafka.image is None
    assert kafka.flavor is None
    assert kafka.required is True
    assert kafka.depends_on == []
    assert kafka.ports == []
    assert kafka.env == {}
    assert kafka.url is None
    assert kafka.cleanup_after is None
    assert kafka.snapshot is None
    assert kafka.topics == []
    assert kafka.seed == []


@pytest.mark.parametrize("folder", ["unit", "integration", "mixed"])
def test_category_is_inferred_from_the_folder(
    write_scenario: Callable[..., Path], folder: str
) -> None:
    path = write_scenario(f"scenarios/{folder}/deeper/scenario_x.yaml", "name: x\n")
    assert load_scenario(path, {}).category is Category(folder)


def test_explicit_category_wins_over_the_folder(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("scenarios/unit/scenario_x.yaml", "name: x\ncategory: mixed\n")
    assert load_scenario(path, {}).category is Category.MIXED


def test_nearest_category_folder_wins(tmp_path: Path) -> None:
    assert infer_category(tmp_path / "integration" / "unit" / "s.yaml") is Category.UNIT
    assert infer_category(tmp_path / "other" / "s.yaml") is None


def test_bad_category_value(problems_of: Callable[..., list[str]], tmp_path: Path) -> None:
    assert problems_of("name: x\ncategory: e2e\n") == [
        f"{tmp_path / 's.yaml'}:2: category: 'e2e' is not valid;"
        " input should be 'unit', 'integration' or 'mixed'"
    ]


@pytest.mark.parametrize(
    ("short", "expected"),
    [
        pytest.param("9092", PortMapping(container=9092), id="string-container"),
        pytest.param(9092, PortMapping(container=9092), id="int-container"),
        pytest.param("19092:9092", PortMapping(container=9092, host=19092), id="host-container"),
        pytest.param(
            "127.0.0.1:19092:9092",
            PortMapping(container=9092, host=19092),
            id="loopback-host-container",
        ),
        pytest.param(
            "localhost:19092:9092", PortMapping(container=9092, host=19092), id="localhost"
        ),
        pytest.param("5353/udp", PortMapping(container=5353, protocol="udp"), id="udp"),
        pytest.param(
            {"container": 9092, "host": 19092},
            PortMapping(container=9092, host=19092),
            id="long-form",
        ),
    ],
)
def test_port_mapping_short_forms(short: Any, expected: PortMapping) -> None:
    assert PortMapping.model_validate(short) == expected


@pytest.mark.parametrize(
    "bad", ["0.0.0.0:19092:9092", "192.168.1.5:1:2", "x", "0", "19092:0", "9092/sctp"]
)
def test_port_mapping_refuses(bad: str) -> None:
    with pytest.raises(ValidationError):
        PortMapping.model_validate(bad)


def test_ports_short_forms_through_the_loader(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            ports: ["9092", 9093, "19094:9094", "127.0.0.1:19095:9095"]
        """
    )
    assert [(p.host, p.container) for p in scenario.external_services["kafka"].ports] == [
        (None, 9092),
        (None, 9093),
        (19094, 9094),
        (19095, 9095),
    ]


def test_topic_as_plain_string_and_replication_alias(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            topics:
              - orders
              - {name: payments, partitions: 6, replication: 2}
              - {name: audit, replication_factor: 3, config: {retention.ms: 600000}}
        """
    )
    topics = scenario.external_services["kafka"].topics
    assert topics == [
        TopicSpec(name="orders"),
        TopicSpec(name="payments", partitions=6, replication=2),
        TopicSpec(name="audit", replication=3, config={"retention.ms": "600000"}),
    ]
    assert [t.replication_factor for t in topics] == [1, 2, 3]


def test_topic_config_and_env_scalars_become_strings(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            env: {INT: 1, FLOAT: 1.5, T: true, F: false, TEXT: hello}
            topics:
              - name: t
                config: {retention.ms: 600000, cleanup.policy: compact, preallocate: true}
        """
    )
    kafka = scenario.external_services["kafka"]
    assert kafka.env == {"INT": "1", "FLOAT": "1.5", "T": "true", "F": "false", "TEXT": "hello"}
    assert kafka.topics[0].config == {
        "retention.ms": "600000",
        "cleanup.policy": "compact",
        "preallocate": "true",
    }


def test_env_keys_are_kept_as_written(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            env: {YES: "1", NO: "0", ON: "1", OFF: "0"}
        """
    )
    assert sorted(scenario.external_services["kafka"].env) == ["NO", "OFF", "ON", "YES"]


def test_depends_on_single_string(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka: {type: kafka}
          app: {type: kafka, depends_on: kafka}
        """
    )
    assert scenario.external_services["app"].depends_on == ["kafka"]


def test_cleanup_and_snapshot_forms(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        cleanup_after: on_success
        snapshot: true
        external_services:
          kafka:
            type: kafka
            cleanup_after: {topics: false}
            snapshot: {after: true}
        """
    )
    kafka = scenario.external_services["kafka"]
    assert scenario.cleanup_after == "on_success"
    assert scenario.snapshot == SnapshotPolicy(before=True, after=True)
    assert kafka.cleanup_after == CleanupMap(topics=False)
    assert kafka.snapshot == SnapshotPolicy(before=False, after=True)


def test_kafka_seed_uses_from_key(
    load_text: Callable[..., Scenario], write_scenario: Callable[..., Path]
) -> None:
    write_scenario("data/orders.jsonl", '{"value": 1}\n')  # seed files must exist
    scenario = load_text(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            topics: [orders]
            seed: [{topic: orders, from: data/orders.jsonl}]
        """
    )
    (seed,) = scenario.external_services["kafka"].seed
    assert (seed.topic, seed.from_) == ("orders", "data/orders.jsonl")


def test_timeouts_for_prefers_service_name_then_type(load_text: Callable[..., Scenario]) -> None:
    scenario = load_text(
        """
        name: x
        external_services:
          kafka: {type: kafka}
          events: {type: kafka}
        timeout_profiles:
          kafka: {startup: 5}
          events: {startup: 7}
        """
    )
    other = Scenario.model_validate({"name": "y", "external_services": {"b": {"type": "kafka"}}})
    assert scenario.timeouts_for("events") == TimeoutProfile(startup=7)
    assert scenario.timeouts_for("kafka") == TimeoutProfile(startup=5)
    assert other.timeouts_for("b") == TimeoutProfile()
    assert scenario.timeouts_for("unknown") == TimeoutProfile()


def test_source_is_the_resolved_file(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("a/scenario_x.yaml", "name: x\n")
    assert load_scenario(path, {}).source == path.resolve()
    assert Scenario.model_validate({"name": "x"}).source is None
