"""The tools of ``type: kafka``: :class:`~.tool.KafkaEventBus` in real mode, the in-memory
double :class:`~.mock.InMemoryEventBus` in mock mode (``KafkaService.tool_factories``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from envctl.services.kafka.admin import client_config
from envctl.services.kafka.mock import AsyncInMemoryEventBus, InMemoryEventBus
from envctl.services.kafka.tool import AsyncKafkaEventBus, KafkaEventBus
from envctl.tools.protocols import EventBus
from envctl.tools.registry import MockToolFactory, RealToolFactory, ToolRequest, endpoint


def auto_create_topics(request: ToolRequest) -> bool:
    """Whether the scenario enables the broker's topic auto-creation (both modes follow it)."""
    env: Mapping[str, str] = getattr(request.spec, "env", {}) or {}
    return str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")).lower() == "true"


class KafkaRealFactory(RealToolFactory):
    service_type: ClassVar[str] = "kafka"
    tool_class: ClassVar[type[Any]] = KafkaEventBus
    async_tool_class: ClassVar[type[Any] | None] = AsyncKafkaEventBus
    protocol: ClassVar[type[Any]] = EventBus

    def create(self, request: ToolRequest) -> KafkaEventBus:
        return KafkaEventBus(
            endpoint(request, "bootstrap_servers"),
            publish_ack=request.timeouts.publish_ack,
            admin_timeout=request.timeouts.setup,
            auto_create_topics=auto_create_topics(request),
            client_id=f"envctl-{request.service}",
            # SASL/SSL settings of an external or cloud broker (secrets included)
            config={
                k: v
                for k, v in client_config(request.endpoints).items()
                if k != "bootstrap.servers"
            },
        )


class KafkaMockFactory(MockToolFactory):
    service_type: ClassVar[str] = "kafka"
    tool_class: ClassVar[type[Any]] = InMemoryEventBus
    async_tool_class: ClassVar[type[Any] | None] = AsyncInMemoryEventBus
    protocol: ClassVar[type[Any]] = EventBus

    def create(self, request: ToolRequest) -> InMemoryEventBus:
        topics = getattr(request.spec, "topics", None) or []
        return InMemoryEventBus(
            request.state_key,
            auto_create_topics=auto_create_topics(request),
            # What envctl up's setup would have created on the broker.
            topics={topic.name: topic.partitions for topic in topics},
        )


FACTORIES = (KafkaRealFactory(), KafkaMockFactory())
