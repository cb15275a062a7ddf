"""Building blocks shared by every service type's config model.

Each service plugin in :mod:`envctl.services` defines its own ``*Spec`` model on top
of :class:`ServiceSpecBase`; :mod:`envctl.scenario.models` joins them into one
union discriminated by ``type``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)

from envctl.scenario.modes import DependencyMode, RuntimeName, ServiceMode  # their one home

SERVICE_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def service_variable(service: str, suffix: str = "") -> str:
    """``ENVCTL_<SERVICE>_<SUFFIX>``: the environment variables that address one service
    (``_URL``, and for cloud mode its credentials: ``_PASSWORD``, ``_SASL_USERNAME``, ...)."""
    return f"ENVCTL_{service.upper().replace('-', '_')}_{suffix}"


MAX_SECONDS = 86_400.0
"""Any duration in a scenario file: a day. Larger values (``1e9``) would only hang a run."""
MAX_STEP_SECONDS = 3_600.0
"""A step's wait (``sleep``, ``within``, ``timeout``): an hour."""


class _WrongKind:
    """A value of the wrong kind (``partitions: true``, ``cleanup_after: 1``), substituted
    before validation so pydantic refuses it instead of coercing it; shown as written."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        return str(getattr(self.value, "yaml_text", self.value))

    __str__ = __repr__


def _kinds(annotation: Any) -> set[type]:
    """The scalar kinds (bool, int, float, str) an annotation admits, through unions,
    Optional and Annotated; Literal and models admit none."""
    import types
    import typing

    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_kinds(a) for a in typing.get_args(annotation)))
    if annotation in (bool, int, float, str):
        return {annotation}
    return set()


def refuse_cross_kind(cls: type[BaseModel], data: Any) -> Any:
    """``true`` where a number belongs, or a number where true/false belongs, is refused
    (pydantic would turn ``true`` into 1 and ``1`` into true)."""
    if not isinstance(data, dict):
        return data
    fixed: dict[str, Any] | None = None
    for name, info in cls.model_fields.items():
        for key in {name, info.alias or name}:
            if key not in data:
                continue
            value = data[key]
            kinds = _kinds(info.annotation)
            numeric = bool(kinds & {int, float})
            wrong = (isinstance(value, bool) and numeric and bool not in kinds) or (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and bool in kinds
                and not numeric
                and str not in kinds
            )
            if wrong:
                fixed = dict(data) if fixed is None else fixed
                fixed[key] = _WrongKind(value)
    return data if fixed is None else fixed


class StrictModel(BaseModel):
    """Unknown keys are errors, values are not silently coerced across kinds, numbers are
    finite."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _cross_kind(cls, data: Any) -> Any:
        return refuse_cross_kind(cls, data)


def _scalar_to_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        # A YAML number keeps the text it was written as: `0755` stays "0755".
        return str(getattr(value, "yaml_text", value))
    return value


ScalarStr = Annotated[str, BeforeValidator(_scalar_to_str)]
"""A string that also accepts YAML numbers and booleans (``retention.ms: 600000``)."""


class PortMapping(StrictModel):
    """A container port published on 127.0.0.1, on a free host port unless ``host`` pins one."""

    container: int = Field(ge=1, le=65535, description="Port inside the container.")
    host: int | None = Field(
        default=None, ge=1, le=65535, description="Pinned host port; unset: a free one."
    )
    protocol: Literal["tcp", "udp"] = Field(default="tcp", description="tcp | udp")

    @model_validator(mode="before")
    @classmethod
    def _parse_short_form(cls, value: Any) -> Any:
        # Accept compose-like short forms: 9092, "9092", "19092:9092", "9092/udp".
        if isinstance(value, int) and not isinstance(value, bool):
            return {"container": value}
        if isinstance(value, str):
            text, _, proto = value.partition("/")
            parts = text.split(":")
            if len(parts) > 3:
                raise ValueError(f"port '{value}' is not 'CONTAINER' or 'HOST:CONTAINER'")
            if len(parts) == 3 and parts[0] not in ("127.0.0.1", "localhost"):
                raise ValueError(
                    f"port '{value}': envctl publishes on 127.0.0.1 only; "
                    "write 'HOST:CONTAINER' without an address"
                )
            try:
                numbers = [int(p) for p in parts[-2:]] if len(parts) > 1 else [int(parts[0])]
            except ValueError:
                raise ValueError(f"port '{value}' is not 'CONTAINER' or 'HOST:CONTAINER'") from None
            result: dict[str, Any] = {"container": numbers[-1]}
            if len(numbers) == 2:
                result["host"] = numbers[0]
            if proto:
                result["protocol"] = proto
            return result
        return value


class CleanupMap(StrictModel):
    """Cleanup per resource kind; each entry follows the same values as ``cleanup_after``."""

    containers: bool | Literal["on_success"] = Field(
        default=True,
        description="Containers (docker mode). Kept anyway while data inside them is kept.",
    )
    topics: bool | Literal["on_success"] = Field(default=True, description="Kafka topics.")
    consumer_groups: bool | Literal["on_success"] = Field(
        default=True, description="Kafka consumer groups of the run's namespace."
    )
    databases: bool | Literal["on_success"] = Field(
        default=True,
        description="PostgreSQL databases of the run, and the run's Redis key space.",
    )
    volumes: bool | Literal["on_success"] = Field(
        default=True, description="Named volumes of the run's containers."
    )


CleanupSetting = StrictBool | Literal["on_success"] | CleanupMap
"""``true`` (remove everything), ``false`` (keep for inspection), ``on_success`` or a map."""


class SnapshotPolicy(StrictModel):
    """Whether to capture service state before and after the scenario's steps."""

    before: bool = Field(default=False, description="Snapshot named 'before' the steps.")
    after: bool = Field(default=False, description="Snapshot named 'after' the steps.")
    max_messages: int = Field(
        default=100_000,
        ge=1,
        description="Kafka: at most this many messages per partition (the newest) are kept; "
        "the manifest says when a partition was truncated (such a snapshot cannot be restored).",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return {"before": value, "after": value}
        return value


NAMING_PLACEHOLDERS = ("name", "run", "scenario")
_PHYSICAL_NAME_CHARS = re.compile(r"^[A-Za-z0-9._-]*$")


def template_fields(template: str) -> list[str]:
    """The placeholders of a naming template; ValueError for anything but ``{name}``,
    ``{run}`` and ``{scenario}`` (no format specs, no attribute access)."""
    import string

    fields: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template {template!r}: {exc}") from None
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in NAMING_PLACEHOLDERS or spec or conversion:
            raise ValueError(
                f"template {template!r}: unknown placeholder '{{{field}}}' "
                f"(valid: {', '.join('{' + p + '}' for p in NAMING_PLACEHOLDERS)})"
            )
        fields.append(field)
    return fields


class NamingTemplates(StrictModel):
    """How a run's logical names (``orders``) become physical ones (``envctl.<run>.orders``).

    Placeholders: ``{name}`` (the logical name), ``{run}`` (the run id), ``{scenario}``.
    Without ``{run}`` two runs against one broker or database share the same resources.
    """

    topic: str = Field(default="envctl.{run}.{name}", description="Kafka topic names.")
    group: str = Field(default="envctl.{run}.{name}", description="Kafka consumer group ids.")
    database: str = Field(
        default="envctl_{run}_{name}",
        description="PostgreSQL databases (the service's `database` and `databases`).",
    )
    key_prefix: str = Field(
        default="envctl:{run}:", description="Redis: prefix of every key of the run."
    )

    @field_validator("topic", "group", "database")
    @classmethod
    def _has_name(cls, value: str) -> str:
        if "name" not in template_fields(value):
            raise ValueError(f"template {value!r} must contain {{name}}")
        return value

    @field_validator("topic", "group")
    @classmethod
    def _kafka_chars(cls, value: str) -> str:
        literal = re.sub(r"\{[a-z]+\}", "", value)
        if not _PHYSICAL_NAME_CHARS.match(literal):
            raise ValueError(
                f"template {value!r}: Kafka names may contain letters, digits, '.', '_', '-' only"
            )
        return value

    @field_validator("key_prefix")
    @classmethod
    def _no_name(cls, value: str) -> str:
        if "name" in template_fields(value):
            raise ValueError(f"template {value!r}: a key prefix cannot contain {{name}}")
        return value


class ServiceSpecBase(StrictModel):
    """Fields every service has, whatever its type."""

    type: str = Field(description="Service type: decides the plugin (kafka, postgres, ...).")
    mode: ServiceMode = Field(default=ServiceMode.DOCKER, description="docker | external | cloud")
    image: str | None = Field(
        default=None,
        description="Container image; each type has a default. ENVCTL_IMAGE_<TYPE> replaces it.",
    )
    runtime: RuntimeName | None = Field(
        default=None,
        description="docker | native | auto (default): a container, a local process (kafka, "
        "postgres, redis), or Docker when it can run the image and native otherwise. "
        "--runtime / ENVCTL_RUNTIME / the project config's runtime win.",
    )
    env: dict[str, ScalarStr] = Field(
        default_factory=dict, description="Extra environment variables for the container."
    )
    ports: list[PortMapping] = Field(
        default_factory=list,
        description="Ports to publish on 127.0.0.1 ('CONTAINER' or 'HOST:CONTAINER').",
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Services that must be ready before this one starts."
    )
    required: bool = Field(
        default=True,
        description="false: when the service cannot be had, the scenario is skipped "
        "with the reason (never silently mocked).",
    )
    url: str | None = Field(
        default=None,
        description="Address of an external/cloud service (also ENVCTL_<SERVICE>_URL).",
    )
    cleanup_after: CleanupSetting | None = Field(
        default=None, description="Overrides the scenario's cleanup_after for this service."
    )
    snapshot: SnapshotPolicy | None = Field(
        default=None, description="Overrides the scenario's snapshot policy for this service."
    )
    dependency_mode: DependencyMode | None = Field(
        default=None,
        description="real | mock for this service only (mixed scenarios); overrides the "
        "scenario's dependency_mode. --force-dependency-mode and ENVCTL_DEPENDENCY_MODE "
        "still win.",
    )
    fallback: Literal["mock"] | None = Field(
        default=None,
        description="mock: when this optional service (required: false) cannot be started, "
        "the scenario runs against its mock and is reported degraded (a failure under "
        "--strict). Never implied.",
    )

    @model_validator(mode="after")
    def _fallback_needs_optional(self) -> Any:
        if self.fallback is not None and self.required:
            raise ValueError(
                "fallback: mock applies to optional services only; set required: false"
            )
        return self

    @field_validator("depends_on", mode="before")
    @classmethod
    def _one_dependency(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_secret_in_url(self) -> ServiceSpecBase:
        from urllib.parse import urlsplit

        url = self.url
        if self.mode == ServiceMode.CLOUD and url and urlsplit(url).password is not None:
            raise ValueError(
                "mode: cloud refuses a password in the scenario file (it would be committed "
                "and printed); remove it from url and set ENVCTL_<SERVICE>_PASSWORD instead"
            )
        return self


class TimeoutProfile(StrictModel):
    """Seconds allowed per phase of one service. Unset phases use the service type's default."""

    startup: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS, description="Create and start the container."
    )
    health_check: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS, description="Until the readiness probe succeeds."
    )
    setup: float | None = Field(
        default=None, gt=0, le=MAX_SECONDS, description="Create topics/databases/keys."
    )
    seed: float | None = Field(default=None, gt=0, le=MAX_SECONDS, description="Load seed data.")
    publish_ack: float | None = Field(
        default=None,
        gt=0,
        le=MAX_SECONDS,
        description="Kafka: wait for a produced message's delivery report.",
    )
