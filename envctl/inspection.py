"""Looking into a run's data from outside: its Kafka topics with counts and newest messages
(of every service whose type keeps topics: ``ServicePlugin.has_topics``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envctl.engine import build_plugin
from envctl.errors import EnvctlError
from envctl.services.registry import plugin_for

if TYPE_CHECKING:
    from envctl.engine import Environment
    from envctl.settings import Settings


def kafka_topics(
    env: Environment,
    *,
    services: list[str] | None = None,
    last: int = 5,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Per Kafka service of the run: where it is and each of the run's topics (logical and
    physical name, partitions with start/end offsets, message count, the ``last`` newest
    messages decoded)."""

    chosen = services or [n for n, s in env.services.items() if plugin_for(s.type).has_topics]
    result: dict[str, Any] = {}
    for name in chosen:
        state = env.services.get(name)
        if state is None or not plugin_for(state.type).has_topics:
            raise EnvctlError(f"run {env.run_id} has no Kafka service '{name}'")
        if state.handle is None:
            raise EnvctlError(f"service '{name}' of run {env.run_id} is not running")
        plugin = build_plugin(env.scenario, name, env.run_id, settings)
        try:
            topics = plugin.describe_topics(state.handle, last)
        except Exception as exc:  # noqa: BLE001 - the broker is gone or unreachable
            servers = state.endpoints.get("bootstrap_servers")
            reason = env.namespace.shown_topics_in(str(exc))
            raise EnvctlError(
                f"cannot read the topics of service '{name}' at {servers}: {reason}"
            ) from None
        result[name] = {
            "bootstrap_servers": state.endpoints.get("bootstrap_servers"),
            "topics": topics,
        }
    return result
