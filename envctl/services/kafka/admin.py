"""Talking to a broker as its admin: client settings from a service's endpoints, and creating
topics the one way envctl does it: create them, then wait until the
broker's metadata shows each with its partitions (a created topic is not at once visible to
every client). Used by the plugin's setup, the restore of a snapshot and the real event bus's
``create_topic``; each says a failure in its own error type.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from envctl.retry import poll_until, retry_call

METADATA_TIMEOUT = 5.0
"""Seconds one metadata request may take while waiting for topics to show."""


@dataclass(frozen=True)
class TopicRequest:
    """A topic to create."""

    name: str
    partitions: int = 1
    config: Mapping[str, str] = field(default_factory=dict)
    replication_factor: int = -1
    """-1: the broker's default."""


def client_config(endpoints: Mapping[str, Any]) -> dict[str, str]:
    """librdkafka settings to reach a broker from its endpoints (SASL/SSL when present)."""
    config = {"bootstrap.servers": str(endpoints["bootstrap_servers"])}
    names = {
        "security_protocol": "security.protocol",
        "sasl_mechanism": "sasl.mechanism",
        "sasl_username": "sasl.username",
        "_sasl_password": "sasl.password",
        "ssl_ca_location": "ssl.ca.location",
    }
    for key, setting in names.items():
        if endpoints.get(key):
            config[setting] = str(endpoints[key])
    return config


class _SilentLogger:
    """librdkafka logs connection refusals to stderr while a broker boots; keep them quiet."""

    def log(self, *_args: object, **_kwargs: object) -> None:
        return None


SILENT_LOGGER = _SilentLogger()


class TopicsNotCreated(Exception):
    """Why creating topics failed, in one line; the caller raises its own error with it."""


class TopicCreateTimedOut(TopicsNotCreated):
    """The broker did not answer a create request in time (often: it advertises an address
    this host cannot reach); the caller explains that for its own service."""

    def __init__(self, topic: str, timeout: float) -> None:
        super().__init__(f"creating topic '{topic}' timed out after {timeout:g}s")
        self.topic = topic


class _StillDeleting(Exception):
    def __init__(self, names: list[str]) -> None:
        super().__init__(f"topics {_quoted(names)} were not deleted in time")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def create_topics(
    admin: Any,
    topics: Sequence[TopicRequest],
    timeout: float,
    *,
    existing: Literal["ok", "retry"] = "ok",
) -> None:
    """Create ``topics`` with the confluent-kafka ``admin`` client and wait until they are
    visible, all within ``timeout`` seconds.

    ``existing``: what a topic that already exists means — ``ok`` (it is there), or
    ``retry`` (it is still being deleted, as after a cleanup: try again until it is gone).
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    deadline = time.monotonic() + timeout
    pending = {topic.name: topic for topic in topics}

    def left() -> float:
        return max(1.0, deadline - time.monotonic())

    def attempt() -> None:
        nonlocal pending
        new = [
            NewTopic(
                t.name,
                num_partitions=t.partitions,
                replication_factor=t.replication_factor,
                config=dict(t.config),
            )
            for t in pending.values()
        ]
        futures = admin.create_topics(new, operation_timeout=left(), request_timeout=left())
        again: dict[str, TopicRequest] = {}
        for name, future in futures.items():
            try:
                future.result(timeout=left())
            except TimeoutError:
                raise TopicCreateTimedOut(name, timeout) from None
            except KafkaException as exc:
                error = exc.args[0]
                code = error.code() if isinstance(error, KafkaError) else None
                if code == KafkaError.TOPIC_ALREADY_EXISTS:
                    if existing == "retry":
                        again[name] = pending[name]
                    continue
                if code == KafkaError._TIMED_OUT:
                    raise TopicCreateTimedOut(name, timeout) from None
                raise TopicsNotCreated(f"cannot create topic '{name}': {error}") from None
        pending = again
        if pending:
            raise _StillDeleting(sorted(pending))

    if pending:
        try:
            # Brokers delete asynchronously: a name may be "marked for deletion" for a moment.
            retry_call(attempt, max(deadline - time.monotonic(), 0.0), (_StillDeleting,))
        except _StillDeleting as exc:
            raise TopicsNotCreated(str(exc)) from None

    wanted = {topic.name: topic.partitions for topic in topics}
    missing = sorted(wanted)

    def visible() -> bool:
        nonlocal missing
        metadata = admin.list_topics(timeout=min(left(), METADATA_TIMEOUT))
        missing = [
            name
            for name, partitions in wanted.items()
            if name not in metadata.topics or len(metadata.topics[name].partitions) < partitions
        ]
        return not missing

    if not poll_until(visible, timeout=max(deadline - time.monotonic(), 1.0)):
        raise TopicsNotCreated(
            f"topics {_quoted(missing)} not visible in metadata after {timeout:.0f}s"
        )
