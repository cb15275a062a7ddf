"""Services of an existing compose file, as envctl service specs.

A suite that starts its dependencies with ``docker compose`` keeps its compose file; a
scenario takes services from it::

    compose:
      file: ../docker-compose.yml      # relative to the scenario file
      services: [db, cache]            # default: every service of the file
    external_services:
      db:                              # optional: laid over what the compose file says
        cleanup_after: false

Each compose service becomes a raw service spec (validated afterwards like any scenario):

- an image named ``postgres`` or ``redis`` (any registry, any tag) becomes ``type:
  postgres`` / ``type: redis`` — envctl's own protocol probe replaces the healthcheck, and
  ``POSTGRES_USER`` / ``POSTGRES_PASSWORD`` / ``POSTGRES_DB`` become ``user`` /
  ``password`` / ``database`` — unless it sets a command or mounts volumes;
- anything else becomes ``type: generic`` with its image, environment, ports, command,
  bind mounts, and a probe from its ``healthcheck`` (``CMD`` and ``CMD-SHELL`` run as exec
  probes), whose timings give the ``health_check`` timeout
  (``start_period + interval * retries``);
- ``depends_on`` keeps the names (envctl always waits until a dependency is ready, as
  ``condition: service_healthy`` does).

Host ports are not kept by default: envctl publishes each container port on a free
127.0.0.1 port and prints it, so two runs never collide (``keep_host_ports`` keeps them
pinned). What envctl cannot honour (``build``, ``entrypoint``, named volumes, read-only
mounts, ``env_file``, ``secrets``, ``condition: service_completed_successfully``) is an
error naming the service and key. Every other key is left out, as :data:`DROPPED_KEYS` says:
a key whose absence would change what the container may do on the host (``privileged``,
``cap_add``, ``network_mode: host``, ``user``, ...) is *refused* — an error in a scenario's
``compose:`` source unless the scenario lists it under ``compose.drop``, a warning from
``envctl compose import`` — and one that does not matter to envctl (``restart``,
``container_name``, ``networks``, ...) is *ignored* with a warning (a note on import).

:func:`translate_services` is pure; :func:`expand_compose_source` reads the file and is
what the scenario loader calls.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError

from envctl import durations
from envctl.errors import ConfigError, Problem
from envctl.scenario.interpolate import InterpolationError, interpolate
from envctl.scenario.merge import deep_merge
from envctl.scenario.paths import path_problem
from envctl.scenario.spec import StrictModel
from envctl.scenario.yamlfile import Loc, Positions, as_written, dotted, read_yaml_file
from envctl.services.registry import plugins

if TYPE_CHECKING:
    from envctl.services.base import ServicePlugin


def _always(_value: Any) -> bool:
    return True


def _truthy(value: Any) -> bool:
    return value not in (None, False, "false", "False", 0, "", [], {})


def _shares_a_namespace(value: Any) -> bool:
    """``host``, or another container's namespace (``service:db``, ``container:x``)."""
    text = str(value)
    return text == "host" or text.startswith(("service:", "container:"))


@dataclass(frozen=True)
class ComposeKey:
    """A compose service key envctl does not translate, and why it leaves it out."""

    reason: str
    """What the key does that envctl will not (shown in the message)."""
    refused_when: Callable[[Any], bool] | None = None
    """The values whose absence would change what the container may do on the host
    (security-relevant): refused. None: never — the key is ignored with a warning."""
    otherwise: str = ""
    """The reason shown when the value is not refused (default: ``reason``)."""

    def refuses(self, value: Any) -> bool:
        return self.refused_when is not None and self.refused_when(value)

    def reason_for(self, value: Any) -> str:
        return self.reason if self.refuses(value) or not self.otherwise else self.otherwise


_RESOURCES = ComposeKey("a resource limit; envctl sets none")
_NAMESPACE = "envctl runs the container in Docker's default, private namespace"
_OWN_NETWORK = "envctl puts the run's services on one network, where they reach each other by name"

DROPPED_KEYS: Mapping[str, ComposeKey] = {
    # Refused: without them the container would run with other rights on the host than the
    # compose file gives it (more, or fewer, which the file asked for on purpose).
    "privileged": ComposeKey(
        "a privileged container has every capability and the host's devices",
        _truthy,
        "false is Docker's default",
    ),
    "cap_add": ComposeKey("added kernel capabilities", _always),
    "cap_drop": ComposeKey(
        "dropped kernel capabilities; without them the container keeps Docker's default set",
        _always,
    ),
    "devices": ComposeKey("host devices mapped into the container", _always),
    "device_cgroup_rules": ComposeKey("access to host devices", _always),
    "security_opt": ComposeKey("seccomp, AppArmor or SELinux options", _always),
    "userns_mode": ComposeKey("the user namespace of the container", _always),
    "volumes_from": ComposeKey("mounts taken from another container", _always),
    "user": ComposeKey(
        "the user the process runs as; without it, the image's user (often root)", _always
    ),
    "group_add": ComposeKey("supplementary groups of the process", _always),
    "read_only": ComposeKey(
        "a read-only root file system; without it the container can write to it",
        _truthy,
        "false is Docker's default",
    ),
    "sysctls": ComposeKey("kernel parameters", _always),
    "runtime": ComposeKey("another container runtime (isolation)", _always),
    "isolation": ComposeKey("the container's isolation technology", _always),
    "cgroup_parent": ComposeKey("the host cgroup the container runs in", _always),
    "network_mode": ComposeKey(
        "the host's network, or another container's", _shares_a_namespace, _OWN_NETWORK
    ),
    "pid": ComposeKey(
        "the host's process table, or another container's", _shares_a_namespace, _NAMESPACE
    ),
    "ipc": ComposeKey(
        "the host's shared memory, or another container's", _shares_a_namespace, _NAMESPACE
    ),
    "uts": ComposeKey("the host's hostname namespace", _shares_a_namespace, _NAMESPACE),
    "cgroup": ComposeKey("the host's cgroup namespace", _shares_a_namespace, _NAMESPACE),
    # Ignored: envctl does this itself, or it does not change what a test sees.
    "container_name": ComposeKey("envctl names its containers per run, so two runs never collide"),
    "restart": ComposeKey("envctl starts, waits for and stops the service itself"),
    "networks": ComposeKey(_OWN_NETWORK),
    "links": ComposeKey(_OWN_NETWORK),
    "external_links": ComposeKey(_OWN_NETWORK),
    "hostname": ComposeKey("services reach each other by service name"),
    "domainname": ComposeKey("services reach each other by service name"),
    "labels": ComposeKey("envctl labels its containers itself"),
    "annotations": ComposeKey("envctl labels its containers itself"),
    "logging": ComposeKey("envctl reads the container's log itself"),
    "stop_grace_period": ComposeKey("envctl stops the service itself"),
    "stop_signal": ComposeKey("envctl stops the service itself"),
    "profiles": ComposeKey("the scenario's compose.services chooses the services"),
    "pull_policy": ComposeKey("envctl runs local images and pulls missing ones"),
    "expose": ComposeKey("ports: are what envctl publishes"),
    "deploy": ComposeKey("envctl runs one container per service"),
    "scale": ComposeKey("envctl runs one container per service"),
    "develop": ComposeKey("compose watch is not envctl's"),
    "init": ComposeKey("envctl runs the image's own init"),
    "tty": ComposeKey("envctl's containers have no terminal"),
    "stdin_open": ComposeKey("envctl's containers have no terminal"),
    "attach": ComposeKey("envctl reads the container's log itself"),
    "platform": ComposeKey("envctl runs the image for the daemon's platform"),
    "working_dir": ComposeKey("the image's working directory applies"),
    "tmpfs": ComposeKey("envctl mounts no tmpfs; the container writes to its own layer"),
    "extra_hosts": ComposeKey(_OWN_NETWORK),
    "dns": ComposeKey(_OWN_NETWORK),
    "dns_search": ComposeKey(_OWN_NETWORK),
    "dns_opt": ComposeKey(_OWN_NETWORK),
    "mac_address": ComposeKey(_OWN_NETWORK),
    **dict.fromkeys(
        (
            "ulimits",
            "shm_size",
            "mem_limit",
            "memswap_limit",
            "mem_reservation",
            "mem_swappiness",
            "cpus",
            "cpu_count",
            "cpu_percent",
            "cpu_shares",
            "cpu_quota",
            "cpu_period",
            "cpu_rt_runtime",
            "cpu_rt_period",
            "cpuset",
            "pids_limit",
            "oom_score_adj",
            "oom_kill_disable",
            "blkio_config",
            "storage_opt",
        ),
        _RESOURCES,
    ),
}
"""Compose service keys envctl leaves out, and why: the one table behind ``envctl compose
import`` and a scenario's ``compose:`` source (docs/compose.md lists it)."""
UNKNOWN_KEY = ComposeKey("not a compose key envctl knows")
"""Any other key (``x-*`` extension keys are compose's own comments: left out silently)."""
TRANSLATED_KEYS = frozenset(
    {"image", "environment", "command", "volumes", "ports", "depends_on", "healthcheck"}
)
COMPOSE_HEALTH_DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_period": 0.0}
"""Docker's defaults for a healthcheck's unset timings."""
MIN_HEALTH_TIMEOUT = 10.0


class ComposeSource(StrictModel):
    """Services taken from an existing compose file (the scenario's ``compose:`` key)."""

    file: str = Field(description="The compose file, relative to the scenario file.")
    services: list[str] = Field(
        default_factory=list, description="Services to take; default: every service."
    )
    keep_host_ports: bool = Field(
        default=False,
        description="Keep the file's host ports pinned (default: envctl chooses free ones).",
    )
    drop: list[str] = Field(
        default_factory=list,
        description="Compose keys to leave out of the services without a word, such as "
        "privileged or cap_add: without this, a key envctl cannot honour that changes what "
        "a container may do on the host is an error, and any other it leaves out a warning.",
    )


@dataclass(frozen=True)
class DroppedKey:
    """A key of a compose service that envctl leaves out (see :data:`DROPPED_KEYS`)."""

    service: str
    key: str
    refused: bool
    """Security-relevant: the container would run with other rights than the file says."""
    reason: str
    file: str
    line: int | None

    def problem(self) -> Problem:
        """As an error of a scenario's ``compose:`` source (refused) or a warning."""
        if self.refused:
            message = (
                f"not supported by envctl ({self.reason}); remove it from the compose file, "
                f"or add it to the scenario's compose.drop to run the service without it"
            )
        else:
            message = f"ignored by envctl ({self.reason})"
        return Problem(self.file, self.line, f"services.{self.service}.{self.key}", message)

    def import_message(self) -> str:
        """As ``envctl compose import`` says it: the written scenario goes without the key."""
        where = Problem(self.file, self.line, f"services.{self.service}.{self.key}", "")
        verb = "not supported by envctl" if self.refused else "ignored by envctl"
        return f"{str(where).rstrip(': ')}: {verb} ({self.reason}); left out"


@dataclass
class ComposeImport:
    services: dict[str, dict[str, Any]]
    timeout_profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dropped: list[DroppedKey] = field(default_factory=list)
    """Keys left out, in file order (refused ones only when not ``refuse``-d)."""
    origins: dict[Loc, Loc] = field(default_factory=dict)
    """Where the translated specs' keys were written: a scenario path
    (``("external_services", "db", "env")``) -> its compose path (``("services", "db",
    "environment")``)."""


def translate_services(
    compose: Mapping[str, Any],
    names: Sequence[str] = (),
    *,
    compose_dir: Path | None = None,
    scenario_dir: Path | None = None,
    keep_host_ports: bool = False,
    display: str = "compose file",
    positions: Positions | None = None,
    refuse: bool = False,
    drop: Collection[str] = (),
) -> ComposeImport:
    """Envctl service specs (raw dicts) for ``names`` (default: all) of a compose document.

    ``compose`` is the parsed file, in compose's short or long syntax (or the canonical
    form ``docker compose config`` prints), ``positions`` its lines (from
    :func:`read_compose_document`). Bind mounts relative to ``compose_dir`` are rewritten
    relative to ``scenario_dir``. Keys envctl leaves out are listed in ``dropped``, except
    those named in ``drop``; with ``refuse``, a security-relevant one is a problem instead.
    Every problem is collected into one :class:`ConfigError`.
    """
    problems: list[Problem] = []
    lines = _Lines(positions or {}, display)
    services = compose.get("services") if isinstance(compose, Mapping) else None
    if not isinstance(services, Mapping) or not services:
        raise ConfigError(
            [Problem(display, lines(("services",)), "services", "no services in the file")]
        )
    wanted = list(names) or [str(n) for n in services]
    for name in wanted:
        if name not in services:
            import difflib

            close = difflib.get_close_matches(name, [str(n) for n in services], n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            problems.append(
                Problem(
                    display,
                    lines(("services",)),
                    f"services.{name}",
                    f"no service '{name}' in the file{hint} "
                    f"(services: {', '.join(map(str, services))})",
                )
            )
    result = ComposeImport({})
    for name in wanted:
        if name not in services:
            continue
        body = services[name] or {}
        if not isinstance(body, Mapping):
            line = lines(("services", name))
            problems.append(Problem(display, line, f"services.{name}", "must be a mapping"))
            continue
        _Translator(
            name,
            body,
            wanted,
            result,
            problems,
            lines,
            compose_dir,
            scenario_dir,
            keep_host_ports,
            refuse,
            frozenset(drop),
        ).run()
    if problems:
        raise ConfigError(problems)
    return result


@dataclass(frozen=True)
class _Lines:
    """Lines of a compose document: the nearest written line of a path in it."""

    positions: Positions
    display: str

    def __call__(self, loc: Loc) -> int | None:
        for end in range(len(loc), 0, -1):
            found = self.positions.get(tuple(loc[:end]))
            if found is not None:
                return found[1]
        return None


class _Translator:
    def __init__(
        self,
        name: str,
        body: Mapping[str, Any],
        wanted: Sequence[str],
        result: ComposeImport,
        problems: list[Problem],
        lines: _Lines,
        compose_dir: Path | None,
        scenario_dir: Path | None,
        keep_host_ports: bool,
        refuse: bool,
        drop: frozenset[str],
    ) -> None:
        self.name = name
        self.body = body
        self.wanted = wanted
        self.result = result
        self.problems = problems
        self.lines = lines
        self.display = lines.display
        self.compose_dir = compose_dir
        self.scenario_dir = scenario_dir
        self.keep_host_ports = keep_host_ports
        self.refuse = refuse
        self.drop = drop

    def line(self, *loc: str | int) -> int | None:
        return self.lines(("services", self.name, *loc))

    def problem(self, key: str, message: str, loc: Loc | None = None) -> None:
        """A problem at ``services.NAME.KEY``; ``loc`` is the key as a path when nested."""
        line = self.line(*(loc if loc is not None else (key,)))
        self.problems.append(Problem(self.display, line, f"services.{self.name}.{key}", message))

    def note(self, message: str) -> None:
        self.result.notes.append(f"{self.name}: {message}")

    def run(self) -> None:
        body = self.body
        for key in _UNSUPPORTED:
            if key in body:
                self.problem(key, _UNSUPPORTED[key])
        image = body.get("image")
        if not isinstance(image, str) or not image:
            if "build" not in body:
                self.problem("image", "required: envctl runs an image (set image:)")
            return
        env = self.environment()
        command = self.command()
        volumes = self.volumes()
        ports = self.ports()
        depends = self.depends_on()
        self.dropped_keys()

        typed = _typed(image) if command is None and not volumes else None
        if typed is None:
            for note in _image_notes(image):
                self.note(note)
        kind = typed.type_name if typed is not None else None
        spec: dict[str, Any] = {"type": kind or GENERIC, "image": image}
        if typed is not None:
            spec.update(typed.compose_fields(env, self.note))
        if "healthcheck" in body and kind is not None:
            self.note(f"healthcheck replaced by envctl's {kind} probe")
        self.record_positions(kind is None)
        if env:
            spec["env"] = env
        if typed is not None:
            # The type publishes its own port; only a pinned host port still says something.
            ports = [p for p in ports if p != typed.service_port]
        if ports:
            spec["ports"] = ports
        if depends:
            spec["depends_on"] = depends
        if kind is None:
            if command is not None:
                spec["command"] = command
            if volumes:
                spec["volumes"] = volumes
            probe = self.probe()
            if probe is not None:
                spec["probe"] = probe
        self.result.services[self.name] = spec

    def dropped_keys(self) -> None:
        """Keys envctl leaves out (:data:`DROPPED_KEYS`): recorded, or refused."""
        for raw_key, value in self.body.items():
            key = str(raw_key)
            if key in TRANSLATED_KEYS or key in _UNSUPPORTED or key.startswith("x-"):
                continue
            if key in self.drop:
                continue
            entry = DROPPED_KEYS.get(key, UNKNOWN_KEY)
            dropped = DroppedKey(
                self.name,
                key,
                entry.refuses(value),
                entry.reason_for(value),
                self.display,
                self.line(key),
            )
            if dropped.refused and self.refuse:
                self.problems.append(dropped.problem())
            else:
                self.result.dropped.append(dropped)

    def record_positions(self, generic: bool) -> None:
        """Where the translated spec's keys were written, for messages about them."""
        here: Loc = ("external_services", self.name)
        there: Loc = ("services", self.name)
        origins = self.result.origins
        origins[here] = there
        renamed = {"image": "image", "environment": "env", "depends_on": "depends_on"}
        if generic:
            renamed.update(command="command", healthcheck="probe")
        for key, target in renamed.items():
            if key in self.body:
                origins[(*here, target)] = (*there, key)
        if generic:
            # Volumes keep their order: any mount that could not be kept was a problem.
            for index in range(len(self.body.get("volumes") or [])):
                origins[(*here, "volumes", index)] = (*there, "volumes", index)

    # -- keys -----------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        raw = self.body.get("environment")
        if raw is None:
            return {}
        env: dict[str, str] = {}
        if isinstance(raw, Mapping):
            items = list(raw.items())
        elif isinstance(raw, list):
            items = []
            for item in raw:
                key, sep, value = str(item).partition("=")
                items.append((key, value if sep else None))
        else:
            self.problem("environment", "must be a mapping or a list of KEY=VALUE")
            return {}
        for key, value in items:
            if value is None:
                self.note(
                    f"environment.{key} has no value (taken from the shell by compose); left out"
                )
                continue
            env[str(key)] = _scalar(value)
        return env

    def command(self) -> list[str] | None:
        raw = self.body.get("command")
        if raw is None:
            return None
        if isinstance(raw, str):
            try:
                return shlex.split(raw)
            except ValueError as exc:  # unbalanced quotes
                self.problem("command", f"cannot split the command: {exc}; balance its quotes")
                return None
        if isinstance(raw, list):
            return [_scalar(part) for part in raw]
        self.problem("command", "must be a string or a list")
        return None

    def ports(self) -> list[str | int]:
        raw = self.body.get("ports") or []
        if not isinstance(raw, list):
            self.problem("ports", "must be a list")
            return []
        ports: list[str | int] = []
        for index, item in enumerate(raw):
            parsed = _port(item)
            if parsed is None:
                self.problem(
                    f"ports[{index}]",
                    f"cannot read port {item!r} (ranges are not supported)",
                    ("ports", index),
                )
                continue
            host, container, protocol = parsed
            suffix = "" if protocol == "tcp" else f"/{protocol}"
            if host is not None and self.keep_host_ports:
                ports.append(f"{host}:{container}{suffix}")
            else:
                ports.append(f"{container}{suffix}" if suffix else container)
        return ports

    def volumes(self) -> list[str]:
        raw = self.body.get("volumes") or []
        if not isinstance(raw, list):
            self.problem("volumes", "must be a list")
            return []
        mounts: list[str] = []
        for index, item in enumerate(raw):
            key, loc = f"volumes[{index}]", ("volumes", index)
            if isinstance(item, str) and "\x00" in item:
                self.problem(key, "contains a NUL character", loc)
                continue
            if isinstance(item, str):
                parts = item.split(":")
                if len(parts) == 1:
                    self.problem(
                        key, f"anonymous volume '{item}' is not supported; mount a host path", loc
                    )
                    continue
                source, target, mode = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
                kind = "bind" if source.startswith((".", "/", "~")) else "volume"
                read_only = "ro" in mode.split(",")
            elif isinstance(item, Mapping):
                kind = str(item.get("type", "volume"))
                source, target = str(item.get("source", "")), str(item.get("target", ""))
                read_only = bool(item.get("read_only", False))
            else:
                self.problem(key, "must be SOURCE:TARGET or a mapping", loc)
                continue
            if kind != "bind":
                self.problem(
                    key,
                    f"named volume '{source}' is not supported (envctl could not label it for "
                    "cleanup); mount a host path such as ./data",
                    loc,
                )
                continue
            if read_only:
                self.problem(key, f"read-only mount '{source}:{target}' is not supported", loc)
                continue
            mounts.append(f"{self.host_path(source)}:{target}")
        return mounts

    def host_path(self, source: str) -> str:
        if source.startswith(("~", "/")) or self.compose_dir is None:
            return source
        absolute = (self.compose_dir / source).resolve()
        if self.scenario_dir is None:
            return str(absolute)
        relative = os.path.relpath(absolute, self.scenario_dir.resolve())
        return relative if relative.startswith(".") else f"./{relative}"

    def depends_on(self) -> list[str]:
        raw = self.body.get("depends_on")
        if raw is None:
            return []
        if isinstance(raw, list):
            names = [str(n) for n in raw]
        elif isinstance(raw, Mapping):
            names = []
            for dep, condition in raw.items():
                cond = condition.get("condition") if isinstance(condition, Mapping) else None
                if cond == "service_completed_successfully":
                    self.problem(
                        f"depends_on.{dep}",
                        "condition service_completed_successfully is not supported: envctl "
                        "runs services, not one-off jobs",
                        ("depends_on", dep),
                    )
                names.append(str(dep))
        else:
            self.problem("depends_on", "must be a list or a mapping")
            return []
        for dep in names:
            if dep not in self.wanted:
                self.problem(
                    "depends_on",
                    f"depends on '{dep}', which is not taken from the file; "
                    f"add it to compose.services",
                )
        return names

    def probe(self) -> dict[str, Any] | None:
        raw = self.body.get("healthcheck")
        if raw is None:
            self.note("no healthcheck: ready as soon as the container runs (add a probe)")
            return None
        if not isinstance(raw, Mapping):
            self.problem("healthcheck", "must be a mapping")
            return None
        if raw.get("disable"):
            return None
        test = raw.get("test")
        if isinstance(test, str):
            command: str | list[str] = test
        elif isinstance(test, list) and test and test[0] == "NONE":
            return None
        elif isinstance(test, list) and len(test) >= 2 and test[0] == "CMD":
            command = [_scalar(p) for p in test[1:]]
        elif isinstance(test, list) and len(test) == 2 and test[0] == "CMD-SHELL":
            command = str(test[1])
        else:
            self.problem(
                "healthcheck.test",
                f"cannot read {test!r}; write [CMD, ...] or [CMD-SHELL, ...]",
                ("healthcheck", "test"),
            )
            return None
        timings = dict(COMPOSE_HEALTH_DEFAULTS)
        for key in ("interval", "timeout", "start_period"):
            if key in raw:
                seconds = parse_duration(raw[key])
                if seconds is None:
                    self.problem(
                        f"healthcheck.{key}",
                        f"cannot read duration {raw[key]!r}",
                        ("healthcheck", key),
                    )
                else:
                    timings[key] = seconds
        if isinstance(raw.get("retries"), int):
            timings["retries"] = raw["retries"]
        total = timings["start_period"] + timings["interval"] * timings["retries"]
        self.result.timeout_profiles[self.name] = {"health_check": max(total, MIN_HEALTH_TIMEOUT)}
        return {"exec": {"command": command}}


_UNSUPPORTED = {
    "build": "builds are not supported: build the image first and set image:",
    "entrypoint": "entrypoint is not supported: bake it into the image or use command:",
    "env_file": "env_file is not supported: list the variables under environment:",
    "extends": "extends is not supported here: run `docker compose config` and use its output",
    "secrets": "secrets are not supported: mount the file with volumes: "
    "(./secret.txt:/run/secrets/NAME)",
    "configs": "configs are not supported: mount the file with volumes: (./app.conf:/app.conf)",
}
"""Keys envctl cannot honour and will not leave out: an error wherever they appear."""


GENERIC = "generic"
"""The type of an imported service no registered type recognises: any container."""


def _image_name(image: str) -> str:
    repository = image.split("@")[0]
    return repository.rsplit("/", 1)[-1].split(":")[0]


def _typed(image: str) -> type[ServicePlugin] | None:
    """The registered type that imports this image as itself (``postgres``, ``redis``)."""
    name = _image_name(image)
    for plugin in plugins().values():
        if plugin.recognizes_compose_image(name):
            return plugin
    return None


def _image_notes(image: str) -> list[str]:
    """What registered types say about an image imported as a generic container."""
    notes = (plugin.compose_image_note(image.rsplit("/", 1)[-1]) for plugin in plugins().values())
    return [note for note in notes if note]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(as_written(value))


def _port(item: Any) -> tuple[int | None, int, str] | None:
    if isinstance(item, int) and not isinstance(item, bool):
        return None, item, "tcp"
    if isinstance(item, Mapping):
        try:
            target = int(item["target"])
            published = item.get("published")
            host = int(published) if published not in (None, "") else None
        except (KeyError, TypeError, ValueError, OverflowError):
            return None
        return host, target, str(item.get("protocol", "tcp"))
    if isinstance(item, str):
        text = item.strip()
        parts = text.rsplit(":", 2)
        proto = "tcp"
        if "/" in parts[-1]:
            parts[-1], proto = parts[-1].split("/", 1)
        numbers = parts[-2:] if len(parts) >= 2 else parts
        try:
            values = [int(n) for n in numbers]
        except ValueError:
            return None
        if proto not in ("tcp", "udp"):
            return None
        return (values[0] if len(values) == 2 else None), values[-1], proto
    return None


def parse_duration(value: Any) -> float | None:
    """A compose duration (``1m30s``, ``500ms``, ``10s``) or a number of seconds, read by
    :mod:`envctl.durations`; None when it is not one (the caller says where)."""
    try:
        return durations.parse_duration(value)
    except durations.DurationError:
        return None


# -- the scenario's `compose:` key ------------------------------------------------------------


def read_compose_file(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """Parse a compose file, resolving ``${VAR}``/``${VAR:-default}`` like compose does."""
    return read_compose_document(path, environ)[0]


def read_compose_document(
    path: Path, environ: Mapping[str, str], display: str | None = None
) -> tuple[dict[str, Any], Positions]:
    """A compose file's data (``${VAR}`` resolved like compose does) and its lines, shown as
    ``display`` (default: the path)."""

    shown = display if display is not None else str(path)
    read_problems: list[Problem] = []
    data, positions = read_yaml_file(path, shown, read_problems)
    if read_problems:
        raise ConfigError(read_problems)
    if data is None or data == {}:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(shown, 1, "", "a compose file must be a mapping")])

    problems: list[Problem] = []

    def resolve(value: Any, loc: Loc) -> Any:
        if isinstance(value, str):
            try:
                return interpolate(value, environ)
            except InterpolationError as exc:
                line = _Lines(positions, shown)(loc)
                problems.append(Problem(shown, line, dotted(loc), str(exc)))
                return value
        if isinstance(value, dict):
            return {k: resolve(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, (*loc, i)) for i, v in enumerate(value)]
        return value

    resolved = resolve(data, ())
    if problems:
        raise ConfigError(problems)
    assert isinstance(resolved, dict)
    return resolved, positions


@dataclass
class ExpandedSource:
    """A scenario's raw data with the services of its ``compose:`` file added."""

    data: dict[str, Any]
    positions: Positions = field(default_factory=dict)
    """Where the imported services' keys were written in the compose file, by scenario path."""
    origins: dict[Loc, str] = field(default_factory=dict)
    """The same scenario paths -> the key path in the compose file (``services.db.image``)."""
    warnings: list[Problem] = field(default_factory=list)
    """Keys of the compose file envctl ignores, one each."""


def expand_compose_source(
    raw_scenario: Mapping[str, Any],
    scenario_file: Path,
    environ: Mapping[str, str],
    allowed: Sequence[Path] = (),
    *,
    display: str | None = None,
    positions: Positions | None = None,
) -> ExpandedSource:
    """The scenario's raw data with the services of its ``compose:`` file added.

    The scenario's own ``external_services`` entries of the same name are laid over the
    imported ones (maps merge, lists replace), and so are its ``timeout_profiles``.
    The data is a new dict; without a ``compose:`` key, a copy. The compose file must lie
    under one of ``allowed`` (default: the scenario's folder). A key envctl cannot honour
    that changes what a container may do on the host is an error unless ``compose.drop``
    names it; other keys left out are warnings. ``display``: how the scenario file is shown
    (the compose file is shown the same way: relative, or absolute); ``positions``: its lines.
    """
    data = dict(raw_scenario)
    shown = display if display is not None else str(scenario_file)
    lines = _Lines(positions or {}, shown)
    if "compose" not in data:
        return ExpandedSource(data)
    try:
        source = ComposeSource.model_validate(data["compose"])
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    shown,
                    lines(("compose", *e["loc"])),
                    dotted(("compose", *e["loc"])),
                    e["msg"],
                )
                for e in exc.errors()
            ]
        ) from None
    reason = path_problem(
        source.file, scenario_file.parent, allowed or (scenario_file.parent,), what="compose file"
    )
    if reason is not None:
        raise ConfigError([Problem(shown, lines(("compose", "file")), "compose.file", reason)])
    drop_problems = [
        Problem(
            shown,
            lines(("compose", "drop", index)),
            f"compose.drop[{index}]",
            f"'{key}' is a key envctl translates or cannot do without; it cannot be dropped",
        )
        for index, key in enumerate(source.drop)
        if key in TRANSLATED_KEYS or key in _UNSUPPORTED
    ]
    if drop_problems:
        raise ConfigError(drop_problems)
    path = (scenario_file.parent / source.file).resolve()
    compose_shown = str(path)
    if not Path(shown).is_absolute():
        with contextlib.suppress(ValueError):  # another drive (Windows)
            compose_shown = os.path.relpath(path, Path.cwd())
    compose, positions = read_compose_document(path, environ, compose_shown)
    imported = translate_services(
        compose,
        source.services,
        compose_dir=path.parent,
        scenario_dir=scenario_file.parent,
        keep_host_ports=source.keep_host_ports,
        display=compose_shown,
        positions=positions,
        refuse=True,
        drop=source.drop,
    )
    # A value of the wrong kind is kept as written, so validation reports it.
    own = data.get("external_services")
    if own is None or isinstance(own, Mapping):
        data["external_services"] = deep_merge(imported.services, own or {})
    own_timeouts = data.get("timeout_profiles")
    if own_timeouts is None or isinstance(own_timeouts, Mapping):
        data["timeout_profiles"] = deep_merge(imported.timeout_profiles, own_timeouts or {})
    warnings = [dropped.problem() for dropped in imported.dropped]
    found = {loc: positions.get(there) for loc, there in imported.origins.items()}
    return ExpandedSource(
        data,
        {loc: where for loc, where in found.items() if where is not None},
        {loc: dotted(there) for loc, there in imported.origins.items()},
        warnings,
    )
