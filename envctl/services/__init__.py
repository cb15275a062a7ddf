"""Service types: one module each, same hooks (see :mod:`envctl.services.base`)."""

from __future__ import annotations

from envctl.services.base import ServicePlugin
from envctl.services.generic.plugin import GenericService
from envctl.services.kafka.plugin import KafkaService
from envctl.services.postgres.plugin import PostgresService
from envctl.services.redis.plugin import RedisService

PLUGINS: dict[str, type[ServicePlugin]] = {
    plugin.type_name: plugin
    for plugin in (KafkaService, PostgresService, RedisService, GenericService)
}
"""Service type name -> plugin class."""


def plugin_for(type_name: str) -> type[ServicePlugin]:
    return PLUGINS[type_name]
