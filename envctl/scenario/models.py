"""The scenario file, as pydantic models. This module is the reference for the format."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias, Union

from pydantic import Field, PrivateAttr, field_validator

from envctl.errors import ConfigError, Problem
from envctl.profiles import Profiles
from envctl.scenario.compose import ComposeSource
from envctl.scenario.spec import (
    SERVICE_NAME_RE,
    CleanupSetting,
    DependencyMode,
    NamingTemplates,
    RuntimeName,
    ServiceSpecBase,
    SnapshotPolicy,
    StrictModel,
    TimeoutProfile,
)
from envctl.scenario.steps import STEP_KINDS
from envctl.scenario.timeouts import parse_ttl, profile_entry
from envctl.services import registry


def _service_spec_union() -> Any:
    models = registry.spec_models()
    if len(models) == 1:  # a discriminator needs a union of two or more
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="type")]  # noqa: UP007


if TYPE_CHECKING:
    ServiceSpec: TypeAlias = ServiceSpecBase
else:
    ServiceSpec = _service_spec_union()
"""One entry of ``external_services``; ``type`` chooses the model. The members are the spec
models of every registered service type (:mod:`envctl.services.registry`)."""


class Category(StrEnum):
    UNIT = "unit"
    INTEGRATION = "integration"
    MIXED = "mixed"


class ReuseConfig(StrictModel):
    """``reuse: {enabled, ttl}``: warm instances (see :mod:`envctl.warm`)."""

    enabled: bool = Field(default=True, description="Reuse warm instances and leave them warm.")
    ttl: float | str | None = Field(
        default=None,
        description="Idle time before a warm instance is removed: seconds or 90s, 10m, 2h "
        "(default 10m).",
    )

    @field_validator("ttl")
    @classmethod
    def _duration(cls, value: float | str | None) -> float | str | None:
        if value is None:
            return value
        try:
            parse_ttl(value, "ttl")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value


class Scenario(StrictModel):
    """A scenario: the services a test needs, how they start, and what happens afterwards."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        max_length=100,
        description="Unique name; `--scenario NAME` finds the file by it.",
    )
    description: str = Field(default="", description="What the scenario checks.")
    category: Category | None = Field(
        default=None,
        description="unit | integration | mixed; defaults to the folder the file is in.",
    )
    dependency_mode: DependencyMode = Field(
        default=DependencyMode.MOCK,
        description="real: services run for real; mock: in-memory doubles (default).",
    )
    runtime: RuntimeName | None = Field(
        default=None,
        description="docker | native | auto for every service this scenario starts (a "
        "service's own runtime wins); default auto.",
    )
    extends: str | list[str] | None = Field(
        default=None,
        description="Base template(s), relative to this file: maps merge deeply, lists replace.",
    )
    external_services: dict[str, ServiceSpec] = Field(
        default_factory=dict,
        description="Services by name (lower-case; the name is also the host name on the "
        "run's network). `type` chooses the model below.",
    )
    timeout_profiles: dict[str, TimeoutProfile] = Field(
        default_factory=dict,
        description="Seconds per phase, keyed by service name (or service type).",
    )
    cleanup_after: CleanupSetting = Field(
        default=True,
        description="true: remove everything; false: keep for inspection; on_success; or a map.",
    )
    snapshot: SnapshotPolicy = Field(
        default_factory=SnapshotPolicy,
        description="Capture service state before/after the steps (`true` = both).",
    )
    naming: NamingTemplates = Field(
        default_factory=NamingTemplates,
        description="How logical names become physical ones in the run's namespace "
        "(`orders` -> `envctl.<run>.orders`), e.g. {topic: '{name}'} to use names as written.",
    )
    reuse: bool | ReuseConfig | None = Field(
        default=None,
        description="Keep the real services warm for later runs and reuse them (each run in "
        "its own namespace): true, false, or {enabled, ttl} (idle time before removal, e.g. "
        "10m). --reuse / ENVCTL_REUSE win; see README 'Warm environments'.",
    )
    steps: list[dict[str, Any]] = Field(
        default_factory=list,
        description=f"Steps, each one of: {', '.join(STEP_KINDS)}. Executed by `envctl run`.",
    )
    expected: dict[str, Any] | list[Any] = Field(
        default_factory=dict, description="Final assertions, checked by `envctl run`."
    )
    faults: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Faults injected while the steps run: {kind, service, at|after, "
        "duration|until, ...}, always reverted (see docs/faults.md).",
    )
    compose: ComposeSource | None = Field(
        default=None,
        description="Take services from an existing compose file: {file, services, "
        "keep_host_ports, drop}. They join the graph with envctl's probes, labels and cleanup.",
    )
    profiles: Profiles = Field(
        default_factory=dict,
        description="Overlays selected by --profile NAME / ENVCTL_PROFILE (see docs/profiles.md).",
    )

    _source: Path | None = PrivateAttr(default=None)
    _root: Path | None = PrivateAttr(default=None)
    _lines: dict[tuple[str | int, ...], tuple[str, int]] = PrivateAttr(default_factory=dict)
    """Where ``steps`` and ``expected`` entries were written (file, line), kept by the loader
    so steps are checked and reported with their lines without reading the file again."""
    _warnings: list[Problem] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        """What loading the file left out without failing, one problem each: the keys of a
        ``compose:`` source envctl ignores (``container_name``, ``restart``, ...). The CLI
        prints them as ``envctl: warning:`` lines."""
        return list(self._warnings)

    @property
    def source(self) -> Path | None:
        """The file this scenario was loaded from."""
        return self._source

    @property
    def root(self) -> Path | None:
        """The scenario tree: seed files must live under it (the scenarios dir, or the
        file's own folder when the file was loaded by path)."""
        if self._root is not None:
            return self._root
        return self._source.parent if self._source is not None else None

    @field_validator("external_services")
    @classmethod
    def _service_names(cls, services: dict[str, ServiceSpecBase]) -> dict[str, ServiceSpecBase]:
        for name in services:
            if not SERVICE_NAME_RE.match(name):
                raise ValueError(
                    f"service name '{name}' must be lower-case letters, digits, '-' or '_', "
                    "starting with a letter"
                )
        return services

    @field_validator("steps")
    @classmethod
    def _step_kinds(cls, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        import difflib

        for index, step in enumerate(steps):
            if len(step) != 1:
                raise ValueError(
                    f"step {index} must have exactly one kind ({', '.join(STEP_KINDS)}), "
                    f"found {', '.join(map(str, step)) or 'none'}"
                )
            kind = next(iter(step))
            if kind not in STEP_KINDS:
                close = difflib.get_close_matches(str(kind), STEP_KINDS, n=1)
                hint = f" — did you mean '{close[0]}'?" if close else ""
                raise ValueError(
                    f"step {index}: unknown step kind '{kind}'{hint} "
                    f"(valid: {', '.join(STEP_KINDS)})"
                )
        return steps

    def timeouts_for(self, service: str) -> TimeoutProfile:
        """The scenario's timeout profile for a service: by name, else by its type."""
        spec = self.external_services.get(service)
        entry = profile_entry(self.timeout_profiles, service, spec.type if spec else service)
        return entry if entry is not None else TimeoutProfile()
