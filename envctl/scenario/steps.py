"""Step kinds, step bodies and ``expected:``, as pydantic models: the one home of step kinds.

The scenario model keeps steps as raw ``{kind: body}`` mappings and checks each kind against
:data:`STEP_KINDS`; the runner (:mod:`envctl.scenario.plan`) validates the bodies here before
anything starts, so a misspelt key is a config error (exit 2) with the file and line, never a
failure halfway through a run.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envctl.durations import Duration
from envctl.faults.models import FaultSpec
from envctl.scenario.spec import MAX_STEP_SECONDS, refuse_cross_kind

_UNSET: Any = object()


class _Checked(BaseModel):
    """Unknown keys are errors; numbers are finite and never true/false (nor the reverse)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _cross_kind(cls, data: Any) -> Any:
        return refuse_cross_kind(cls, data)


class StepBody(_Checked):
    """Fields every step has."""

    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$",
        description="Name of the step; later steps read its outputs as ${steps.<id>.<field>}.",
    )
    description: str = Field(default="", description="What the step is for (reports).")


class _ServiceStep(StepBody):
    service: str | None = Field(
        default=None,
        description="Service to use; default: the only service of the needed type.",
    )


class PublishStep(_ServiceStep):
    """Produce one message."""

    topic: str
    key: Any = None
    value: Any = None
    headers: dict[str, Any] = Field(default_factory=dict)


class ExpectMessageStep(_ServiceStep):
    """Wait until a message matching every ``match`` entry is on the topic."""

    topic: str
    match: dict[str, Any] = Field(
        default_factory=dict,
        description="key:, value:, value.<path>:, headers.<name>:, partition: -> expected value.",
    )
    within: Duration = Field(
        default=10.0, gt=0, le=MAX_STEP_SECONDS, description="How long to wait (10, 10s, 1m)."
    )
    count: int = Field(default=1, ge=1, description="At least this many matching messages.")


class ConsumeStep(_ServiceStep):
    """Read ``count`` messages from the topic (from its beginning)."""

    topic: str
    count: int = Field(default=1, ge=0)
    within: Duration = Field(
        default=10.0, gt=0, le=MAX_STEP_SECONDS, description="How long to wait for them."
    )


class SqlStep(_ServiceStep):
    """Run one SQL statement; optionally check the rows it returned."""

    query: str = Field(min_length=1)
    params: list[Any] | dict[str, Any] | None = None
    expect_rows: int | None = Field(default=None, ge=0, description="Number of rows returned.")
    expect: list[Any] | None = Field(
        default=None,
        description="Rows returned, in order: each a mapping (column -> value) or a list.",
    )


class RedisStep(_ServiceStep):
    """Send one Redis command; optionally check the reply."""

    command: list[Any] = Field(min_length=1)
    expect: Any = _UNSET

    @field_validator("command", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @property
    def has_expect(self) -> bool:
        return self.expect is not _UNSET


class HttpStep(StepBody):
    """One HTTP request to a generic service's published port."""

    service: str
    path: str = "/"
    method: str = "GET"
    port: int | None = Field(default=None, ge=1, le=65535, description="Container port.")
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout: Duration = Field(
        default=10.0, gt=0, le=MAX_STEP_SECONDS, description="How long to wait for the answer."
    )
    expect_status: int | None = 200
    expect_body: Any = _UNSET

    @property
    def has_expect_body(self) -> bool:
        return self.expect_body is not _UNSET


class ExecStep(StepBody):
    """Run a command in a service's container."""

    service: str
    command: list[str] | str
    expect_exit: int | None = 0
    expect_output: str | None = Field(
        default=None, description="Text the output must contain ('re:' prefix: a regex)."
    )


class SleepStep(StepBody):
    """Wait: ``sleep: 2``, ``sleep: 500ms`` or ``sleep: {seconds: 2s}``."""

    seconds: Duration = Field(ge=0, le=MAX_STEP_SECONDS, description="How long (2, 500ms).")

    @model_validator(mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"seconds": value}
        return value


class CallStep(StepBody):
    """Call a Python function ``module:function`` (sync or async) with the run's context."""

    function: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments.")
    timeout: Duration = Field(
        default=60.0, gt=0, le=MAX_STEP_SECONDS, description="How long it may run (60, 2m)."
    )

    @model_validator(mode="before")
    @classmethod
    def _string(cls, value: Any) -> Any:
        return {"function": value} if isinstance(value, str) else value


# -- faults ----------------------------------------------------------------------------------


class FaultStep(StepBody, FaultSpec):
    """Apply a fault when the step runs; reverted after ``duration``, before the step
    ``until`` names, or when the steps end (see docs/faults.md)."""

    @model_validator(mode="after")
    def _now(self) -> FaultStep:
        if self.at is not None or self.after is not None:
            raise ValueError("a fault step applies its fault when it runs: drop at/after")
        return self


class ExpectRecoveryStep(StepBody):
    """Wait until the service answers its readiness probe again (after a fault)."""

    service: str
    within: Duration = Field(
        default=30.0, gt=0, le=MAX_STEP_SECONDS, description="How long to wait (90s)."
    )


class NoMessageLostStep(_ServiceStep):
    """Every message published to the topic in this run (seeded or by steps) is read back
    exactly once, in publish order within its partition."""

    topic: str
    within: Duration = Field(
        default=30.0, gt=0, le=MAX_STEP_SECONDS, description="How long to wait for them all."
    )


STEP_MODELS: dict[str, type[StepBody]] = {
    "publish": PublishStep,
    "expect_message": ExpectMessageStep,
    "consume": ConsumeStep,
    "sql": SqlStep,
    "redis": RedisStep,
    "http": HttpStep,
    "exec": ExecStep,
    "sleep": SleepStep,
    "call": CallStep,
    "fault": FaultStep,
    "expect_recovery": ExpectRecoveryStep,
    "no_message_lost": NoMessageLostStep,
}

STEP_KINDS: tuple[str, ...] = tuple(STEP_MODELS)
"""Every step kind, in the order the docs and error messages list them."""

CONTAINER_STEPS = ("http", "exec")
"""Step kinds that need a service's container (no mock can stand in for one)."""

STEP_NEEDS: dict[str, str] = {
    "publish": "event_bus",
    "expect_message": "event_bus",
    "consume": "event_bus",
    "sql": "sql",
    "redis": "key_value",
    "http": "http",
    "exec": "",
    "fault": "",
    "expect_recovery": "",
    "no_message_lost": "event_bus",
}
"""What a step kind needs of its service ('' = any with a container): a capability that
service types declare in ``ServicePlugin.serves``."""


# -- expected: ------------------------------------------------------------------------------


class CountSpec(_Checked):
    """A count: exact (``2``) or bounded (``{at_least: 1, at_most: 3}``)."""

    equals: int | None = Field(default=None, ge=0)
    at_least: int | None = Field(default=None, ge=0)
    at_most: int | None = Field(default=None, ge=0)
    where: str | None = Field(default=None, description="rows only: an SQL condition.")

    @model_validator(mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return {"equals": value}
        return value

    def accepts(self, n: int) -> bool:
        if self.equals is not None and n != self.equals:
            return False
        if self.at_least is not None and n < self.at_least:
            return False
        return not (self.at_most is not None and n > self.at_most)

    def describe(self) -> str:
        parts = []
        if self.equals is not None:
            parts.append(f"exactly {self.equals}")
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return " and ".join(parts) or "any number"


class KeySpec(_Checked):
    """A Redis key: its value, or only whether it exists."""

    exists: bool | None = None
    value: Any = _UNSET

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        if isinstance(value, dict) and set(value) <= {"exists", "value"}:
            return value
        return {"value": value}


_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


class Expected(_Checked):
    """Final assertions, checked after the last step."""

    service: str | None = Field(default=None, description="Default: the only one of the type.")
    messages: dict[str, CountSpec] = Field(
        default_factory=dict, description="Messages per topic: a count or {at_least, at_most}."
    )
    rows: dict[str, CountSpec] = Field(
        default_factory=dict,
        description="Rows per table: a count or {equals|at_least|at_most, where}.",
    )
    keys: dict[str, KeySpec] = Field(
        default_factory=dict,
        description="Redis keys: the value, or {exists: true|false}.",
    )
    within: Duration = Field(
        default=10.0,
        gt=0,
        le=MAX_STEP_SECONDS,
        description="messages: how long to wait for the expected (minimum) number of messages.",
    )
    settle: Duration = Field(
        default=0.0,
        ge=0,
        le=MAX_STEP_SECONDS,
        description="messages, real mode: how long to keep looking for messages beyond an "
        "exact or maximum count (an application that may still publish); 0: count what "
        "each partition holds, read to its end.",
    )

    @field_validator("rows")
    @classmethod
    def _tables(cls, rows: dict[str, CountSpec]) -> dict[str, CountSpec]:
        for table in rows:
            if not _TABLE_RE.match(table):
                raise ValueError(f"'{table}' is not a table name (schema.table or table)")
        return rows


def parse_expected(raw: dict[str, Any] | list[Any]) -> list[Expected]:
    """``expected:`` as a list of :class:`Expected` (a mapping is one entry)."""
    from pydantic import TypeAdapter

    items = raw if isinstance(raw, list) else [raw] if raw else []
    return TypeAdapter(list[Expected]).validate_python(items)
