"""The shape every service plugin has: the one interface through which code outside a
type's package (``envctl/services/<type>/``) learns anything about the type.

A service type is a package with a ``*Spec`` config model and a :class:`ServicePlugin`
subclass, registered in the entry-point group ``envctl.services``
(:mod:`envctl.services.registry`, docs/service-plugins.md). The engine owns the order the
lifecycle hooks run in:

    ports() -> container_spec() -> [container starts] -> probe() until ready
    -> setup() -> seed() -> [the scenario runs; snapshot() / restore() on request]
    -> cleanup_resources(kinds) for what the cleanup_after policy removes

The other hooks (export health checks, compose import, snapshot diffs, mock seeding,
shared instances, capabilities for steps, ...) have defaults that fit a type with nothing to
say. Lazy imports: heavy client libraries (confluent-kafka, psycopg, redis) and a type's own
data, diff, tool and factory modules are imported inside the hooks, for start-up speed —
every registered plugin is loaded with the scenario model.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from envctl.errors import SeedError, ServiceFailed, SnapshotError
from envctl.namespace import Namespace
from envctl.runtime.base import ContainerHandle
from envctl.scenario.paths import BindMountPolicy
from envctl.scenario.spec import PortMapping, ServiceSpecBase, service_variable
from envctl.scenario.timeouts import PhaseTimeouts  # a plugin's default_timeouts
from envctl.seed.paths import resolve_seed_path
from envctl.services.healthcheck import HealthCheck, NoHealthCheck

if TYPE_CHECKING:
    from envctl.services.native import NativeContext, NativeProvider

SpecT = TypeVar("SpecT", bound=ServiceSpecBase)

Endpoints = dict[str, Any]
"""Connection fields of a service, e.g. ``{"bootstrap_servers": "127.0.0.1:49153"}``."""


@dataclass
class ServiceContext:
    """What a plugin knows about the run it is part of."""

    run_id: str
    scenario: str
    service: str
    network_alias: str
    timeouts: PhaseTimeouts
    image: str = ""
    scenario_dir: Path | None = None
    """Folder of the scenario file: relative paths in it (volumes, seed files) start here."""
    namespace: Namespace | None = None
    """The run's logical -> physical names; None: the default templates."""
    scenario_root: Path | None = None
    """The scenario tree; seed files may not leave it. None: ``scenario_dir``."""
    allowed_roots: tuple[Path, ...] = ()
    """Besides the scenario tree: the project root and the project config's
    ``allowed_paths`` — where bind-mounted host paths may be."""
    allow_docker_socket: bool = False
    """The project config's ``allow_docker_socket``: the only way a container gets it."""


@dataclass
class ServiceHandle:
    """A service that exists: how to reach it and, for docker mode, its container."""

    name: str
    endpoints: Endpoints
    container: ContainerHandle | None = None
    resources: dict[str, list[str]] = field(default_factory=dict)
    """What setup created, by kind (``topics``: [...]), for reports and cleanup."""
    clients: dict[str, Any] = field(default_factory=dict, repr=False)
    """Clients a plugin keeps for this service across calls (an admin client, a connection
    pool); shared by the namespaces of a warm instance."""
    abort: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)
    """Set when the run is given up (Ctrl-C, SIGTERM, another service failed): :meth:`setup`
    and :meth:`seed` work that waits on the service checks it between short waits and
    stops, instead of running to its timeout against a service that is being removed."""


def mask_url(url: str) -> str:
    """``scheme://user:secret@host/...`` -> ``scheme://user:***@host/...``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def with_password(url: str, password: str) -> str:
    """The same URL with ``password`` in its user info (URL-quoted)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def tcp_address(port: tuple[int, int, str] | None) -> str | None:
    """``127.0.0.1:<host port>`` of a published (container, host, protocol) TCP port."""
    if port is None or port[2] != "tcp":
        return None
    return f"127.0.0.1:{port[1]}"


def secret(endpoints: Endpoints, key: str) -> Any:
    """The secret form of a field when there is one (``_dsn`` over ``dsn``)."""
    return endpoints.get(f"_{key}", endpoints.get(key))


PROBE_ATTEMPT_MAX = 2.0
"""Seconds one readiness attempt (one :meth:`ServicePlugin.probe` call) may take; the overall
wait is the health_check timeout."""


class ProbeFailed(Exception):
    """One readiness attempt failed; the message says why (shown if the deadline passes)."""


class ProbeRefused(ProbeFailed):
    """The service answered and refused (a wrong password, an unknown database): waiting
    cannot help, so the wait ends at once with this message."""


class ServicePlugin(ABC, Generic[SpecT]):
    """One service type. Subclasses fill in the hooks; the engine runs them in order."""

    type_name: ClassVar[str]
    spec_model: ClassVar[type[ServiceSpecBase]]
    default_image: ClassVar[str]
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts()
    client_modules: ClassVar[tuple[str, ...]] = ()
    """Client libraries the hooks import; the engine loads them in the background early."""
    service_port: ClassVar[int | None] = None
    """The port clients use (9092, 5432, ...): always published, pinned by ``ports``."""

    def __init__(self, spec: SpecT, context: ServiceContext) -> None:
        self.spec = spec
        self.context = context

    # -- docker mode ---------------------------------------------------------------
    def ports(self) -> list[PortMapping]:
        """Container ports to publish: the type's own (its host port pinned when the
        scenario's ``ports`` name it) plus the scenario's other ``ports``."""
        main = self.service_port
        if main is None:
            return list(self.spec.ports)
        # the client port is TCP: "9092/udp" publishes a UDP port beside it, never instead
        own = [p for p in self.spec.ports if p.container == main and p.protocol == "tcp"]
        others = [p for p in self.spec.ports if p not in own]
        return (own or [PortMapping(container=main)]) + others

    @abstractmethod
    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        """Environment of the container, before the scenario's ``env`` is laid over it."""

    def container_command(self) -> list[str] | None:
        """Command of the container; None keeps the image's own."""
        return None

    def container_volumes(self) -> dict[str, str]:
        """Absolute host path, or a volume name, -> container path. Default: none.

        A volume name is scoped to the run by the engine, which creates it with envctl's
        labels (so cleanup finds it) before the container starts.
        """
        return {}

    @abstractmethod
    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        """Connection fields for clients on this host, from the published ports."""

    # -- native runtime --------------------------------------------------------------
    native_module: ClassVar[str | None] = None
    """The module with this type's native provider (a ``provider(plugin, context)``
    function, see :mod:`envctl.services.native`); None: the type runs in Docker only."""

    def native(self, context: NativeContext) -> NativeProvider[Any] | None:
        """This service as a local process, or None when the type has no native form."""
        if self.native_module is None:
            return None
        import importlib

        provider: NativeProvider[Any] = importlib.import_module(self.native_module).provider(
            self, context
        )
        return provider

    # -- external / cloud mode -----------------------------------------------------
    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        """Connection fields for an already-running service at ``url``.

        ``credentials`` are the ``ENVCTL_<SERVICE>_*`` environment variables with that prefix
        removed (``PASSWORD``, ``SASL_USERNAME``, ...): secrets come only from there, never
        from the scenario file. Secret fields go under keys starting with ``_``; they are
        used to connect but never printed, labelled or logged.
        """

        raise ServiceFailed(
            self.context.service, f"service type '{self.type_name}' has no external mode"
        )

    def attach(self, environ: Mapping[str, str]) -> ServiceHandle:
        """The handle of an external or cloud service: its address from
        ``ENVCTL_<SERVICE>_URL`` (else the scenario's ``url``), its credentials from the
        other ``ENVCTL_<SERVICE>_*`` variables."""

        service = self.context.service
        variable = service_variable(service, "URL")
        url = environ.get(variable) or self.spec.url
        if not url:
            raise ServiceFailed(
                service,
                f"mode: {self.spec.mode.value} needs an address: set url: in the scenario "
                f"or {variable}",
            )
        prefix = service_variable(service)
        credentials = {
            key[len(prefix) :]: value
            for key, value in environ.items()
            if key.startswith(prefix) and key != variable
        }
        return ServiceHandle(name=service, endpoints=self.external_endpoints(url, credentials))

    # -- lifecycle -------------------------------------------------------------------
    @abstractmethod
    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        """One readiness attempt over the service's real protocol; raise ProbeFailed."""

    def setup(self, handle: ServiceHandle, timeout: float) -> None:
        """Create the scenario's resources (topics, databases, keys). Default: nothing."""

    data_module: ClassVar[str | None] = None
    """The module with this type's data hooks (``seed``, ``cleanup``, ``snapshot``,
    ``restore`` functions taking the plugin first), imported only when data is handled."""

    def _data(self) -> Any:
        import importlib

        assert self.data_module is not None
        return importlib.import_module(self.data_module)

    def seed(self, handle: ServiceHandle, timeout: float) -> None:
        """Load the scenario's seed data, after :meth:`setup`; done when confirmed (Kafka:
        delivery reports). Bounded by ``timeout`` (the ``seed`` phase). Default: nothing."""
        if self.data_module is not None:
            self._data().seed(self, handle, timeout)

    def cleanup_resources(
        self, handle: ServiceHandle, timeout: float, kinds: Collection[str] | None = None
    ) -> None:
        """Remove what the run created inside the service (topics, groups, databases, keys);
        used when the service outlives the run. ``kinds`` limits it to those cleanup_after
        kinds (:attr:`resource_kinds`); None removes everything."""
        if self.data_module is not None:
            self._data().cleanup(self, handle, timeout, kinds)

    # -- warm instances (envctl.warm) -------------------------------------------------
    warm_version: ClassVar[str] = "1"
    """Bump when the plugin changes what its containers do: instances of an older version
    are then not reused."""
    per_run_fields: ClassVar[frozenset[str]] = frozenset({"seed"})
    """Spec fields that live in a run's namespace (topics, databases, seeds), not in the
    container: a change to them does not need another instance."""

    @classmethod
    def warm_refusal(cls, spec: ServiceSpecBase) -> str | None:
        """Why a service of this spec cannot be shared by runs as a warm instance (None:
        it can). Default: it can when its data lives in per-run namespaces."""
        return None if cls.resource_kinds else f"type '{cls.type_name}' has no per-run namespace"

    @classmethod
    def warm_shape(cls, spec: ServiceSpecBase) -> dict[str, Any]:
        """The spec fields that shape the container: part of a warm instance's key."""
        skip = set(cls.per_run_fields) | {
            "required",
            "cleanup_after",
            "snapshot",
            "fallback",
            "dependency_mode",
        }
        shaped: dict[str, Any] = spec.model_dump(mode="json", exclude=skip, by_alias=True)
        return shaped

    def acquire_namespace(self, handle: ServiceHandle, timeout: float) -> None:
        """Give the run its own namespace on an already running (warm) service: by default
        what a fresh service gets — :meth:`setup`, then :meth:`seed`."""
        self.setup(handle, timeout)
        self.seed(handle, self.context.timeouts.seed)

    def release_namespace(self, handle: ServiceHandle, timeout: float) -> None:
        """Remove the run's namespace from a warm service (runs in the background)."""
        self.cleanup_resources(handle, timeout)

    # -- data: snapshots, inspection ---------------------------------------------------
    resource_kinds: ClassVar[tuple[str, ...]] = ()
    """The cleanup_after kinds of data this type keeps inside the service (``topics``,
    ``consumer_groups``, ``databases``); containers and volumes are the engine's."""
    supports_snapshot: ClassVar[bool] = False

    def snapshot(
        self, handle: ServiceHandle, target: Path, options: SnapshotOptions
    ) -> SnapshotResult:
        """Write the state of the run's data into the folder ``target`` (readable files)."""
        if not self.supports_snapshot:
            raise self._no_snapshots()
        result: SnapshotResult = self._data().snapshot(self, handle, target, options)
        return result

    def restore(self, handle: ServiceHandle, source: Path, timeout: float) -> list[str]:
        """Bring the run's data back to the snapshot in ``source``; returns notes."""
        if not self.supports_snapshot:
            raise self._no_snapshots()
        notes: list[str] = self._data().restore(self, handle, source, timeout)
        return notes

    def reach(self, handle: ServiceHandle) -> dict[str, str]:
        """How a person reaches the run's data, by resource kind (for kept resources)."""
        return {}

    def data_lost_on_restart(self) -> str | None:
        """Why this service comes back empty when its process restarts (a memory-only
        store), or None when it keeps its data as a server with a disk does. A fault with
        ``needs_durable_storage: true`` skips its scenario when this says why."""
        return None

    def _no_snapshots(self) -> Exception:
        return SnapshotError(
            f"service '{self.context.service}' is of type '{self.type_name}', which has no "
            "snapshot support (kafka, postgres and redis have)"
        )

    # -- what code outside the type's package asks -------------------------------------
    # Hooks with a default fit a type that has nothing to say; a type overrides what
    # applies to it. Class methods need no running service (export, import, planning).

    serves: ClassVar[frozenset[str]] = frozenset()
    """What steps and ``expected:`` may ask a service of this type for, by the protocol of
    its tool: ``event_bus`` (publish, expect_message, consume; expected messages), ``sql``
    (the sql step; expected rows), ``key_value`` (the redis step; expected keys), ``http``
    (the http step)."""

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        """The probe said as a command inside the container, for tools that start it
        themselves (GitHub job services, compose); ``start_period``: the health_check
        timeout."""
        return NoHealthCheck(f"service type '{cls.type_name}' has no health check")

    @classmethod
    def external_url(
        cls,
        spec: ServiceSpecBase,
        endpoints: Mapping[str, Any],
        ports: Sequence[tuple[int, int, str]],
    ) -> str | None:
        """What ``ENVCTL_<SERVICE>_URL`` says when the container runs elsewhere (a GitHub job
        service) and envctl attaches in external mode. ``ports``: (container port, host
        port, protocol) in the scenario's order. Default: the ``url`` endpoint, else the
        first port when it is TCP."""
        if "url" in endpoints:
            return str(endpoints["url"])
        return tcp_address(ports[0] if ports else None)

    standard_compose: ClassVar[bool] = False
    """A ready-made compose file of this type alone ships in ``compose/``."""

    @classmethod
    def recognizes_compose_image(cls, name: str) -> bool:
        """Whether a compose service running image ``name`` (last path part, no tag) is
        imported as this type rather than as a generic container."""
        return False

    @classmethod
    def compose_image_note(cls, name: str) -> str | None:
        """A note for an image of this kind imported as a generic container."""
        return None

    @classmethod
    def compose_fields(cls, env: dict[str, str], note: Callable[[str], None]) -> dict[str, Any]:
        """Spec fields read from an imported compose service's environment (the variables
        used are removed from ``env``)."""
        return {}

    def resource_names(self, kind: str, handle: ServiceHandle | None) -> list[str]:
        """The physical names of the run's resources of cleanup kind ``kind``, for reports
        (patterns where the names are not listed)."""
        resources = handle.resources if handle is not None else {}
        return list(resources.get(kind, []))

    @classmethod
    def resources_phrase(cls, kinds: Collection[str]) -> str:
        """How to say what removing ``kinds`` of this type removed (``topics, ...``)."""
        return ", ".join(kinds)

    @classmethod
    def diff_snapshots(cls, before: Path, after: Path) -> dict[str, Any]:
        """The changes between two snapshot folders of one service (pure, from files)."""
        return {"changed": False, "note": f"type '{cls.type_name}' has no snapshot support"}

    @classmethod
    def format_snapshot_diff(cls, diff: dict[str, Any]) -> list[str]:
        """Lines saying :meth:`diff_snapshots`'s result to a person."""
        return []

    @classmethod
    def snapshot_summary(cls, details: Mapping[str, Any]) -> str:
        """A snapshot manifest's details said in a few words (``3 keys``)."""
        return cls.type_name

    has_topics: ClassVar[bool] = False
    """The type keeps topics that ``envctl topics`` can describe."""

    def describe_topics(self, handle: ServiceHandle, last: int) -> list[dict[str, Any]]:
        """The run's topics: names, partitions, counts and the ``last`` newest messages."""
        raise NotImplementedError(f"service type '{self.type_name}' has no topics")

    @classmethod
    def tool_factories(cls) -> Sequence[Any]:
        """The type's own tool factories (real and mock), the tool registry's built-ins for
        it (:mod:`envctl.tools.registry`); another package may still register others."""
        return ()

    @classmethod
    def namespaced_tool(cls, tool: Any, namespace: Namespace) -> Any:
        """The real tool speaking the run's logical names (topics, keys); default: as is."""
        return tool

    @classmethod
    def seed_mock(cls, tool: Any, seed: Any, path: Path, service: str) -> None:
        """Load one seed entry's file (already resolved) into the type's in-memory double."""
        raise SeedError(
            str(path), None, f"service '{service}': type '{cls.type_name}' has no mock seeding"
        )

    shares_by_namespace: ClassVar[bool] = False
    """Scenarios sharing one instance of this type (run-all) are kept apart by the run's
    namespace (topic and group names, a key prefix), so they can run side by side."""

    @classmethod
    def prepare_shared(cls, spec: ServiceSpecBase, tool: Any) -> None:
        """Create a scenario's declared resources in its namespace on a shared instance."""

    @classmethod
    def reset_shared(cls, spec: ServiceSpecBase, tool: Any, isolated: bool) -> None:
        """Remove what a scenario left on a shared instance (``isolated``: only its
        namespace's), ready for the next scenario."""

    @classmethod
    def seed_entry_problems(
        cls, spec: Mapping[str, Any], entry: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        """Problems of one raw ``seed:`` entry against its raw service, as (key, message),
        found before validation so they carry the file's line numbers."""
        return []

    @classmethod
    def bind_mount_problems(
        cls, spec: ServiceSpecBase, scenario_dir: Path, policy: BindMountPolicy
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Host paths of a validated spec that ``policy`` refuses, as (key path under the
        service, message); relative paths start at ``scenario_dir``. Checked when the scenario
        is loaded, so ``envctl validate`` reports them with the file's line numbers."""
        return []

    @property
    def namespace(self) -> Namespace:
        ns = self.context.namespace
        return ns if ns is not None else Namespace(self.context.run_id, self.context.scenario)

    def seed_file(self, relative: str) -> Path:
        """A seed file's path: relative to the scenario file, never outside the tree."""

        return resolve_seed_path(
            relative, self.context.scenario_dir, self.context.scenario_root, self.context.service
        )


@dataclass(frozen=True)
class SnapshotOptions:
    """How to take a snapshot."""

    max_messages: int = 100_000
    """Kafka: the newest this many messages per partition are kept."""
    name: str = ""
    """The snapshot's name (plugins may keep a fast-restore copy under it)."""
    timeout: float = 120.0


@dataclass
class SnapshotResult:
    """What a plugin's snapshot holds, for the manifest."""

    truncated: bool = False
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
