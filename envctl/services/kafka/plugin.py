"""Kafka: a single-node broker, readiness by a metadata request, topics created and confirmed.

Flavors:
- ``apache`` (default, image ``apache/kafka``): KRaft single node with two listeners, one for
  the run's network (``<service>:19092``) and one advertised on the published 127.0.0.1 port.
- ``tansu`` (image ``ghcr.io/tansu-io/tansu``): a Kafka-compatible broker configured by
  ``LISTENER_URL`` / ``ADVERTISED_LISTENER_URL``. It has one listener, advertised on the
  published port, so only clients on the host reach it (not other containers).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from envctl.namespace import Namespace
from envctl.scenario.spec import ScalarStr, ServiceSpecBase, StrictModel, service_variable
from envctl.services.base import (
    Endpoints,
    PhaseTimeouts,
    ProbeFailed,
    ServiceHandle,
    ServicePlugin,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck
from envctl.services.kafka.admin import SILENT_LOGGER, client_config

KAFKA_PORT = 9092
INTERNAL_PORT = 19092
CONTROLLER_PORT = 9093
APACHE_IMAGE = "apache/kafka:3.9.0"
TANSU_IMAGE = "ghcr.io/tansu-io/tansu:latest"


class TopicSpec(StrictModel):
    """A topic created (and confirmed visible) before the service counts as ready."""

    name: str = Field(
        min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$", description="Topic name."
    )
    partitions: int = Field(default=1, ge=1, le=10000, description="Number of partitions.")
    replication_factor: int = Field(
        default=1, ge=1, validation_alias="replication", description="Alias: replication."
    )
    config: dict[str, ScalarStr] = Field(
        default_factory=dict, description="Topic configs, e.g. {retention.ms: 600000}."
    )

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "replication_factor" in value:
            value = dict(value)
            value["replication"] = value.pop("replication_factor")
        return value


class KafkaSeed(StrictModel):
    """Records produced into a topic before the scenario runs."""

    topic: str = Field(description="Topic to produce into.")
    from_: str = Field(alias="from", description="JSON Lines / JSON / YAML file of records.")


class KafkaSpec(ServiceSpecBase):
    """A Kafka (or Kafka-compatible) broker."""

    type: Literal["kafka"]
    flavor: Literal["apache", "tansu"] | None = Field(
        default=None, description="apache | tansu; recognised from the image name when unset."
    )
    topics: list[TopicSpec] = Field(
        default_factory=list,
        description="Topics created and confirmed visible before the service counts as ready "
        "(a plain string is a name).",
    )
    seed: list[KafkaSeed] = Field(
        default_factory=list, description="Records produced after the topics are created."
    )

    @field_validator("topics")
    @classmethod
    def _unique_topics(cls, topics: list[TopicSpec]) -> list[TopicSpec]:
        seen: set[str] = set()
        for topic in topics:
            if topic.name in seen:
                raise ValueError(f"topic '{topic.name}' is listed twice")
            seen.add(topic.name)
        return topics


def flavor_of(spec: KafkaSpec, image: str) -> Literal["apache", "tansu"]:
    """The flavor set in the scenario, else recognised from the image name."""
    if spec.flavor is not None:
        return spec.flavor
    return "tansu" if "tansu" in image.rsplit("/", 1)[-1] or "/tansu" in image else "apache"


def kcat_list_command(servers: str) -> str:
    """A kcat command listing the brokers and topics of ``servers`` that works with Apache
    Kafka (up to 3.9, the default image) and Tansu alike, with the kcat distributions ship.

    Debian bookworm's kcat is linked against librdkafka 2.0.2, which fails to read Tansu
    0.6's ApiVersions response ("Read underflow"), so a plain ``kcat -L`` never gets
    metadata from the local broker. These two settings make librdkafka skip that request
    and speak the 0.9 protocol (metadata v0), which both brokers answer; fine for listing,
    not for producing (no headers, old message format).
    """
    return f"kcat -X api.version.request=false -X broker.version.fallback=0.9.0 -b {servers} -L"


class KafkaService(ServicePlugin[KafkaSpec]):
    type_name: ClassVar[str] = "kafka"
    spec_model = KafkaSpec
    default_image: ClassVar[str] = APACHE_IMAGE
    client_modules: ClassVar[tuple[str, ...]] = ("confluent_kafka.admin",)
    data_module: ClassVar[str | None] = "envctl.services.kafka.data"
    native_module: ClassVar[str | None] = "envctl.services.kafka.native"
    service_port: ClassVar[int | None] = KAFKA_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(
        startup=60, health_check=90, setup=30, seed=120, publish_ack=10
    )
    resource_kinds: ClassVar[tuple[str, ...]] = ("topics", "consumer_groups")
    per_run_fields: ClassVar[frozenset[str]] = frozenset({"topics", "seed"})
    supports_snapshot: ClassVar[bool] = True

    @property
    def flavor(self) -> Literal["apache", "tansu"]:
        return flavor_of(self.spec, self.context.image)

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        host_port = host_ports[KAFKA_PORT]
        if self.flavor == "tansu":
            return {
                "LISTENER_URL": f"tcp://0.0.0.0:{KAFKA_PORT}",
                "ADVERTISED_LISTENER_URL": f"tcp://127.0.0.1:{host_port}",
                "STORAGE_ENGINE": "memory://tansu/",
            }
        alias = self.context.network_alias
        return {
            "KAFKA_NODE_ID": "1",
            "KAFKA_PROCESS_ROLES": "broker,controller",
            "KAFKA_LISTENERS": (
                f"INTERNAL://:{INTERNAL_PORT},EXTERNAL://:{KAFKA_PORT},"
                f"CONTROLLER://:{CONTROLLER_PORT}"
            ),
            "KAFKA_ADVERTISED_LISTENERS": (
                f"INTERNAL://{alias}:{INTERNAL_PORT},EXTERNAL://127.0.0.1:{host_port}"
            ),
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
                "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT"
            ),
            "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": f"1@localhost:{CONTROLLER_PORT}",
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
            "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
            "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
            "KAFKA_NUM_PARTITIONS": "1",
        }

    def data_lost_on_restart(self) -> str | None:
        if self.flavor == "tansu":
            return (
                f"it runs the tansu flavor ({self.context.image}) with memory storage "
                "(STORAGE_ENGINE=memory://), so a restarted broker comes back empty"
            )
        return None

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        result: Endpoints = {"bootstrap_servers": f"127.0.0.1:{host_ports[KAFKA_PORT]}"}
        if self.flavor == "apache":
            result["internal_bootstrap_servers"] = f"{self.context.network_alias}:{INTERNAL_PORT}"
        return result

    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        from envctl.errors import ServiceFailed
        from envctl.scenario.spec import ServiceMode

        servers = url.removeprefix("kafka://").removeprefix("tcp://")
        result: Endpoints = {"bootstrap_servers": servers}
        cloud = self.spec.mode == ServiceMode.CLOUD
        username = credentials.get("SASL_USERNAME")
        password = credentials.get("SASL_PASSWORD")
        if cloud and not (username and password):
            prefix = service_variable(self.context.service)
            raise ServiceFailed(
                self.context.service,
                f"mode: cloud needs {prefix}SASL_USERNAME and {prefix}SASL_PASSWORD "
                "in the environment (secrets are never read from the scenario file)",
            )
        protocol = credentials.get("SECURITY_PROTOCOL") or ("SASL_SSL" if username else "")
        if protocol:
            result["security_protocol"] = protocol
        if username:
            result["sasl_mechanism"] = credentials.get("SASL_MECHANISM", "PLAIN")
            result["sasl_username"] = username
            result["_sasl_password"] = password or ""
        if credentials.get("SSL_CA_LOCATION"):
            result["ssl_ca_location"] = credentials["SSL_CA_LOCATION"]
        return result

    # -- lifecycle -------------------------------------------------------------------
    def _admin(self, handle: ServiceHandle, timeout: float) -> Any:
        from confluent_kafka.admin import AdminClient

        ms = str(max(int(timeout * 1000), 1000))  # librdkafka minimum
        config: dict[str, Any] = {
            **client_config(handle.endpoints),
            "socket.connection.setup.timeout.ms": ms,
            "reconnect.backoff.ms": "10",
            "reconnect.backoff.max.ms": "200",
            "log_level": "0",
            "logger": SILENT_LOGGER,
        }
        return AdminClient(config)

    def _shared_admin(self, handle: ServiceHandle, timeout: float) -> Any:
        """One admin client per service for setup and cleanup, kept on the handle: the
        namespaces of a warm instance then pay no connection set-up (~100 ms) each."""
        admin = handle.clients.get("kafka.admin")
        if admin is None:
            admin = handle.clients["kafka.admin"] = self._admin(handle, max(timeout, 30.0))
        return admin

    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        from confluent_kafka import KafkaException

        admin = self._admin(handle, timeout)  # a fresh client per attempt: no stale state
        try:
            metadata = admin.list_topics(timeout=timeout)
        except KafkaException as exc:
            raise ProbeFailed(f"metadata request failed: {exc.args[0]}") from None
        if not metadata.brokers:
            raise ProbeFailed("metadata answered without any broker")

    def setup(self, handle: ServiceHandle, timeout: float) -> None:
        # Topics are created under their physical names (the run's namespace).
        physical = {t.name: self.namespace.topic(t.name) for t in self.spec.topics}
        handle.endpoints["topics"] = physical
        if not self.spec.topics:
            return
        from envctl.errors import ServiceFailed
        from envctl.services.kafka.admin import (
            TopicCreateTimedOut,
            TopicRequest,
            TopicsNotCreated,
            create_topics,
        )

        requests = [
            TopicRequest(physical[t.name], t.partitions, dict(t.config), t.replication_factor)
            for t in self.spec.topics
        ]
        # recorded first: cleanup removes what exists of them even when the wait fails
        handle.resources.setdefault("topics", []).extend(physical.values())
        admin = self._shared_admin(handle, timeout)
        try:
            create_topics(admin, requests, timeout)
        except TopicCreateTimedOut as exc:
            reason = self._create_timed_out(admin, handle, exc.topic, timeout)
            raise ServiceFailed(self.context.service, reason) from None
        except TopicsNotCreated as exc:
            reason = self.namespace.shown_topics_in(str(exc))
            raise ServiceFailed(self.context.service, reason) from None

    def _create_timed_out(
        self, admin: Any, handle: ServiceHandle, physical: str, timeout: float
    ) -> str:
        """Why creating a topic timed out, and the fix: most often the broker advertises an
        address this host cannot reach (the bootstrap address answers, the broker it names
        does not)."""
        bootstrap = handle.endpoints.get("bootstrap_servers", "?")
        env = dict(getattr(self.spec, "env", {}) or {})
        advertised = env.get("ADVERTISED_LISTENER_URL") or env.get("KAFKA_ADVERTISED_LISTENERS")
        if not advertised:
            try:
                brokers = admin.list_topics(timeout=min(timeout, 5.0)).brokers.values()
                advertised = ", ".join(f"{b.host}:{b.port}" for b in brokers) or "no broker"
            except Exception:  # noqa: BLE001 - only for the message
                advertised = "an address envctl could not read"
        topic = self.namespace.shown_physical_topic(physical)
        return (
            f"creating topic {topic} timed out after {timeout:g}s: the broker "
            f"advertises {advertised}, reached through {bootstrap}; make it advertise an "
            "address this host can reach (ADVERTISED_LISTENER_URL / "
            "KAFKA_ADVERTISED_LISTENERS in env:), or raise timeout_profiles."
            f"{self.context.service}.setup"
        )

    def reach(self, handle: ServiceHandle) -> dict[str, str]:
        servers = handle.endpoints.get("bootstrap_servers", "?")
        topics = handle.endpoints.get("topics") or {}
        names = ", ".join(f"{k} = {v}" for k, v in topics.items()) or "none declared"
        return {
            "topics": f"bootstrap {servers}; topics {names} "
            f"(envctl topics --run-id {self.context.run_id}; {kcat_list_command(servers)})",
            "consumer_groups": f"bootstrap {servers}; groups named "
            f"{self.namespace.group('<name>')}",
        }

    # -- what code outside this package asks ---------------------------------------------
    @classmethod
    def tool_factories(cls) -> Sequence[Any]:
        from envctl.services.kafka.factories import FACTORIES  # the tools load on first use

        return FACTORIES

    serves: ClassVar[frozenset[str]] = frozenset({"event_bus"})

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        # tansu: its own CLI (the image has no shell, so exec form only); apache: the
        # broker API versions against the internal listener.
        assert isinstance(spec, KafkaSpec)
        if flavor_of(spec, image) == "tansu":
            return HealthCheck(
                ("CMD", "/tansu", "topic", "list", "--broker", f"tcp://localhost:{KAFKA_PORT}"),
                start_period=start_period,
                shell=False,
            )
        return HealthCheck(
            (
                "CMD-SHELL",
                "/opt/kafka/bin/kafka-broker-api-versions.sh "
                f"--bootstrap-server localhost:{INTERNAL_PORT} >/dev/null 2>&1",
            ),
            start_period=start_period,
            timeout=15.0,
            heavy=True,
        )

    @classmethod
    def external_url(
        cls,
        spec: ServiceSpecBase,
        endpoints: Mapping[str, Any],
        ports: Sequence[tuple[int, int, str]],
    ) -> str | None:
        return str(endpoints["bootstrap_servers"])

    standard_compose: ClassVar[bool] = True

    @classmethod
    def compose_image_note(cls, name: str) -> str | None:
        if "kafka" not in name:
            return None
        return (
            "imported as a generic container; `type: kafka` gets envctl's own broker "
            "settings, a metadata probe and topic creation"
        )

    def resource_names(self, kind: str, handle: ServiceHandle | None) -> list[str]:
        if kind == "topics":
            return super().resource_names(kind, handle) or [self.namespace.topic("*")]
        if kind == "consumer_groups":
            return [self.namespace.group("*")]
        return super().resource_names(kind, handle)

    @classmethod
    def diff_snapshots(cls, before: Path, after: Path) -> dict[str, Any]:
        from envctl.services.kafka.diff import diff_kafka

        return diff_kafka(before, after)

    @classmethod
    def format_snapshot_diff(cls, diff: dict[str, Any]) -> list[str]:
        from envctl.services.kafka.diff import format_diff

        return format_diff(diff)

    @classmethod
    def snapshot_summary(cls, details: Mapping[str, Any]) -> str:
        return (
            f"{details['messages']} messages in {details['topics']} topics, "
            f"{details['consumer_groups']} groups"
        )

    has_topics: ClassVar[bool] = True

    def describe_topics(self, handle: ServiceHandle, last: int) -> list[dict[str, Any]]:
        from envctl.services.kafka.data import describe_topics

        return describe_topics(self, handle, last, self.context.timeouts.setup)

    @classmethod
    def namespaced_tool(cls, tool: Any, namespace: Namespace) -> Any:
        from envctl.tools.naming import NamespacedEventBus

        return NamespacedEventBus(tool, namespace)

    @classmethod
    def seed_mock(cls, tool: Any, seed: Any, path: Path, service: str) -> None:
        from envctl.services.kafka.mock import seed_double

        seed_double(tool, seed.topic, path)

    shares_by_namespace: ClassVar[bool] = True

    @classmethod
    def prepare_shared(cls, spec: ServiceSpecBase, tool: Any) -> None:
        assert isinstance(spec, KafkaSpec)
        for topic in spec.topics:
            tool.create_topic(topic.name, partitions=topic.partitions, config=dict(topic.config))

    @classmethod
    def reset_shared(cls, spec: ServiceSpecBase, tool: Any, isolated: bool) -> None:
        tool.cleanup(topics=True, groups=True)
        if not isolated:
            cls.prepare_shared(spec, tool)

    @classmethod
    def seed_entry_problems(
        cls, spec: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        topic = entry.get("topic")
        topics = [
            t if isinstance(t, str) else t.get("name")
            for t in spec.get("topics", []) or []
            if isinstance(t, str | dict)
        ]
        if not isinstance(topic, str) or topic in topics:
            return []
        close = difflib.get_close_matches(topic, [t for t in topics if t], n=1)
        hint = f" — did you mean '{close[0]}'?" if close else " (add it to topics)"
        return [("topic", f"seed topic '{topic}' is not one of the service's topics{hint}")]
