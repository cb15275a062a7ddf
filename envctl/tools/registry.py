"""Which tool a scenario's service gets: factories per service type and dependency mode.

A :class:`ToolFactory` builds the tool for one service type in one mode. The registry holds,
for each ``(service type, mode)``, the factory to use, chosen by precedence:

1. factories registered in code with :func:`register_factory` (the last one wins),
2. factories of installed packages, through the entry-point group ``envctl.tool_factories``
   (the entry point's object: a factory instance, a factory class, or a sequence of them),
3. the built-ins of each registered service type (``ServicePlugin.tool_factories``, e.g.
   ``envctl/services/kafka/factories.py``): ``kafka`` →
   :class:`~envctl.services.kafka.tool.KafkaEventBus` /
   :class:`~envctl.tools.mock.InMemoryEventBus`, ``postgres`` →
   :class:`~envctl.services.postgres.tool.PostgresStore` /
   :class:`~envctl.tools.mock.SqliteSqlStore`,
   ``redis`` → :class:`~envctl.services.redis.tool.RedisStore` /
   :class:`~envctl.tools.mock.InMemoryKeyValueStore`.

A third-party package declares, in its ``pyproject.toml``::

    [project.entry-points."envctl.tool_factories"]
    nats = "envctl_nats.tools:FACTORIES"

:func:`resolve_tools` builds one tool per service of a scenario and records, for the audit
log, which factory was chosen and where it came from. Real tools built outside the registry
warn with :class:`~envctl.tools.errors.RequiresRegistryWarning`; the registry suppresses that.
When the real and mock tools of a resolved service type differ in their API (see
:mod:`envctl.tools.drift`), it warns with :class:`~envctl.tools.errors.ProtocolDriftWarning`.
"""

from __future__ import annotations

import contextlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from envctl.scenario.spec import DependencyMode, ServiceSpecBase
from envctl.scenario.timeouts import PhaseTimeouts, resolve_timeouts
from envctl.services.registry import plugins as service_plugins
from envctl.tools.drift import Divergence, compare_pair, format_divergences, qualname
from envctl.tools.errors import ProtocolDriftWarning, SyncCallInEventLoop, ToolResolutionError
from envctl.tools.faces import ensure_no_running_loop, registry_building
from envctl.tools.protocols import EventBus, KeyValueStore, SqlStore

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario

ENTRY_POINT_GROUP = "envctl.tool_factories"

T = TypeVar("T")


@dataclass(frozen=True)
class ToolRequest:
    """What a factory gets to build the tool of one service."""

    service: str
    """The service's name in the scenario."""
    spec: ServiceSpecBase
    """The service's config model (``KafkaSpec``, ``PostgresSpec``, ...)."""
    endpoints: Mapping[str, Any]
    """How to reach it (``ServiceState.endpoints``); empty in mock mode."""
    timeouts: PhaseTimeouts
    """The service's timeouts (``publish_ack`` for event buses, ``setup`` for connects)."""
    namespace: str
    """The run's namespace; mock tools key their shared state by :attr:`state_key`."""

    @property
    def state_key(self) -> str:
        """Where mock tools of this service keep their process-wide state."""
        return mock_state_key(self.namespace, self.service)


def mock_state_key(namespace: str, service: str) -> str:
    """The key of a mock service's shared state: ``"<namespace>/<service>"``.

    Build a mock tool with ``namespace=mock_state_key(ns, service)`` to see the same data as
    the tool :func:`resolve_tools` built for that service and namespace.
    """
    return f"{namespace}/{service}"


@runtime_checkable
class ToolFactory(Protocol):
    """Builds the tool of one service type in one dependency mode."""

    @property
    def service_type(self) -> str:
        """The service type it serves (``kafka``, ``postgres``, ...)."""
        ...

    @property
    def mode(self) -> DependencyMode: ...

    @property
    def tool_class(self) -> type[Any]:
        """The sync class it builds (compared with its counterpart by the drift check)."""
        ...

    @property
    def async_tool_class(self) -> type[Any] | None:
        """The async face's class, or None when the tool has no async face."""
        ...

    def create(self, request: ToolRequest) -> Any:
        """Build the tool. Must not connect yet: tools connect on first use."""
        ...


class _FactoryBase(ABC):
    service_type: ClassVar[str]
    mode: ClassVar[DependencyMode]
    tool_class: ClassVar[type[Any]]
    async_tool_class: ClassVar[type[Any] | None] = None

    @abstractmethod
    def create(self, request: ToolRequest) -> Any: ...

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({self.service_type!r}, {self.mode.value})"


class RealToolFactory(_FactoryBase):
    """Base of factories that build a tool talking to the running service."""

    mode: ClassVar[DependencyMode] = DependencyMode.REAL


class MockToolFactory(_FactoryBase):
    """Base of factories that build an in-memory double (no service running)."""

    mode: ClassVar[DependencyMode] = DependencyMode.MOCK


def factory_name(factory: Any) -> str:
    cls = type(factory)
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class Registration:
    """A factory and where it came from (``builtin``, ``entry point ...``, ``register_factory``)."""

    factory: ToolFactory
    source: str


def endpoint(request: ToolRequest, key: str) -> Any:
    """One connection field of the service; a clear error when the plugin gave none."""
    try:
        return request.endpoints[key]
    except KeyError:
        have = ", ".join(sorted(request.endpoints)) or "none"
        raise ToolResolutionError(
            f"service '{request.service}' (type '{request.spec.type}') has no endpoint "
            f"'{key}' (it has: {have})"
        ) from None


class ToolRegistry:
    """Factories by (service type, mode), with the precedence described in the module doc."""

    def __init__(self, *, builtins: bool = True, entry_points: bool = True) -> None:
        self._builtin: dict[tuple[str, DependencyMode], Registration] = {}
        self._plugins: dict[tuple[str, DependencyMode], list[Registration]] = {}
        self._registered: dict[tuple[str, DependencyMode], Registration] = {}
        self._drift_warned: set[tuple[type[Any], type[Any]]] = set()
        if builtins:
            for plugin in service_plugins().values():
                for factory in plugin.tool_factories():
                    self._builtin[_key(factory)] = Registration(factory, "builtin")
        if entry_points:
            self._load_entry_points()

    # -- registration --------------------------------------------------------------------------
    def register(self, factory: ToolFactory | type[Any], *, source: str = "") -> ToolFactory:
        """Register a factory (or a factory class, instantiated without arguments)."""
        instance = _as_factory(factory, "register_factory")
        where = source or f"register_factory ({factory_name(instance)})"
        self._registered[_key(instance)] = Registration(instance, where)
        return instance

    def unregister(self, service_type: str, mode: DependencyMode) -> None:
        """Forget the factory registered in code for ``(service_type, mode)``."""
        self._registered.pop((service_type, DependencyMode(mode)), None)

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = ep.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin is a user error
                raise ToolResolutionError(
                    f"entry point '{ep.name} = {ep.value}' of group {ENTRY_POINT_GROUP} "
                    f"failed to load: {type(exc).__name__}: {exc}; fix or uninstall the "
                    "package that declares it"
                ) from None
            self.add_entry_point(ep.name, ep.value, loaded)

    def add_entry_point(self, name: str, value: str, loaded: Any) -> None:
        """Add what an entry point of ``envctl.tool_factories`` loaded (used by tests too)."""
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        where = f"entry point '{name} = {value}'"
        for item in items:
            factory = _as_factory(item, where)
            key = _key(factory)
            builtin = self._builtin.get(key)
            if builtin is not None and type(builtin.factory) is type(factory):
                continue  # envctl's own built-ins, if ever declared as an entry point
            self._plugins.setdefault(key, []).append(Registration(factory, where))

    # -- lookup --------------------------------------------------------------------------------
    def lookup(self, service_type: str, mode: DependencyMode) -> Registration | None:
        """The factory to use for ``(service_type, mode)``, or None when there is none."""
        key = (service_type, DependencyMode(mode))
        if key in self._registered:
            return self._registered[key]
        plugins = self._plugins.get(key, [])
        if len(plugins) > 1:
            sources = "; ".join(f"{factory_name(r.factory)} from {r.source}" for r in plugins)
            raise ToolResolutionError(
                f"{len(plugins)} installed packages provide the {mode.value} tool for service "
                f"type '{service_type}' ({sources}); uninstall one, or choose one with "
                "envctl.tools.register_factory(...)"
            )
        if plugins:
            return plugins[0]
        return self._builtin.get(key)

    def service_types(self) -> list[str]:
        keys = {*self._builtin, *self._registered, *self._plugins}
        return sorted({service_type for service_type, _ in keys})

    def pair(self, service_type: str) -> tuple[Registration | None, Registration | None]:
        """The (real, mock) registrations of a service type."""
        return (
            self.lookup(service_type, DependencyMode.REAL),
            self.lookup(service_type, DependencyMode.MOCK),
        )

    def warn_if_drifted(self, service_type: str, *, stacklevel: int = 2) -> None:
        """Warn (once per pair) when the real and mock tools of a type differ in their API."""
        real, mock = self.pair(service_type)
        if real is None or mock is None:
            return
        pair = (real.factory.tool_class, mock.factory.tool_class)
        if pair in self._drift_warned:
            return
        divergences = compare_pair(service_type, real.factory, mock.factory)
        self._drift_warned.add(pair)
        if divergences:
            warnings.warn(
                f"the real and mock tools of service type '{service_type}' differ; a scenario "
                "that passes in one mode may fail in the other:\n"
                + format_divergences(divergences),
                ProtocolDriftWarning,
                stacklevel=stacklevel + 1,
            )


def _key(factory: ToolFactory) -> tuple[str, DependencyMode]:
    return (factory.service_type, DependencyMode(factory.mode))


def _as_factory(item: Any, where: str) -> ToolFactory:
    factory = item() if isinstance(item, type) else item
    missing = [
        name
        for name in ("service_type", "mode", "tool_class", "create")
        if not hasattr(factory, name)
    ]
    if missing:
        raise ToolResolutionError(
            f"{where}: {item!r} is not a tool factory (missing {', '.join(missing)}); "
            "subclass envctl.tools.RealToolFactory or MockToolFactory"
        )
    if not hasattr(factory, "async_tool_class"):
        factory.async_tool_class = None
    return factory


_default: ToolRegistry | None = None


def default_registry() -> ToolRegistry:
    """The process-wide registry: built-ins and entry points, loaded on first use."""
    global _default
    if _default is None:
        _default = ToolRegistry()
    return _default


def register_factory(
    factory: ToolFactory | type[Any], *, registry: ToolRegistry | None = None
) -> ToolFactory:
    """Register a factory in code; it wins over entry points and built-ins of its key."""
    return (registry or default_registry()).register(factory)


# -- resolution --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ToolChoice:
    """Which factory built the tool of one service, and where that factory came from."""

    service: str
    type: str
    mode: DependencyMode
    factory: str | None
    source: str
    tool: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "type": self.type,
            "mode": self.mode.value,
            "factory": self.factory,
            "source": self.source,
            "tool": self.tool,
        }


@dataclass
class ResolvedTools(Mapping[str, Any]):
    """Service name → tool, plus the choices made (for the audit log).

    Services whose type has no tool (``generic`` containers) are not in the mapping but are
    in :attr:`choices`, with ``factory`` None.
    """

    tools: dict[str, Any]
    choices: list[ToolChoice] = field(default_factory=list)
    modes: dict[str, DependencyMode] = field(default_factory=dict)

    def __getitem__(self, service: str) -> Any:
        try:
            return self.tools[service]
        except KeyError:
            known = ", ".join(sorted(self.tools)) or "none"
            raise ToolResolutionError(
                f"no tool for service '{service}' (services with tools: {known})"
            ) from None

    def __contains__(self, service: object) -> bool:
        return service in self.tools

    def get(self, service: str, default: Any = None) -> Any:
        return self.tools.get(service, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tools)

    def __len__(self) -> int:
        return len(self.tools)

    @property
    def audit(self) -> list[dict[str, Any]]:
        """One dict per service: ``{service, type, mode, factory, source, tool}``."""
        return [choice.to_dict() for choice in self.choices]

    def event_bus(self, service: str | None = None) -> EventBus:
        """The event bus of ``service``, or the only one of the scenario."""
        return self._one(EventBus, "event bus", service)  # type: ignore[type-abstract]

    def kv_store(self, service: str | None = None) -> KeyValueStore:
        """The key-value store of ``service``, or the only one of the scenario."""
        return self._one(KeyValueStore, "key-value store", service)  # type: ignore[type-abstract]

    def sql_store(self, service: str | None = None) -> SqlStore:
        """The SQL store of ``service``, or the only one of the scenario."""
        return self._one(SqlStore, "SQL store", service)  # type: ignore[type-abstract]

    def _one(self, kind: type[T], label: str, service: str | None) -> T:
        if service is not None:
            tool = self[service]
            if not isinstance(tool, kind):
                raise ToolResolutionError(f"service '{service}' has no {label}")
            return tool
        found = [name for name, tool in self.tools.items() if isinstance(tool, kind)]
        if len(found) != 1:
            which = f" ({', '.join(found)}); name the service" if found else ""
            raise ToolResolutionError(
                f"the scenario has {len(found)} services with a {label}{which}"
            )
        return self.tools[found[0]]

    def close(self) -> list[str]:
        """Close every tool (sync faces); returns the errors, one per tool that failed."""
        ensure_no_running_loop("ResolvedTools", "close", hint="await tools.aclose()")
        return _close_all(self.tools, lambda tool: tool.close())

    async def aclose(self) -> list[str]:
        """Close every tool from inside an event loop (async faces, then sync ones in a thread)."""
        import asyncio

        errors: list[str] = []
        for name, tool in self.tools.items():
            try:
                face = getattr(tool, "aio", None)
                if face is not None:
                    await face.close()
                await asyncio.to_thread(tool.close)
            except Exception as exc:  # noqa: BLE001 - close everything, report all
                errors.append(f"{name}: {exc}")
        return errors


def _close_all(tools: Mapping[str, Any], close: Callable[[Any], None]) -> list[str]:
    errors: list[str] = []
    for name, tool in tools.items():
        try:
            close(tool)
        except SyncCallInEventLoop:
            raise
        except Exception as exc:  # noqa: BLE001 - close everything, report all
            errors.append(f"{name}: {exc}")
    return errors


def resolve_tools(
    scenario: Scenario,
    endpoints: Mapping[str, Mapping[str, Any]] | None,
    mode: DependencyMode | Mapping[str, DependencyMode],
    *,
    timeouts: Mapping[str, PhaseTimeouts] | None = None,
    namespace: str = "",
    registry: ToolRegistry | None = None,
) -> ResolvedTools:
    """Build the tool of every service of ``scenario``.

    ``endpoints``: ``{service: env.services[service].endpoints}`` of a running
    :class:`~envctl.engine.Environment`; None (or services left out) in mock mode.
    ``mode``: one mode for all services, or a mode per service (services left out use the
    scenario's ``dependency_mode``). ``timeouts``: per service, as the engine resolved them
    (default: the scenario's ``timeout_profiles`` over each type's defaults, unscaled).
    ``namespace``: scopes the mock tools' shared state (use the run id); mock tools of the
    same namespace and service see the same data.
    """
    registry = registry or default_registry()
    tools: dict[str, Any] = {}
    choices: list[ToolChoice] = []
    modes: dict[str, DependencyMode] = {}
    try:
        for name, spec in scenario.external_services.items():
            service_mode = _mode_of(name, mode, scenario)
            modes[name] = service_mode
            registration = registry.lookup(spec.type, service_mode)
            if registration is None:
                other = registry.lookup(spec.type, _other(service_mode))
                if other is not None:
                    raise ToolResolutionError(
                        f"service '{name}' (type '{spec.type}') runs in {service_mode.value} "
                        f"mode, but only a {other.factory.mode.value} tool is registered for "
                        f"that type ({factory_name(other.factory)} from {other.source})"
                    )
                choices.append(
                    ToolChoice(
                        name, spec.type, service_mode, None, f"no tool for type '{spec.type}'"
                    )
                )
                continue
            factory = registration.factory
            request = ToolRequest(
                service=name,
                spec=spec,
                endpoints=_endpoints_of(name, spec.type, service_mode, endpoints),
                timeouts=_timeouts_of(scenario, name, spec.type, timeouts),
                namespace=namespace,
            )
            with registry_building():
                tool = factory.create(request)
            tools[name] = tool
            tool_cls = type(tool)
            choices.append(
                ToolChoice(
                    service=name,
                    type=spec.type,
                    mode=service_mode,
                    factory=factory_name(factory),
                    source=registration.source,
                    tool=f"{tool_cls.__module__}.{tool_cls.__qualname__}",
                )
            )
            registry.warn_if_drifted(spec.type, stacklevel=2)
    except BaseException:
        with contextlib.suppress(Exception):
            _close_all(tools, lambda tool: tool.close())
        raise
    return ResolvedTools(tools=tools, choices=choices, modes=modes)


def _other(mode: DependencyMode) -> DependencyMode:
    return DependencyMode.MOCK if mode == DependencyMode.REAL else DependencyMode.REAL


def _mode_of(
    service: str, mode: DependencyMode | Mapping[str, DependencyMode], scenario: Scenario
) -> DependencyMode:
    if isinstance(mode, Mapping):
        return DependencyMode(mode.get(service, scenario.dependency_mode))
    return DependencyMode(mode)


def _endpoints_of(
    service: str,
    service_type: str,
    mode: DependencyMode,
    endpoints: Mapping[str, Mapping[str, Any]] | None,
) -> Mapping[str, Any]:
    if mode == DependencyMode.MOCK:
        return dict((endpoints or {}).get(service) or {})
    found = (endpoints or {}).get(service)
    if not found:
        raise ToolResolutionError(
            f"service '{service}' (type '{service_type}') is in real mode but has no "
            "endpoints; bring the environment up first and pass "
            "{name: env.services[name].endpoints}"
        )
    return dict(found)


def _timeouts_of(
    scenario: Scenario,
    service: str,
    service_type: str,
    timeouts: Mapping[str, PhaseTimeouts] | None,
) -> PhaseTimeouts:
    if timeouts is not None and service in timeouts:
        return timeouts[service]
    from envctl.services import registry

    plugin = registry.find(service_type)
    defaults = plugin.default_timeouts if plugin is not None else PhaseTimeouts()
    return resolve_timeouts(scenario, service, defaults, None)


def check_protocols(registry: ToolRegistry | None = None) -> list[Divergence]:
    """Every divergence between the real and mock tools of every registered service type."""
    registry = registry or default_registry()
    found: list[Divergence] = []
    for service_type in registry.service_types():
        real, mock = registry.pair(service_type)
        if real is None or mock is None:
            have = real or mock
            assert have is not None
            found.append(
                Divergence(
                    service_type,
                    "sync",
                    "-",
                    "unpaired",
                    qualname(real.factory.tool_class) if real else "-",
                    qualname(mock.factory.tool_class) if mock else "-",
                    f"from {real.source}" if real else "no real factory registered",
                    f"from {mock.source}" if mock else "no mock factory registered",
                )
            )
            continue
        found += compare_pair(service_type, real.factory, mock.factory)
    return found
