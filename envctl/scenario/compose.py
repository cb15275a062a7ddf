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
mounts, ``env_file``, ``condition: service_completed_successfully``) is an error naming the
service and key; what does not matter to it (``restart``, ``networks``, ``labels``,
``container_name``, ...) is left out with a note.

:func:`translate_services` is pure; :func:`expand_compose_source` reads the file and is
what the scenario loader calls.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
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
from envctl.scenario.yamlfile import as_written, read_yaml_file
from envctl.services.registry import plugins

if TYPE_CHECKING:
    from envctl.services.base import ServicePlugin

IGNORED_KEYS = frozenset(
    {
        "container_name",
        "restart",
        "networks",
        "labels",
        "hostname",
        "logging",
        "stop_grace_period",
        "stop_signal",
        "profiles",
        "pull_policy",
        "expose",
        "deploy",
        "init",
        "tty",
        "stdin_open",
        "platform",
        "ulimits",
        "shm_size",
        "mem_limit",
        "cpus",
    }
)
"""Keys left out with a note: envctl names, labels and networks its containers itself."""
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


@dataclass
class ComposeImport:
    services: dict[str, dict[str, Any]]
    timeout_profiles: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def translate_services(
    compose: Mapping[str, Any],
    names: Sequence[str] = (),
    *,
    compose_dir: Path | None = None,
    scenario_dir: Path | None = None,
    keep_host_ports: bool = False,
    display: str = "compose file",
) -> ComposeImport:
    """Envctl service specs (raw dicts) for ``names`` (default: all) of a compose document.

    ``compose`` is the parsed file, in compose's short or long syntax (or the canonical
    form ``docker compose config`` prints). Bind mounts relative to ``compose_dir`` are
    rewritten relative to ``scenario_dir``. Every problem is collected into one
    :class:`ConfigError`.
    """
    problems: list[Problem] = []
    services = compose.get("services") if isinstance(compose, Mapping) else None
    if not isinstance(services, Mapping) or not services:
        raise ConfigError([Problem(display, None, "services", "no services in the file")])
    wanted = list(names) or [str(n) for n in services]
    for name in wanted:
        if name not in services:
            import difflib

            close = difflib.get_close_matches(name, [str(n) for n in services], n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            problems.append(
                Problem(
                    display,
                    None,
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
            problems.append(Problem(display, None, f"services.{name}", "must be a mapping"))
            continue
        _Translator(
            name,
            body,
            wanted,
            result,
            problems,
            display,
            compose_dir,
            scenario_dir,
            keep_host_ports,
        ).run()
    if problems:
        raise ConfigError(problems)
    return result


class _Translator:
    def __init__(
        self,
        name: str,
        body: Mapping[str, Any],
        wanted: Sequence[str],
        result: ComposeImport,
        problems: list[Problem],
        display: str,
        compose_dir: Path | None,
        scenario_dir: Path | None,
        keep_host_ports: bool,
    ) -> None:
        self.name = name
        self.body = body
        self.wanted = wanted
        self.result = result
        self.problems = problems
        self.display = display
        self.compose_dir = compose_dir
        self.scenario_dir = scenario_dir
        self.keep_host_ports = keep_host_ports

    def problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.display, None, f"services.{self.name}.{key}", message))

    def note(self, message: str) -> None:
        self.result.notes.append(f"{self.name}: {message}")

    def run(self) -> None:
        body = self.body
        for key in ("build", "entrypoint", "env_file", "extends"):
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
        skipped = sorted(k for k in body if k in IGNORED_KEYS)
        if skipped:
            self.note(f"left out (envctl manages these itself): {', '.join(skipped)}")
        known = (
            IGNORED_KEYS
            | set(_UNSUPPORTED)
            | {
                "image",
                "environment",
                "command",
                "volumes",
                "ports",
                "depends_on",
                "healthcheck",
            }
        )
        unknown = sorted(str(k) for k in body if k not in known)
        if unknown:
            self.note(f"left out (no envctl equivalent): {', '.join(unknown)}")

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
                    f"ports[{index}]", f"cannot read port {item!r} (ranges are not supported)"
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
            key = f"volumes[{index}]"
            if isinstance(item, str) and "\x00" in item:
                self.problem(key, "contains a NUL character")
                continue
            if isinstance(item, str):
                parts = item.split(":")
                if len(parts) == 1:
                    self.problem(
                        key, f"anonymous volume '{item}' is not supported; mount a host path"
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
                self.problem(key, "must be SOURCE:TARGET or a mapping")
                continue
            if kind != "bind":
                self.problem(
                    key,
                    f"named volume '{source}' is not supported (envctl could not label it for "
                    "cleanup); mount a host path such as ./data",
                )
                continue
            if read_only:
                self.problem(key, f"read-only mount '{source}:{target}' is not supported")
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
                "healthcheck.test", f"cannot read {test!r}; write [CMD, ...] or [CMD-SHELL, ...]"
            )
            return None
        timings = dict(COMPOSE_HEALTH_DEFAULTS)
        for key in ("interval", "timeout", "start_period"):
            if key in raw:
                seconds = parse_duration(raw[key])
                if seconds is None:
                    self.problem(f"healthcheck.{key}", f"cannot read duration {raw[key]!r}")
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
}


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

    read_problems: list[Problem] = []
    data, _positions = read_yaml_file(path, str(path), read_problems)
    if read_problems:
        raise ConfigError(read_problems)
    if data is None or data == {}:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "", "a compose file must be a mapping")])

    problems: list[Problem] = []

    def resolve(value: Any, where: str) -> Any:
        if isinstance(value, str):
            try:
                return interpolate(value, environ)
            except InterpolationError as exc:
                problems.append(Problem(str(path), None, where, str(exc)))
                return value
        if isinstance(value, dict):
            return {k: resolve(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    resolved = resolve(data, "")
    if problems:
        raise ConfigError(problems)
    assert isinstance(resolved, dict)
    return resolved


def expand_compose_source(
    raw_scenario: Mapping[str, Any],
    scenario_file: Path,
    environ: Mapping[str, str],
    allowed: Sequence[Path] = (),
) -> dict[str, Any]:
    """The scenario's raw data with the services of its ``compose:`` file added.

    The scenario's own ``external_services`` entries of the same name are laid over the
    imported ones (maps merge, lists replace), and so are its ``timeout_profiles``.
    Returns a new dict; without a ``compose:`` key, a copy. The compose file must lie
    under one of ``allowed`` (default: the scenario's folder).
    """
    data = dict(raw_scenario)
    if "compose" not in data:
        return data
    try:
        source = ComposeSource.model_validate(data["compose"])
    except ValidationError as exc:
        raise ConfigError(
            [
                Problem(
                    str(scenario_file), None, ".".join(["compose", *map(str, e["loc"])]), e["msg"]
                )
                for e in exc.errors()
            ]
        ) from None
    reason = path_problem(
        source.file, scenario_file.parent, allowed or (scenario_file.parent,), what="compose file"
    )
    if reason is not None:
        raise ConfigError([Problem(str(scenario_file), None, "compose.file", reason)])
    path = (scenario_file.parent / source.file).resolve()
    imported = translate_services(
        read_compose_file(path, environ),
        source.services,
        compose_dir=path.parent,
        scenario_dir=scenario_file.parent,
        keep_host_ports=source.keep_host_ports,
        display=str(path),
    )
    # A value of the wrong kind is kept as written, so validation reports it.
    own = data.get("external_services")
    if own is None or isinstance(own, Mapping):
        data["external_services"] = deep_merge(imported.services, own or {})
    own_timeouts = data.get("timeout_profiles")
    if own_timeouts is None or isinstance(own_timeouts, Mapping):
        data["timeout_profiles"] = deep_merge(imported.timeout_profiles, own_timeouts or {})
    return data
