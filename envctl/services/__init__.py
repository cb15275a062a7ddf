"""Service types: one module each, same hooks (see :mod:`envctl.services.base`)."""

from __future__ import annotations

from envctl.services.base import ServicePlugin
from envctl.services.kafka import KafkaService

PLUGINS: dict[str, type[ServicePlugin]] = {  # type: ignore[type-arg]
    plugin.type_name: plugin for plugin in (KafkaService,)
}
"""Service type name -> plugin class."""


def plugin_for(type_name: str) -> type[ServicePlugin]:  # type: ignore[type-arg]
    return PLUGINS[type_name]
