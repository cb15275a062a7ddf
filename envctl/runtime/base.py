"""The runtime seam: what the engine needs from whatever runs containers.

Only implementations in this package talk to Docker. Plugins and the engine see the
small, engine-neutral shapes defined here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from envctl.runtime.platform import Platform

LABEL_MANAGED = "io.envctl.managed"
LABEL_RUN_ID = "io.envctl.run-id"
LABEL_SCENARIO = "io.envctl.scenario"
LABEL_SERVICE = "io.envctl.service"
LABEL_TYPE = "io.envctl.type"
LABEL_OWNER_HOST = "io.envctl.owner-host"
LABEL_OWNER_PID = "io.envctl.owner-pid"
LABEL_OWNER_BOOT = "io.envctl.owner-boot-id"
LABEL_OWNER_PIDNS = "io.envctl.owner-pidns"
LABEL_OWNER_START = "io.envctl.owner-start"
"""With the pid: the owner's kernel boot id, PID namespace inode and process start time
(see envctl/owner.py)."""
LABEL_CREATED = "io.envctl.created"
LABEL_ENDPOINTS = "io.envctl.endpoints"
LABEL_DETACHED = "io.envctl.detached"
LABEL_WARM = "io.envctl.warm"
"""The content key of a warm instance (envctl.warm): kept by leases and an idle TTL."""
LABEL_WARM_TTL = "io.envctl.warm-ttl"
"""On a run's marker volume: the run was left up on purpose (`envctl up`); gc keeps it."""


@dataclass(frozen=True)
class PublishedPort:
    """A container port and the 127.0.0.1 host port it is published on."""

    container: int
    host: int
    protocol: str = "tcp"
    pinned: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything needed to create one container, in envctl's words."""

    name: str
    image: str
    network: str
    aliases: Sequence[str]
    labels: Mapping[str, str]
    env: Mapping[str, str] = field(default_factory=dict)
    ports: Sequence[PublishedPort] = ()
    command: Sequence[str] | None = None
    entrypoint: Sequence[str] | None = None
    volumes: Mapping[str, str] = field(default_factory=dict)
    """Volume or host path -> container path."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


class ContainerHandle(Protocol):
    """What plugins may do with a running container of theirs."""

    phase_timings: dict[str, float]
    """Seconds the engine spent creating and starting it (``create``, ``start``)."""

    @property
    def name(self) -> str: ...

    def state(self) -> tuple[str, int | None]:
        """``(status, exit_code)``; status is e.g. ``running`` or ``exited``."""
        ...

    def logs_tail(self, lines: int = 20) -> list[str]: ...

    def logs(self) -> str:
        """The container's whole log so far (stdout and stderr); empty when unreadable."""
        ...

    def exec(self, command: Sequence[str]) -> ExecResult: ...


@dataclass(frozen=True)
class ManagedResource:
    """A container, network or volume that carries envctl's labels."""

    kind: str  # container | network | volume
    id: str
    name: str
    labels: Mapping[str, str]
    status: str = ""

    @property
    def run_id(self) -> str:
        return self.labels.get(LABEL_RUN_ID, "")

    @property
    def scenario(self) -> str:
        return self.labels.get(LABEL_SCENARIO, "")

    @property
    def service(self) -> str:
        return self.labels.get(LABEL_SERVICE, "")


class Runtime(Protocol):
    """The one seam that touches the container engine."""

    def describe(self) -> str:
        """Where the engine is, for messages (e.g. ``unix:///var/run/docker.sock``)."""
        ...

    def create_network(self, name: str, labels: Mapping[str, str]) -> None: ...

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None: ...

    def image_status(self, image: str) -> tuple[bool, str]:
        """Whether ``image`` can be had (present, or pullable) and how that was found out."""
        ...

    def ensure_image(self, image: str, override_hint: str) -> None:
        """Raise :class:`~envctl.errors.ImageNotFound` when absent and not pullable."""
        ...

    def image_id(self, image: str) -> str:
        """The content digest of a present image (``sha256:...``): a rebuilt tag differs."""
        ...

    def image_platform(self, image: str) -> Platform:
        """The OS and architecture a present image says it is built for."""
        ...

    def engine_platform(self) -> Platform:
        """The OS and architecture of the engine's machine (``linux/amd64``)."""
        ...

    def run_container(self, spec: ContainerSpec) -> ContainerHandle: ...

    def container(self, name: str) -> ContainerHandle | None:
        """An existing container by name (e.g. one a previous command started)."""
        ...

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]: ...

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        """Remove containers, then networks, then volumes. Returns errors, never raises."""
        ...


@dataclass(frozen=True)
class ContainerFaultState:
    """What fault injection can change on a container, as the engine sees it now."""

    status: str
    """``running``, ``paused``, ``exited``, ``removed``, ..."""
    networks: tuple[str, ...] = ()
    nano_cpus: int = 0
    """CPU limit in billionths of a CPU (0: unlimited)."""
    memory: int = 0
    """Memory limit in bytes (0: unlimited)."""
    memory_swap: int = 0
    ports: Mapping[str, int] = field(default_factory=dict)
    """``"<port>/tcp"`` -> the 127.0.0.1 host port it is published on (empty when stopped)."""


@runtime_checkable
class ContainerControl(Protocol):
    """What fault injection needs of a runtime, by container name.

    A separate protocol so a runtime without containers (native processes) is still a
    :class:`Runtime`; fault injection checks ``isinstance(runtime, ContainerControl)``.
    Every method raises :class:`~envctl.errors.EnvctlError` subclasses on failure.
    """

    def fault_state(self, name: str) -> ContainerFaultState: ...

    def pause(self, name: str) -> None: ...

    def unpause(self, name: str) -> None: ...

    def kill(self, name: str, signal: str = "SIGKILL") -> None: ...

    def stop(self, name: str, timeout: float = 10.0) -> None: ...

    def start(self, name: str) -> None:
        """Start a stopped container again: same ports (host ports are explicit), same data."""
        ...

    def disconnect_network(self, name: str, network: str) -> None: ...

    def connect_network(self, name: str, network: str, aliases: Sequence[str]) -> None: ...

    def update_limits(
        self,
        name: str,
        *,
        nano_cpus: int | None = None,
        memory: int | None = None,
        memory_swap: int | None = None,
    ) -> None:
        """Set CPU and/or memory limits on a running container (0: unlimited, None: as is;
        ``memory_swap`` None: no swap beyond ``memory``).

        Docker cannot remove a limit once set: "unlimited" is then the host's capacity
        (see :meth:`host_capacity`)."""
        ...

    def wait_removed(self, name: str) -> None:
        """Block until the container is removed (returns at once when it does not exist)."""
        ...

    def host_capacity(self) -> tuple[int, int]:
        """``(nano_cpus, memory bytes)`` of the host: the values "unlimited" is written as."""
        ...
