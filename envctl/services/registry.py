"""The open registry of service types: every ``type:`` a scenario may use.

Service types are found through the entry-point group ``envctl.services``, the way pytest
and tox find their plugins. envctl's own types (kafka, postgres, redis, generic) are declared
in its ``pyproject.toml`` exactly as a third-party package declares one::

    [project.entry-points."envctl.services"]
    kafka = "envctl.services.kafka.plugin:KafkaService"
    echo = "envctl_echo:EchoService"          # another package's type

The entry point's name is the ``type:`` value; its object is a
:class:`~envctl.services.base.ServicePlugin` subclass whose ``type_name`` is that name.
The scenario model's union of service specs, ``envctl schema``, ``validate``, the docs
generator and the did-you-mean hint for an unknown ``type:`` all read this registry (see
docs/service-plugins.md).

Reading the group is cached, and a type's module is imported only when the type is asked
for: ``import envctl`` and ``envctl --help`` load no plugin.
"""

from __future__ import annotations

import difflib
import functools
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from envctl.errors import ConfigError

if TYPE_CHECKING:
    from envctl.scenario.spec import ServiceSpecBase
    from envctl.services.base import ServicePlugin

GROUP = "envctl.services"


class UnknownServiceType(ConfigError):
    """A ``type:`` no installed package registers."""


class BrokenServicePlugin(ConfigError):
    """An ``envctl.services`` entry point that does not load or is not a service plugin."""


@functools.cache
def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path wins, as for imports
    if not found:
        raise BrokenServicePlugin(
            f"no service types are registered (entry-point group {GROUP} is empty); envctl's "
            "own metadata is missing: install it (pip install -e . in a checkout)"
        )
    return found


def type_names() -> list[str]:
    """Every registered type name, sorted. Imports no plugin."""
    return sorted(_entry_points())


def suggestion(name: str) -> str:
    """`` — did you mean 'kafka'?`` for a near miss of a registered name, else ``""``."""
    close = difflib.get_close_matches(name, type_names(), n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


def unknown_type_message(name: str) -> str:
    """The one-line complaint about ``type: name``, with a hint and the valid names."""
    return f"unknown service type '{name}'{suggestion(name)} (valid: {', '.join(type_names())})"


def is_registered(name: object) -> bool:
    return isinstance(name, str) and name in _entry_points()


def find(name: object) -> type[ServicePlugin] | None:
    """The plugin of a type name read from raw data; None when no type has that name
    (validation reports it)."""
    return plugin_for(name) if isinstance(name, str) and is_registered(name) else None


@functools.cache
def plugin_for(type_name: str) -> type[ServicePlugin]:
    """The plugin class of ``type_name``, imported on first use."""
    from envctl.services.base import ServicePlugin

    ep = _entry_points().get(type_name)
    if ep is None:
        raise UnknownServiceType(unknown_type_message(type_name))
    where = f"entry point '{ep.name} = {ep.value}' of group {GROUP}"
    try:
        loaded = ep.load()
    except Exception as exc:  # noqa: BLE001 - a broken plugin package is a user error
        raise BrokenServicePlugin(
            f"{where} failed to load: {type(exc).__name__}: {exc}; fix or uninstall the "
            "package that declares it"
        ) from None
    if not (isinstance(loaded, type) and issubclass(loaded, ServicePlugin)):
        raise BrokenServicePlugin(f"{where} is not a ServicePlugin subclass: {loaded!r}")
    if loaded.type_name != type_name:
        raise BrokenServicePlugin(
            f"{where} names type '{type_name}' but its plugin says type_name = "
            f"'{loaded.type_name}'; make them the same"
        )
    return loaded


def plugins() -> dict[str, type[ServicePlugin]]:
    """Every registered type's plugin class, by name (imports them all)."""
    return {name: plugin_for(name) for name in type_names()}


def types_serving(capability: str) -> list[str]:
    """The registered types whose services serve ``capability`` (``ServicePlugin.serves``)."""
    return [name for name, plugin in plugins().items() if capability in plugin.serves]


def spec_models() -> list[type[ServiceSpecBase]]:
    """The spec models of every registered type, in name order: the members of the
    scenario model's union of services (discriminated by ``type``)."""
    return [plugin.spec_model for plugin in plugins().values()]


def cache_clear() -> None:
    """Forget what was read (tests that install a type on a temporary path use this)."""
    _entry_points.cache_clear()
    plugin_for.cache_clear()
