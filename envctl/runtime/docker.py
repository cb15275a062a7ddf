"""The Docker engine, through the docker SDK. The only module that talks to Docker."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, cast

from envctl.errors import DockerUnavailable, EnvctlError, ImageNotFound, PortTaken
from envctl.runtime.base import (
    LABEL_MANAGED,
    ContainerFaultState,
    ContainerSpec,
    ExecResult,
    ManagedResource,
)
from envctl.runtime.platform import Platform, oci_architecture

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
PULL_TIMEOUT = 300


def _first_line(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc) or type(exc).__name__
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__


class DockerContainer:
    """A running container of ours, as plugins see it."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self.phase_timings: dict[str, float] = {}

    @property
    def name(self) -> str:
        return str(self._container.name)

    @property
    def id(self) -> str:
        return str(self._container.id)

    def state(self) -> tuple[str, int | None]:
        import docker.errors

        try:
            self._container.reload()
        except docker.errors.NotFound:
            return "removed", None
        state = self._container.attrs.get("State", {})
        return str(state.get("Status", "unknown")), state.get("ExitCode")

    def logs_tail(self, lines: int = 20) -> list[str]:
        import docker.errors

        try:
            raw = cast(bytes, self._container.logs(tail=lines))
        except docker.errors.APIError:
            return []
        return [line for line in raw.decode(errors="replace").splitlines() if line.strip()]

    def logs(self) -> str:
        import docker.errors

        try:
            raw = self._container.logs(stdout=True, stderr=True)
        except docker.errors.APIError:
            return ""
        return raw.decode(errors="replace") if isinstance(raw, bytes) else ""

    def exec(self, command: Sequence[str]) -> ExecResult:
        import docker.errors

        try:
            result = self._container.exec_run(list(command))
        except docker.errors.APIError as exc:
            # e.g. the container stopped: report it like a failed command
            return ExecResult(126, f"cannot exec in {self.name}: {_first_line(exc)}")
        raw = cast(bytes | None, result.output)
        output = raw.decode(errors="replace") if raw else ""
        return ExecResult(int(result.exit_code or 0), output)


REMOTE_ENV = "ENVCTL_REMOTE_ENGINE"
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def remote_engine_host(docker_host: str | None) -> str | None:
    """The machine ``DOCKER_HOST`` names when it is not this one (tcp/ssh to a host other
    than loopback), else None. Only parses: no name is looked up."""
    if not docker_host or "://" not in docker_host:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(docker_host)
    if parts.scheme not in ("tcp", "ssh", "http", "https"):
        return None  # unix://, npipe://: this machine
    host = (parts.hostname or "").lower()
    if not host or host in _LOOPBACK or host.startswith("127."):
        return None
    return host


class DockerRuntime:
    """Creates, lists and removes envctl's containers, networks and volumes."""

    def __init__(self, client: docker.DockerClient, where: str) -> None:
        self.client = client
        self._where = where
        self._image_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._engine_platform: Platform | None = None

    @classmethod
    def connect(cls, environ: Mapping[str, str]) -> DockerRuntime:
        """Reach the daemon as the docker CLI would (DOCKER_HOST, else the default socket)."""
        import docker
        import docker.errors

        host = environ.get("DOCKER_HOST")
        where = f"{host} (from DOCKER_HOST)" if host else f"{DEFAULT_SOCKET} (default socket)"
        remote = remote_engine_host(host)
        if remote is not None and environ.get(REMOTE_ENV, "").strip() != "forwarded":
            # Checked before any connection: nothing is sent to the other machine.
            raise DockerUnavailable(
                f"DOCKER_HOST={host} is an engine on another machine ({remote}): envctl "
                "publishes service ports on that machine's 127.0.0.1 only, which this one "
                f"cannot reach; run envctl on that machine (e.g. ssh {remote} envctl run-all), "
                f"or pin the ports, forward them yourself and set {REMOTE_ENV}=forwarded "
                "(docs/scaling.md, remote engines)"
            )
        try:
            client = docker.from_env(
                environment=dict(environ),
                timeout=120,
                # ssh:// through the system's ssh client (its config, agent and known
                # hosts), as the docker CLI does, instead of paramiko.
                use_ssh_client=bool(host and host.startswith("ssh://")),
            )
            client.ping()
        except docker.errors.DockerException as exc:
            raise DockerUnavailable(
                f"cannot reach the Docker daemon at {where}: {_first_line(exc)}; "
                "start Docker, or set DOCKER_HOST to where it listens"
            ) from None
        return cls(client, where)

    def describe(self) -> str:
        return self._where

    def engine_version(self) -> str:
        """The daemon's version as it reports it (``20.10.24+dfsg1``, ``27.3.1``)."""
        return str(self.client.version().get("Version", ""))

    # -- images ------------------------------------------------------------------------
    def image_status(self, image: str) -> tuple[bool, str]:
        import docker.errors

        try:
            self.client.images.get(image)
            return True, "image present locally"
        except docker.errors.ImageNotFound:
            pass
        try:
            self.client.images.get_registry_data(image)
        except docker.errors.DockerException as exc:
            return False, f"image not present locally and not pullable ({_first_line(exc)})"
        return True, "image pullable from its registry"

    def ensure_image(self, image: str, override_hint: str) -> None:
        import docker.errors

        with self._locks_guard:
            lock = self._image_locks.setdefault(image, threading.Lock())
        with lock:
            try:
                self.client.images.get(image)
                return
            except docker.errors.ImageNotFound:
                pass
            repository, tag = _split_image(image)
            try:
                self.client.images.pull(repository, tag=tag)
            except docker.errors.DockerException as exc:
                raise ImageNotFound(
                    f"image '{image}' is not present locally and could not be pulled "
                    f"({_first_line(exc)}); pull or build it, or set {override_hint} "
                    "to an image you have"
                ) from None

    def image_id(self, image: str) -> str:
        return str(self.client.images.get(image).id)

    def image_platform(self, image: str) -> Platform:
        # lenient: an image without these fields (very old builds) has an unknown platform
        attrs = self.client.images.get(image).attrs
        return Platform(
            str(attrs.get("Os") or ""),
            oci_architecture(str(attrs.get("Architecture") or "")),
            str(attrs.get("Variant") or ""),
        )

    def engine_platform(self) -> Platform:
        if self._engine_platform is None:
            info = self.client.info()
            self._engine_platform = Platform(
                str(info.get("OSType") or ""), oci_architecture(str(info.get("Architecture") or ""))
            )
        return self._engine_platform

    # -- create ------------------------------------------------------------------------
    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        self.client.networks.create(name, driver="bridge", labels=dict(labels))

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        self.client.volumes.create(name, labels=dict(labels))

    def run_container(self, spec: ContainerSpec) -> DockerContainer:
        import docker.errors

        ports: dict[str, Any] = {
            f"{p.container}/{p.protocol}": ("127.0.0.1", p.host) for p in spec.ports
        }
        volumes = {src: {"bind": dst, "mode": "rw"} for src, dst in spec.volumes.items()}
        t0 = time.monotonic()
        container = self.client.containers.create(
            spec.image,
            command=list(spec.command) if spec.command is not None else None,
            entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
            name=spec.name,
            hostname=spec.aliases[0] if spec.aliases else None,
            environment=dict(spec.env),
            labels=dict(spec.labels),
            ports=ports,
            volumes=volumes or None,
            network=spec.network,
            networking_config={
                spec.network: self.client.api.create_endpoint_config(aliases=list(spec.aliases))
            },
            detach=True,
        )
        try:
            t1 = time.monotonic()
            container.start()
        except docker.errors.APIError as exc:
            text = _first_line(exc)
            if "port is already allocated" in text or "address already in use" in text:
                taken = ", ".join(f"127.0.0.1:{p.host}" for p in spec.ports)
                raise PortTaken(
                    f"cannot publish {taken} for container {spec.name}: the port is already "
                    "in use; free it or pin another port in the scenario's ports"
                ) from None
            raise
        handle = DockerContainer(container)
        handle.phase_timings = {"create": t1 - t0, "start": time.monotonic() - t1}
        return handle

    # -- list and remove ------------------------------------------------------------------
    def container(self, name: str) -> DockerContainer | None:
        """The container called ``name``, when it exists."""
        import docker.errors

        try:
            return DockerContainer(self.client.containers.get(name))
        except docker.errors.NotFound:
            return None

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        filters = [f"{LABEL_MANAGED}=true"] + [f"{k}={v}" for k, v in (labels or {}).items()]
        found: list[ManagedResource] = []
        # sparse: the list call alone, so a container removed meanwhile cannot fail it
        for c in self.client.containers.list(all=True, sparse=True, filters={"label": filters}):
            attrs = c.attrs
            name = (attrs.get("Names") or [""])[0].lstrip("/")
            found.append(
                ManagedResource(
                    "container",
                    attrs["Id"],
                    name,
                    attrs.get("Labels") or {},
                    attrs.get("State", ""),
                )
            )
        for n in self.client.networks.list(filters={"label": filters}):
            found.append(ManagedResource("network", n.id or "", n.name or "", n.attrs["Labels"]))
        for v in self.client.volumes.list(filters={"label": filters}):
            found.append(
                ManagedResource("volume", v.id or "", v.name or "", v.attrs.get("Labels") or {})
            )
        return found

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        import docker.errors

        errors: list[str] = []

        def remove_one(resource: ManagedResource) -> None:
            try:
                if resource.kind == "container":
                    self.client.api.remove_container(resource.id, force=True, v=True)
                elif resource.kind == "network":
                    self.client.api.remove_network(resource.id)
                else:
                    self.client.api.remove_volume(resource.id, force=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if "removal of container" in str(exc) and "already in progress" in str(exc):
                    return
                errors.append(f"{resource.kind} {resource.name}: {_first_line(exc)}")

        # Containers first (they hold networks and volumes), then networks, then volumes;
        # each kind in parallel.
        for kind in ("container", "network", "volume"):
            batch = [r for r in resources if r.kind == kind]
            if not batch:
                continue
            with ThreadPoolExecutor(max_workers=min(8, len(batch))) as pool:
                list(pool.map(remove_one, batch))
        return errors

    # -- container control (fault injection) --------------------------------------------------
    def _control(self, what: str, name: str, call: Any) -> None:
        import docker.errors

        try:
            call()
        except docker.errors.NotFound:
            raise ContainerControlFailed(
                f"cannot {what} container {name}: it does not exist"
            ) from None
        except docker.errors.APIError as exc:
            raise ContainerControlFailed(
                f"cannot {what} container {name}: {_first_line(exc)}"
            ) from None

    def fault_state(self, name: str) -> ContainerFaultState:
        import docker.errors

        try:
            attrs = self.client.api.inspect_container(name)
        except docker.errors.NotFound:
            return ContainerFaultState("removed")
        state = attrs.get("State") or {}
        host = attrs.get("HostConfig") or {}
        settings = attrs.get("NetworkSettings") or {}
        ports: dict[str, int] = {}
        for port, bindings in (settings.get("Ports") or {}).items():
            for binding in bindings or []:
                if binding.get("HostPort"):
                    ports[port] = int(binding["HostPort"])
        return ContainerFaultState(
            status=str(state.get("Status", "unknown")),
            networks=tuple(sorted((settings.get("Networks") or {}).keys())),
            nano_cpus=int(host.get("NanoCpus") or 0),
            memory=int(host.get("Memory") or 0),
            memory_swap=int(host.get("MemorySwap") or 0),
            ports=ports,
        )

    def pause(self, name: str) -> None:
        self._control("pause", name, lambda: self.client.api.pause(name))

    def unpause(self, name: str) -> None:
        self._control("unpause", name, lambda: self.client.api.unpause(name))

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._control("kill", name, lambda: self.client.api.kill(name, signal=signal))

    def stop(self, name: str, timeout: float = 10.0) -> None:
        self._control(
            "stop", name, lambda: self.client.api.stop(name, timeout=max(0, int(timeout)))
        )

    def start(self, name: str) -> None:
        # The host ports were chosen explicitly at create time, so Docker binds the same ones.
        self._control("start", name, lambda: self.client.api.start(name))

    def disconnect_network(self, name: str, network: str) -> None:
        self._control(
            f"disconnect from {network}",
            name,
            lambda: self.client.api.disconnect_container_from_network(name, network),
        )

    def connect_network(self, name: str, network: str, aliases: Sequence[str]) -> None:
        self._control(
            f"connect to {network}",
            name,
            lambda: self.client.api.connect_container_to_network(
                name, network, aliases=list(aliases) or None
            ),
        )

    def update_limits(
        self,
        name: str,
        *,
        nano_cpus: int | None = None,
        memory: int | None = None,
        memory_swap: int | None = None,
    ) -> None:
        # Docker 20.10's update API cannot remove a limit (0 means "unchanged"), so
        # "unlimited" is written as the host's capacity: all its CPUs, all its memory, and
        # unlimited swap. cgroup v1 refuses a memory limit above the current swap limit, so
        # memory is raised with a finite swap limit first, then swap is made unlimited.
        # The SDK's update_container has no nano_cpus: post the fields directly.
        cpus, total = self.host_capacity()
        bodies: list[dict[str, int]] = []
        if nano_cpus is not None:
            bodies.append({"NanoCpus": nano_cpus or cpus})
        if memory is not None and memory:
            bodies.append({"Memory": memory, "MemorySwap": memory_swap or memory})
        elif memory is not None:
            bodies.append({"Memory": total, "MemorySwap": 2 * total})
            bodies.append({"Memory": total, "MemorySwap": -1})

        def call() -> None:
            api: Any = self.client.api
            for body in bodies:
                response = api._post_json(api._url("/containers/{0}/update", name), data=body)
                api._raise_for_status(response)

        self._control("update the limits of", name, call)

    def wait_removed(self, name: str) -> None:
        """Block until the container is removed (at once when it does not exist)."""
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self.client.api.wait(name, timeout=None, condition="removed")

    def host_capacity(self) -> tuple[int, int]:
        """``(nano_cpus, memory bytes)`` of the engine's host: what "unlimited" is written as."""
        info = self.client.info()
        return int(info.get("NCPU", 1)) * 1_000_000_000, int(info.get("MemTotal", 0))


def engine_version(environ: Mapping[str, str]) -> str | None:
    """The version of the Docker Engine that ``environ`` reaches (as
    :meth:`DockerRuntime.connect` reaches it); None when no daemon answers."""
    import docker.errors

    try:
        runtime = DockerRuntime.connect(environ)
    except DockerUnavailable:
        return None
    try:
        return runtime.engine_version() or None
    except docker.errors.DockerException:
        return None
    finally:
        runtime.client.close()


class ContainerControlFailed(EnvctlError):
    """The engine refused a pause, stop, network or limit change on a container."""


def _split_image(image: str) -> tuple[str, str]:
    if "@" in image:
        return image, ""
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return image, "latest"
    return name, tag
