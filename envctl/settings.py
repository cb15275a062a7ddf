"""Settings read once at the edge (CLI, pytest plugin, library entry) and passed down.

Nothing else in envctl reads ``os.environ``. Precedence, highest first:
command-line options > ``ENVCTL_*`` environment variables > project config file
(``envctl.yaml``) > built-in defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from envctl.errors import ConfigError, Problem
from envctl.profiles import Profiles
from envctl.scenario.models import ReuseConfig
from envctl.scenario.modes import RUNTIMES, RuntimeName
from envctl.scenario.paths import project_roots
from envctl.scenario.yamlfile import read_yaml_file

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario

PROJECT_CONFIG_NAMES = ("envctl.yaml", ".envctl.yaml")
IMAGE_ENV_PREFIX = "ENVCTL_IMAGE_"
NATIVE_BIN_ENV_PREFIX = "ENVCTL_NATIVE_BIN_"
RUNTIME_ENV = "ENVCTL_RUNTIME"


class ProjectConfig(BaseModel):
    """The optional project config file ``envctl.yaml`` (found from the working directory up)."""

    model_config = ConfigDict(extra="forbid")

    scenarios_dir: str | None = Field(
        default=None, description="Where scenarios live, relative to this file."
    )
    images: dict[str, str] = Field(
        default_factory=dict,
        description="Image per service type, e.g. {kafka: mirror.local/apache/kafka:3.9.0}. "
        "Replaces the image of every service of that type (registry mirrors).",
    )
    runtime: RuntimeName | None = Field(
        default=None,
        description="docker | native | auto for every service envctl starts (ENVCTL_RUNTIME "
        "and --runtime win); default auto.",
    )
    native_bin: dict[str, str] = Field(
        default_factory=dict,
        description="Install folder of a type's native server, searched first, e.g. "
        "{postgres: /usr/lib/postgresql/16/bin} (ENVCTL_NATIVE_BIN_<TYPE> wins).",
    )
    profiles: Profiles = Field(
        default_factory=dict,
        description="Overlays for every scenario, selected by --profile NAME / ENVCTL_PROFILE "
        "(see docs/profiles.md).",
    )
    allowed_paths: list[str] = Field(
        default_factory=list,
        description="Folders outside the project (relative to this file, or absolute) that "
        "scenarios may read base templates (extends:) and compose files from.",
    )
    allow_docker_socket: bool = Field(
        default=False,
        description="Let scenarios bind-mount the Docker socket into a container (it gives the "
        "container control of the host's Docker); off by default.",
    )
    reuse: bool | ReuseConfig | None = Field(
        default=None,
        description="Warm environments for every scenario: true, false or {enabled, ttl}; "
        "a scenario's reuse:, ENVCTL_REUSE and --reuse win (README 'Warm environments').",
    )


@dataclass(frozen=True)
class Settings:
    """Everything envctl needs to know about its surroundings."""

    cwd: Path
    environ: Mapping[str, str]
    scenarios_dir: Path
    image_overrides: Mapping[str, str] = field(default_factory=dict)
    image_override_sources: Mapping[str, str] = field(default_factory=dict)
    timeout_scale: float = 1.0
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    """ENVCTL_LABELS: labels added to every resource (e.g. the CI job that made it)."""
    project_config_path: Path | None = None
    profile: str | None = None
    """Profile(s) to apply, comma-separated: --profile, else ENVCTL_PROFILE."""
    project_profiles: Mapping[str, Any] = field(default_factory=dict)
    """The project config's ``profiles:``."""
    runtime: str | None = None
    """docker | native | auto for the whole run: --runtime, else ENVCTL_RUNTIME, else the
    project config's ``runtime:``; None: each scenario and service decides (default auto)."""
    runtime_source: str = ""
    native_bin: Mapping[str, str] = field(default_factory=dict)
    """Service type -> install folder of its native server."""
    allowed_paths: tuple[str, ...] = ()
    """The project config's ``allowed_paths:``."""
    allow_docker_socket: bool = False
    """The project config's ``allow_docker_socket:``."""

    @property
    def allowed_roots(self) -> tuple[Path, ...]:
        """Folders scenarios may read files from besides their scenario tree."""

        return project_roots(self.project_config_path, self.cwd, self.allowed_paths)

    @property
    def require_docker(self) -> bool:
        """ENVCTL_REQUIRE_DOCKER=1 (CI): what needs Docker fails instead of skipping."""
        return self.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false")

    reuse: Any = None
    """The project config's ``reuse:`` (see :func:`envctl.warm.decide_reuse`)."""

    def load_scenario(self, path: str | Path) -> Scenario:
        """Load a scenario file the way these settings say (environment, profile, tree)."""
        from envctl.scenario.loader import load_scenario

        return load_scenario(
            path,
            self.environ,
            root=self.scenarios_dir,
            profile=self.profile,
            project_profiles=self.project_profiles,
            allowed_roots=self.allowed_roots,
            allow_docker_socket=self.allow_docker_socket,
        )

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        scenarios_dir: str | Path | None = None,
        profile: str | None = None,
        runtime: str | None = None,
    ) -> Settings:
        env = dict(os.environ if environ is None else environ)
        here = (cwd or Path.cwd()).resolve()
        config_path = _find_project_config(env, here)
        project = _read_project_config(config_path) if config_path else ProjectConfig()

        if scenarios_dir is not None:
            sdir = Path(scenarios_dir)
        elif env.get("ENVCTL_SCENARIOS_DIR"):
            sdir = Path(env["ENVCTL_SCENARIOS_DIR"])
        elif project.scenarios_dir and config_path is not None:
            sdir = config_path.parent / project.scenarios_dir
        else:
            sdir = Path("scenarios")
        if not sdir.is_absolute():
            sdir = here / sdir

        overrides: dict[str, str] = {}
        sources: dict[str, str] = {}
        for type_name, image in project.images.items():
            overrides[type_name.lower()] = image
            sources[type_name.lower()] = f"{config_path}: images.{type_name}"
        for key, value in env.items():
            if key.startswith(IMAGE_ENV_PREFIX) and value:
                type_name = key[len(IMAGE_ENV_PREFIX) :].lower()
                overrides[type_name] = value
                sources[type_name] = key

        scale_text = env.get("ENVCTL_TIMEOUT_SCALE", "1")
        try:
            scale = float(scale_text)
            if not (0 < scale <= 1000):  # also refuses nan and inf
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"ENVCTL_TIMEOUT_SCALE={scale_text!r} is not a number between 0 and 1000; "
                "set it to e.g. 2 or unset it"
            ) from None

        runtime_source = "--runtime"
        if runtime is None and env.get(RUNTIME_ENV):
            runtime, runtime_source = env[RUNTIME_ENV], RUNTIME_ENV
        if runtime is None and project.runtime is not None:
            runtime, runtime_source = project.runtime, f"{config_path}: runtime"
        if runtime is not None and runtime not in RUNTIMES:
            raise ConfigError(
                f"{runtime_source}={runtime!r} is not a runtime; write docker, native or auto"
            )
        native_bin = {k.lower(): v for k, v in project.native_bin.items()}
        for key, value in env.items():
            if key.startswith(NATIVE_BIN_ENV_PREFIX) and value:
                native_bin[key[len(NATIVE_BIN_ENV_PREFIX) :].lower()] = value

        labels: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in env.get("ENVCTL_LABELS", "").split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or key.strip().startswith("io.envctl."):
                raise ConfigError(
                    f"ENVCTL_LABELS: {item!r} is not KEY=VALUE (keys io.envctl.* are envctl's); "
                    "write e.g. ENVCTL_LABELS=ci.job=42,team=payments"
                )
            labels[key.strip()] = value.strip()

        return cls(
            cwd=here,
            environ=env,
            scenarios_dir=sdir,
            image_overrides=overrides,
            image_override_sources=sources,
            timeout_scale=scale,
            extra_labels=labels,
            profile=profile or env.get("ENVCTL_PROFILE") or None,
            project_profiles=dict(project.profiles),
            allowed_paths=tuple(project.allowed_paths),
            allow_docker_socket=project.allow_docker_socket,
            project_config_path=config_path,
            runtime=runtime,
            runtime_source=runtime_source if runtime is not None else "",
            native_bin=native_bin,
            reuse=project.reuse,
        )

    def with_scenarios_dir(self, path: str | Path) -> Settings:
        p = Path(path)
        return replace(self, scenarios_dir=p if p.is_absolute() else self.cwd / p)


def _find_project_config(env: Mapping[str, str], start: Path) -> Path | None:
    explicit = env.get("ENVCTL_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"ENVCTL_CONFIG={explicit}: no such file; fix the path or unset it")
        return path.resolve()
    for folder in (start, *start.parents):
        for name in PROJECT_CONFIG_NAMES:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


def _read_project_config(path: Path) -> ProjectConfig:
    problems: list[Problem] = []
    data, positions = read_yaml_file(path, str(path), problems)
    if problems:
        raise ConfigError(problems)
    if data is None or data == {}:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([Problem(str(path), 1, "", "the project config must be a mapping")])
    try:
        return ProjectConfig.model_validate(data)
    except ValidationError as exc:
        import difflib

        problems = []
        for err in exc.errors():
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][-1]), ProjectConfig.model_fields)
                message = "unknown key" + (
                    f" — did you mean '{close[0]}'?"
                    if close
                    else f" (valid: {', '.join(ProjectConfig.model_fields)})"
                )
            problems.append(
                Problem(
                    str(path),
                    positions.get(tuple(err["loc"][:1]), (str(path), None))[1],
                    ".".join(str(p) for p in err["loc"]),
                    message,
                )
            )
        raise ConfigError(problems) from None
