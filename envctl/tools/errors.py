"""Errors and warnings of the tools scenario code talks to.

Every error is an :class:`envctl.errors.EnvctlError`, so the CLI prints it as one line.
The real and the mock implementation of a protocol raise the same classes for the same
situation (a missing topic, a wrong-type Redis key, a bad SQL statement), so a scenario that
handles an error in mock mode handles it in real mode too.
"""

from __future__ import annotations

from envctl.errors import EnvctlError


class ToolError(EnvctlError):
    """Root of the errors raised by event buses, key-value stores and SQL stores."""


class SyncCallInEventLoop(ToolError):
    """A sync face was called from inside a running event loop (it would block or deadlock)."""

    def __init__(self, owner: str, method: str, hint: str | None = None) -> None:
        self.owner = owner
        self.method = method
        use = hint or f"await {_var(owner)}.aio.{method}(...)"
        super().__init__(
            f"{owner}.{method} is the sync face and was called inside a running event loop; "
            f"use the async face ({use}) or run it in a thread (asyncio.to_thread)"
        )


def _var(owner: str) -> str:
    lowered = owner.lower()
    if "bus" in lowered:
        return "bus"
    if "subscription" in lowered:
        return "subscription"
    return "store" if "store" in lowered else "tool"


class ToolResolutionError(ToolError):
    """The registry cannot build a tool for a service (no factory, no endpoints, ...)."""


class ToolClosed(ToolError):
    """A tool was used after :meth:`close`."""


# -- event bus ---------------------------------------------------------------------------------
class EventBusError(ToolError):
    """An event bus operation failed."""


class UnknownTopic(EventBusError):
    """The topic does not exist and the bus does not create topics on first use."""

    def __init__(self, topic: str, detail: str = "") -> None:
        self.topic = topic
        hint = (
            "declare it under the kafka service's `topics:` in the scenario, create it with "
            "bus.create_topic(...), or enable auto-creation (auto_create_topics=True)"
        )
        super().__init__(f"topic '{topic}' does not exist{detail}; {hint}")


class UnknownPartition(EventBusError):
    """A publish named a partition the topic does not have."""

    def __init__(self, topic: str, partition: int, partitions: int) -> None:
        self.topic = topic
        self.partition = partition
        super().__init__(
            f"topic '{topic}' has {partitions} partition(s) (0..{partitions - 1}); "
            f"partition {partition} does not exist"
        )


class PublishTimeout(EventBusError):
    """No delivery report arrived within the ``publish_ack`` timeout."""

    def __init__(self, topic: str, timeout: float, detail: str = "") -> None:
        self.topic = topic
        self.timeout = timeout
        super().__init__(
            f"publish to topic '{topic}' was not acknowledged within {timeout:g}s "
            f"(publish_ack){detail}; check the broker, or raise "
            "timeout_profiles.<service>.publish_ack"
        )


class PublishFailed(EventBusError):
    """The broker rejected a message (its delivery report carried an error)."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"publish to topic '{topic}' failed: {reason}")


class ConsumeFailed(EventBusError):
    """Consuming failed for a reason other than 'no message yet'."""


# -- stores ------------------------------------------------------------------------------------
class StoreError(ToolError):
    """A key-value or SQL store operation failed; the message is the server's."""


class KeyValueError(StoreError):
    """A key-value operation failed (e.g. ``WRONGTYPE``)."""


class SqlError(StoreError):
    """A SQL statement failed."""

    def __init__(self, sql: str, reason: str) -> None:
        self.sql = sql
        self.reason = reason
        short = " ".join(sql.split())
        if len(short) > 120:
            short = short[:117] + "..."
        super().__init__(f"SQL failed: {reason} (statement: {short})")


# -- warnings ----------------------------------------------------------------------------------
class RequiresRegistryWarning(UserWarning):
    """A real tool was created directly instead of through :func:`envctl.tools.resolve_tools`.

    Real tools carry ``requires_registry = True``: built outside the registry, the dependency
    mode is not decided by the scenario and the choice is missing from the audit log.
    """


class ProtocolDriftWarning(UserWarning):
    """A scenario resolved a service type whose real and mock tools differ in their API."""
