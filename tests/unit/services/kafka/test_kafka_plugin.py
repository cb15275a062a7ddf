"""The pure parts of the Kafka service: flavor, container settings, endpoints, ports."""

from __future__ import annotations

from typing import Any

import pytest

from envctl.scenario.spec import PortMapping
from envctl.services.base import PhaseTimeouts, ServiceContext
from envctl.services.kafka.plugin import APACHE_IMAGE, KafkaService, KafkaSpec, flavor_of
from envctl.services.registry import plugin_for, plugins


def spec(**fields: Any) -> KafkaSpec:
    return KafkaSpec.model_validate({"type": "kafka", **fields})


def service(image: str, alias: str = "broker", **fields: Any) -> KafkaService:
    context = ServiceContext(
        run_id="ab12cd34",
        scenario="s",
        service=alias,
        network_alias=alias,
        timeouts=PhaseTimeouts(),
        image=image,
    )
    return KafkaService(spec(**fields), context)


@pytest.mark.parametrize(
    ("image", "flavor"),
    [
        ("apache/kafka:3.9.0", "apache"),
        (APACHE_IMAGE, "apache"),
        ("mirror.local:5000/apache/kafka:3.9.0", "apache"),
        ("bitnami/kafka", "apache"),
        ("ghcr.io/tansu-io/tansu", "tansu"),
        ("ghcr.io/tansu-io/tansu:latest", "tansu"),
        ("envctl-test/kafka:tansu", "tansu"),
        ("tansu", "tansu"),
    ],
)
def test_flavor_from_image(image: str, flavor: str) -> None:
    assert flavor_of(spec(), image) == flavor


@pytest.mark.parametrize(
    ("declared", "image"),
    [("apache", "envctl-test/kafka:tansu"), ("tansu", "apache/kafka:3.9.0")],
)
def test_declared_flavor_wins_over_image(declared: str, image: str) -> None:
    assert flavor_of(spec(flavor=declared), image) == declared


def test_plugin_registry() -> None:
    assert plugin_for("kafka") is KafkaService
    assert plugins()["kafka"] is KafkaService
    assert KafkaService.default_image == "apache/kafka:3.9.0"


def test_apache_container_env() -> None:
    env = service("apache/kafka:3.9.0", alias="broker").container_env({9092: 49153})
    assert env["KAFKA_ADVERTISED_LISTENERS"] == (
        "INTERNAL://broker:19092,EXTERNAL://127.0.0.1:49153"
    )
    assert env["KAFKA_LISTENERS"] == "INTERNAL://:19092,EXTERNAL://:9092,CONTROLLER://:9093"
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == (
        "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@localhost:9093"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert all(isinstance(v, str) for v in env.values())


def test_tansu_container_env() -> None:
    env = service("ghcr.io/tansu-io/tansu").container_env({9092: 40001})
    assert env == {
        "LISTENER_URL": "tcp://0.0.0.0:9092",
        "ADVERTISED_LISTENER_URL": "tcp://127.0.0.1:40001",
        "STORAGE_ENGINE": "memory://tansu/",
    }


def test_declared_flavor_decides_container_env() -> None:
    env = service("my/custom-broker:1", flavor="tansu").container_env({9092: 40001})
    assert env["ADVERTISED_LISTENER_URL"] == "tcp://127.0.0.1:40001"


def test_apache_endpoints() -> None:
    assert service("apache/kafka:3.9.0", alias="events").endpoints({9092: 49153}) == {
        "bootstrap_servers": "127.0.0.1:49153",
        "internal_bootstrap_servers": "events:19092",
    }


def test_tansu_endpoints_have_no_internal_listener() -> None:
    assert service("envctl-test/kafka:tansu").endpoints({9092: 40001}) == {
        "bootstrap_servers": "127.0.0.1:40001"
    }


@pytest.mark.parametrize(
    ("url", "servers"),
    [
        ("kafka://broker.example:9092", "broker.example:9092"),
        ("tcp://10.0.0.1:9092", "10.0.0.1:9092"),
        ("a:9092,b:9092", "a:9092,b:9092"),
    ],
)
def test_external_endpoints(url: str, servers: str) -> None:
    assert service(APACHE_IMAGE).external_endpoints(url, {}) == {"bootstrap_servers": servers}


def test_ports_default_to_the_broker_port_on_a_free_host_port() -> None:
    assert service(APACHE_IMAGE).ports() == [PortMapping(container=9092)]


def test_ports_keep_a_pinned_broker_port_and_add_others_after_it() -> None:
    ports = service(APACHE_IMAGE, ports=["8080", "19092:9092"]).ports()
    assert ports == [PortMapping(container=9092, host=19092), PortMapping(container=8080)]


def test_phase_timeouts_scaled() -> None:
    assert PhaseTimeouts(startup=1, health_check=2, setup=3, seed=4, publish_ack=5).scaled(
        1.5
    ) == PhaseTimeouts(startup=1.5, health_check=3, setup=4.5, seed=6, publish_ack=7.5)


def test_cloud_mode_takes_sasl_secrets_from_the_environment_only() -> None:
    from envctl.errors import ServiceFailed
    from envctl.services.base import PhaseTimeouts, ServiceContext
    from envctl.services.kafka.admin import client_config
    from envctl.services.kafka.plugin import KafkaService, KafkaSpec

    spec = KafkaSpec.model_validate({"type": "kafka", "mode": "cloud"})
    context = ServiceContext("r1", "s", "events", "events", PhaseTimeouts())
    plugin = KafkaService(spec, context)
    with pytest.raises(ServiceFailed, match="ENVCTL_EVENTS_SASL_USERNAME"):
        plugin.external_endpoints("b1:9093", {})
    endpoints = plugin.external_endpoints(
        "b1:9093", {"SASL_USERNAME": "svc", "SASL_PASSWORD": "s3cret"}
    )
    public = {k: v for k, v in endpoints.items() if not k.startswith("_")}
    assert "s3cret" not in repr(public)
    assert client_config(endpoints) == {
        "bootstrap.servers": "b1:9093",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "svc",
        "sasl.password": "s3cret",
    }


def test_only_the_memory_flavor_loses_its_data_on_restart() -> None:
    assert service("apache/kafka:3.9.0").data_lost_on_restart() is None
    reason = service("ghcr.io/tansu-io/tansu").data_lost_on_restart()
    assert reason is not None and "memory" in reason
