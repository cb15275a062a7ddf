"""Any container: an image, a command, ports, volumes, and a readiness probe chosen in the scenario.

Probes (``probe:``, exactly one; leave it out to wait only for the container to run):
- ``{tcp: {port: 8080}}``: a TCP connection to the published 127.0.0.1 port is accepted and
  held open (Docker's port proxy accepts and then closes connections while nothing listens
  inside the container, so a connection closed at once does not count);
- ``{http: {port: 8080, path: /health, status: 200}}``: a GET answers that status (any 2xx
  when ``status`` is unset);
- ``{exec: {command: [pg_isready, -h, db]}}``: the command exits 0 inside the container
  (a string runs through ``sh -c``);
- ``{log: {pattern: "listening on"}}``: the regular expression matches the container's log.
"""

from __future__ import annotations

import re
import shlex
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from envctl.runtime.base import ExecResult
from envctl.scenario.paths import BindMountPolicy
from envctl.scenario.spec import PortMapping, ScalarStr, ServiceMode, ServiceSpecBase, StrictModel
from envctl.services.base import (
    Endpoints,
    ProbeFailed,
    ServiceHandle,
    ServicePlugin,
    tcp_address,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck

HOLD_OPEN = 0.25
"""Seconds a TCP probe's connection must stay open to count (see the module docstring)."""

EXEC_MIN_WAIT = 1.0
"""Seconds an exec probe may always take (starting a process in a container costs ~0.1 s)."""

VOLUME_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _split_command(value: Any) -> Any:
    # Like compose: a string command is split into words, not run by a shell.
    return shlex.split(value) if isinstance(value, str) else value


def _shell_command(value: Any) -> Any:
    # Like a compose healthcheck: a string runs through the container's shell.
    return ["sh", "-c", value] if isinstance(value, str) else value


def _not_empty(command: list[str]) -> list[str]:
    if not command:
        raise ValueError("command is empty; give at least the program to run")
    return command


Command = Annotated[list[ScalarStr], BeforeValidator(_split_command), AfterValidator(_not_empty)]
ShellCommand = Annotated[
    list[ScalarStr], BeforeValidator(_shell_command), AfterValidator(_not_empty)
]


class TcpProbe(StrictModel):
    """Ready when a TCP connection to the container port is accepted and held open."""

    port: int = Field(ge=1, le=65535, description="Container port (published automatically).")

    @model_validator(mode="before")
    @classmethod
    def _from_port(cls, value: Any) -> Any:
        return {"port": value} if isinstance(value, int | str) else value


class HttpProbe(StrictModel):
    """Ready when ``GET path`` on the container port answers the expected status."""

    port: int = Field(ge=1, le=65535, description="Container port (published automatically).")
    path: str = Field(default="/", description="Path to GET, starting with '/'.")
    status: int | None = Field(
        default=None, ge=100, le=599, description="Expected status; any 2xx when unset."
    )

    @field_validator("path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"path {path!r} must start with '/' (e.g. /{path})")
        return path


class ExecProbe(StrictModel):
    """Ready when the command exits 0 inside the container."""

    command: ShellCommand = Field(description="A list, or a string run through sh -c.")

    @model_validator(mode="before")
    @classmethod
    def _from_command(cls, value: Any) -> Any:
        return {"command": value} if isinstance(value, list | str) else value


class LogProbe(StrictModel):
    """Ready when a line of the container's log (stdout and stderr) matches the pattern."""

    pattern: str = Field(min_length=1, max_length=1000, description="A Python regular expression.")

    @model_validator(mode="before")
    @classmethod
    def _from_pattern(cls, value: Any) -> Any:
        return {"pattern": value} if isinstance(value, str) else value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            # OverflowError: a repeat such as a{99999999999}; RecursionError: thousands of
            # nested groups.
            raise ValueError(
                f"pattern {pattern[:60]!r} is not a valid regular expression: {exc}"
            ) from None
        return pattern


PROBE_KINDS = ("tcp", "http", "exec", "log")


class GenericProbe(StrictModel):
    """How to tell the container is ready: exactly one of tcp, http, exec, log."""

    tcp: TcpProbe | None = Field(default=None, description="{port}; or just the port.")
    http: HttpProbe | None = Field(default=None, description="{port, path, status}.")
    exec: ExecProbe | None = Field(default=None, description="{command}; or just the command.")
    log: LogProbe | None = Field(default=None, description="{pattern}; or just the pattern.")

    @model_validator(mode="after")
    def _exactly_one(self) -> GenericProbe:
        chosen = self.kinds()
        if len(chosen) != 1:
            found = f"found {', '.join(chosen)}" if chosen else "found none"
            raise ValueError(
                f"choose exactly one of {', '.join(PROBE_KINDS)} ({found}); "
                "leave probe out to wait only for the container to run"
            )
        return self

    def kinds(self) -> list[str]:
        return [kind for kind in PROBE_KINDS if getattr(self, kind) is not None]

    @property
    def port(self) -> int | None:
        """The container port a tcp or http probe connects to."""
        chosen = self.tcp or self.http
        return chosen.port if chosen is not None else None


class VolumeMount(StrictModel):
    """A read-write bind mount of a host path, written ``SOURCE:TARGET`` (``./data:/data``)."""

    source: str = Field(
        min_length=1,
        description="Host path: absolute, or ./ ../ relative to the scenario file.",
    )
    target: str = Field(description="Absolute path inside the container.")

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(":")
        if len(parts) == 3 and parts[2] in ("ro", "rw", "z", "Z"):
            raise ValueError(
                f"volume '{value}': mount options (':{parts[2]}') are not supported; "
                "write 'SOURCE:TARGET'"
            )
        if len(parts) != 2 or not all(parts):
            raise ValueError(
                f"volume '{value}' is not 'HOST_PATH:CONTAINER_PATH' (e.g. ./data:/data)"
            )
        return {"source": parts[0], "target": parts[1]}

    @field_validator("target")
    @classmethod
    def _absolute_target(cls, target: str) -> str:
        if not target.startswith("/"):
            raise ValueError(
                f"container path {target!r} must be absolute (start with '/', e.g. /{target})"
            )
        return target

    @model_validator(mode="after")
    def _host_path(self) -> VolumeMount:
        if self.source.startswith(("/", ".", "~")):
            return self
        if VOLUME_NAME_RE.match(self.source):
            return self  # a named volume: envctl creates it, scoped to the run and labelled
        raise ValueError(
            f"volume source '{self.source}' is not a host path; start it with /, ./ or ../"
        )


class GenericSpec(ServiceSpecBase):
    """Any container image, with a readiness probe chosen in the scenario."""

    type: Literal["generic"]
    image: str | None = Field(
        default=None,
        validate_default=True,
        description="Container image; required for generic services (there is no default).",
    )
    command: Command | None = Field(
        default=None,
        description="Command of the container: a list, or a string split into words like "
        "compose does (not run by a shell); unset keeps the image's own.",
    )
    volumes: list[VolumeMount] = Field(
        default_factory=list,
        description="'HOST_PATH:CONTAINER_PATH', mounted read-write; relative host paths are "
        "relative to the scenario file.",
    )
    probe: GenericProbe | None = Field(
        default=None,
        description="Readiness: {tcp: {port}}, {http: {port, path, status}}, "
        "{exec: {command}} or {log: {pattern}}; unset: the container is running.",
    )

    @field_validator("image")
    @classmethod
    def _image_required(cls, image: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("mode", ServiceMode.DOCKER) == ServiceMode.DOCKER and not image:
            raise ValueError(
                "generic services have no default image; set image: (e.g. image: nginx:1.27)"
            )
        return image

    @field_validator("probe")
    @classmethod
    def _probe_fits_mode(
        cls, probe: GenericProbe | None, info: ValidationInfo
    ) -> GenericProbe | None:
        mode = info.data.get("mode", ServiceMode.DOCKER)
        if probe is not None and mode != ServiceMode.DOCKER and (probe.exec or probe.log):
            raise ValueError(
                f"{probe.kinds()[0]} probes need a container of envctl's (mode: docker); "
                f"with mode: {mode.value} use a tcp or http probe"
            )
        return probe


class GenericService(ServicePlugin[GenericSpec]):
    type_name: ClassVar[str] = "generic"
    spec_model = GenericSpec
    default_image: ClassVar[str] = ""

    # -- what code outside this package asks ---------------------------------------------
    serves: ClassVar[frozenset[str]] = frozenset({"http"})

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        # The scenario's probe: exec as is, http/tcp through curl/wget/nc/bash inside the
        # image; a log probe has no health-check form.
        assert isinstance(spec, GenericSpec)
        probe = spec.probe
        if probe is None:
            return NoHealthCheck("no probe: ready as soon as the container runs")
        if probe.exec is not None:
            command = list(probe.exec.command)
            if command[:2] == ["sh", "-c"] and len(command) == 3:
                return HealthCheck(("CMD-SHELL", command[2]), start_period=start_period)
            return HealthCheck(("CMD", *command), start_period=start_period)
        if probe.http is not None:
            url = f"http://127.0.0.1:{probe.http.port}{probe.http.path}"
            if probe.http.status is None:
                line = f"curl -fsS -o /dev/null {url} || wget -q -O /dev/null {url}"
            else:
                status = probe.http.status
                line = f"curl -s -o /dev/null -w %{{http_code}} {url} | grep -qx {status}"
            return HealthCheck(("CMD-SHELL", line), start_period=start_period)
        if probe.tcp is not None:
            port = probe.tcp.port
            line = f"nc -z 127.0.0.1 {port} || bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}'"
            return HealthCheck(("CMD-SHELL", line), start_period=start_period)
        return NoHealthCheck("a log probe has no health-check form")

    @classmethod
    def external_url(
        cls,
        spec: ServiceSpecBase,
        endpoints: Mapping[str, Any],
        ports: Sequence[tuple[int, int, str]],
    ) -> str | None:
        # the probe's port, else the first
        if "url" in endpoints:
            return str(endpoints["url"])
        probe = getattr(spec, "probe", None)
        port = probe.port if probe is not None else None
        chosen = next((p for p in ports if p[0] == port), ports[0] if ports else None)
        return tcp_address(chosen)

    def ports(self) -> list[PortMapping]:
        ports = list(self.spec.ports)
        port = self.spec.probe.port if self.spec.probe is not None else None
        if port is not None and not any(p.container == port and p.protocol == "tcp" for p in ports):
            ports.append(PortMapping(container=port))
        return ports

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        return {}

    def container_command(self) -> list[str] | None:
        return list(self.spec.command) if self.spec.command is not None else None

    def container_volumes(self) -> dict[str, str]:
        from envctl.errors import ServiceFailed

        mounts: dict[str, str] = {}
        for volume in self.spec.volumes:
            if VOLUME_NAME_RE.match(volume.source):
                mounts[volume.source] = volume.target  # named: the engine creates it
                continue
            source = Path(volume.source).expanduser()
            if not source.is_absolute():
                base = self.context.scenario_dir
                if base is None:
                    raise ServiceFailed(
                        self.context.service,
                        f"volume '{volume.source}:{volume.target}': a relative host path "
                        "needs the scenario file's folder, which is unknown here; "
                        "use an absolute path",
                    )
                source = base / source
            source = source.resolve()
            self._check_host_path(volume.source, volume.target, source)
            # Docker would create a missing bind source as an empty root-owned directory.
            if not source.exists():
                raise ServiceFailed(
                    self.context.service,
                    f"volume '{volume.source}:{volume.target}': {source} does not exist; "
                    "create it or fix the path",
                )
            mounts[str(source)] = volume.target
        return mounts

    def _check_host_path(self, written: str, target: str, source: Path) -> None:
        """Bind mounts stay inside the project; the Docker socket only when the project
        config (never a scenario) allows it. Loading the scenario checked this already
        (:meth:`bind_mount_problems`); checked again here for a scenario built in code."""
        from envctl.errors import ConfigError

        context = self.context
        roots = [r for r in (context.scenario_root, context.scenario_dir) if r is not None]
        policy = BindMountPolicy(
            (*roots, *context.allowed_roots), allow_docker_socket=context.allow_docker_socket
        )
        problem = policy.problem(source)
        if problem is not None:
            raise ConfigError(
                f"service '{context.service}': volume '{written}:{target}': {problem}"
            )

    @classmethod
    def bind_mount_problems(
        cls, spec: ServiceSpecBase, scenario_dir: Path, policy: BindMountPolicy
    ) -> list[tuple[tuple[str | int, ...], str]]:
        assert isinstance(spec, GenericSpec)
        if spec.mode != ServiceMode.DOCKER:
            return []
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for index, volume in enumerate(spec.volumes):
            if VOLUME_NAME_RE.match(volume.source):
                continue  # a named volume: envctl creates it, scoped to the run
            problem = policy.problem(scenario_dir / Path(volume.source).expanduser())
            if problem is not None:
                where = f"volume '{volume.source}:{volume.target}'"
                problems.append((("volumes", index), f"{where}: {problem}"))
        return problems

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        ports: dict[str, int] = {}
        for port in self.ports():
            key = str(port.container) if port.protocol == "tcp" else f"{port.container}/udp"
            ports[key] = host_ports[port.container]
        result: Endpoints = {"host": "127.0.0.1", "ports": ports}
        probe = self.spec.probe
        if probe is not None and probe.http is not None:
            result["url"] = f"http://127.0.0.1:{host_ports[probe.http.port]}"
        return result

    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        from envctl.errors import ServiceFailed

        parts = urlsplit(url if "://" in url else f"tcp://{url}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or (port is None and parts.scheme not in ("http", "https")):
            raise ServiceFailed(
                self.context.service,
                f"url '{url}' names no host and port; write e.g. http://HOST:PORT or HOST:PORT",
            )
        default_port = 443 if parts.scheme == "https" else 80
        return {"url": url, "host": parts.hostname, "port": port or default_port}

    # -- lifecycle -------------------------------------------------------------------
    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        probe = self.spec.probe
        container = handle.container
        if probe is None:
            if container is not None:
                status, code = container.state()
                if status != "running":
                    raise ProbeFailed(f"container is {status} (exit code {code})")
            return
        if probe.tcp is not None:
            self._probe_tcp(handle, probe.tcp.port, timeout)
        elif probe.http is not None:
            self._probe_http(handle, probe.http, timeout)
        elif probe.exec is not None:
            self._probe_exec(handle, probe.exec.command, timeout)
        elif probe.log is not None:
            self._probe_log(handle, probe.log.pattern)

    def _address(self, handle: ServiceHandle, container_port: int) -> tuple[str, int]:
        endpoints = handle.endpoints
        if "ports" in endpoints:
            return str(endpoints["host"]), int(endpoints["ports"][str(container_port)])
        return str(endpoints["host"]), int(endpoints["port"])

    def _probe_tcp(self, handle: ServiceHandle, port: int, timeout: float) -> None:
        host, host_port = self._address(handle, port)
        try:
            with socket.create_connection((host, host_port), timeout=timeout) as sock:
                if handle.container is None:
                    return
                sock.settimeout(min(HOLD_OPEN, timeout))
                try:
                    data = sock.recv(1)
                except TimeoutError:
                    return  # held open: something listens behind the port
                if data:
                    return  # the server spoke first (a banner)
                raise ProbeFailed(
                    f"{host}:{host_port} accepted and closed at once: "
                    f"nothing listens on container port {port} yet"
                )
        except OSError as exc:
            raise ProbeFailed(f"cannot connect to {host}:{host_port}: {exc}") from None

    def _probe_http(self, handle: ServiceHandle, spec: HttpProbe, timeout: float) -> None:
        import http.client

        host, host_port = self._address(handle, spec.port)
        https = str(handle.endpoints.get("url", "")).startswith("https://")
        connection_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = connection_class(host, host_port, timeout=timeout)
        where = f"GET {'https' if https else 'http'}://{host}:{host_port}{spec.path}"
        try:
            connection.request("GET", spec.path, headers={"User-Agent": "envctl-probe"})
            response = connection.getresponse()
            status = response.status
            response.read()
        except ConnectionResetError:
            if handle.container is None:
                raise ProbeFailed(f"{where} failed: connection reset") from None
            raise ProbeFailed(
                f"{where}: connection closed at once: "
                f"nothing listens on container port {spec.port} yet"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise ProbeFailed(f"{where} failed: {exc or type(exc).__name__}") from None
        finally:
            connection.close()
        expected = spec.status
        if (expected is None and not 200 <= status < 300) or (
            expected is not None and status != expected
        ):
            wanted = str(expected) if expected is not None else "2xx"
            raise ProbeFailed(f"{where} answered {status}, expected {wanted}")

    def _probe_exec(self, handle: ServiceHandle, command: list[str], timeout: float) -> None:
        container = handle.container
        if container is None:
            raise ProbeFailed("exec probes need a container")
        outcome: list[ExecResult | BaseException] = []

        def run() -> None:
            try:
                outcome.append(container.exec(command))
            except Exception as exc:  # noqa: BLE001 - reported as the probe's failure
                outcome.append(exc)

        # exec has no timeout of its own; a command that hangs must not stall the wait.
        worker = threading.Thread(target=run, name=f"probe-{self.context.service}", daemon=True)
        worker.start()
        worker.join(max(timeout, EXEC_MIN_WAIT))
        shown = shlex.join(command)
        if not outcome:
            raise ProbeFailed(
                f"exec {shown}: did not finish within {max(timeout, EXEC_MIN_WAIT):.1f}s"
            )
        result = outcome[0]
        if isinstance(result, BaseException):
            raise ProbeFailed(f"exec {shown}: could not run: {result}")
        if result.exit_code != 0:
            last = result.output.strip().splitlines()[-1:] or ["no output"]
            raise ProbeFailed(f"exec {shown}: exit code {result.exit_code}: {last[0]}")

    def _probe_log(self, handle: ServiceHandle, pattern: str) -> None:
        container = handle.container
        if container is None:
            raise ProbeFailed("log probes need a container")
        if not re.search(pattern, container.logs(), re.MULTILINE):
            raise ProbeFailed(f"no log line matches {pattern!r} yet")
