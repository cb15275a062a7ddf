"""Faults as data: the ``faults:`` section of a scenario and the ``fault`` step's body.

```yaml
faults:
  - kind: restart                 # see FAULT_KINDS
    service: kafka
    at: {step: publish_orders}    # or after: {step: ID}, or at: 2.5s (from the first step)
    duration: 3s                  # or until: {step: ID}; default: until the steps end
```

Durations are numbers of seconds or strings with a unit (``500ms``, ``2.5s``, ``1m``;
:mod:`envctl.durations`).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envctl.durations import Duration, seconds
from envctl.faults.kinds import FAULT_KINDS, PROXY_KINDS  # their home

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def size_bytes(value: Any) -> Any:
    """``67108864`` / ``"64m"`` / ``"64MiB"`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a size (write e.g. 64m or 1g)")
        unit = (match.group(2) or "").lower()[:1]
        return int(float(match.group(1)) * _SIZE_UNITS[unit])
    return value


class StepRef(BaseModel):
    """``{step: ID}``: the step with that ``id``."""

    model_config = ConfigDict(extra="forbid")

    step: str = Field(min_length=1, description="The id of a step.")


class FaultSpec(BaseModel):
    """One fault: what, against which service, when, and for how long."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$", description="Name in reports."
    )
    kind: Literal[
        "kill",
        "stop",
        "start",
        "restart",
        "pause",
        "cpu",
        "memory",
        "partition",
        "latency",
        "loss",
        "bandwidth",
        "reset",
        "timeout",
    ] = Field(description=f"One of: {', '.join(FAULT_KINDS)}.")
    service: str = Field(min_length=1, description="The service the fault is done to.")
    needs_durable_storage: bool = Field(
        default=False,
        description="The scenario assumes the service keeps its data across this fault "
        "(a restart, a kill and start): where it cannot (a memory-only broker such as "
        "tansu's), the scenario is skipped with the reason instead of failing.",
    )
    at: Duration | StepRef | None = Field(
        default=None,
        description="When: {step: ID} (just before that step) or seconds after the first "
        "step began (2.5s). Default: when the steps begin (a fault step: now).",
    )
    after: StepRef | None = Field(
        default=None, description="When: {step: ID}, just after that step ended."
    )
    duration: Duration | None = Field(
        default=None, gt=0, description="Seconds until the fault is reverted (2.5s, 500ms)."
    )
    until: StepRef | None = Field(
        default=None, description="Reverted just before this step. Default: when steps end."
    )
    # -- kind parameters ---------------------------------------------------------------------
    signal: str = Field(default="SIGKILL", description="kill: the signal sent.")
    delay: Duration = Field(default=0.0, ge=0, description="latency: added delay (200ms).")
    jitter: Duration = Field(default=0.0, ge=0, description="latency: +/- random variation.")
    percent: float = Field(
        default=0.0, ge=0, le=100, description="loss: share of connections dropped (%)."
    )
    kbps: float = Field(default=0.0, ge=0, description="bandwidth: kilobytes per second.")
    from_: Literal["host", "network", "both"] = Field(
        default="both",
        alias="from",
        description="partition: cut off from the host (tests), from the run network "
        "(other services), or both.",
    )
    cpus: float = Field(default=0.0, ge=0, description="cpu: CPUs the service may use (0.5).")
    memory: int = Field(default=0, ge=0, description="memory: limit in bytes (64m).")

    @field_validator("at", mode="before")
    @classmethod
    def _at(cls, value: Any) -> Any:
        return seconds(value) if isinstance(value, str | int | float) else value

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        return size_bytes(value)

    @model_validator(mode="after")
    def _consistent(self) -> FaultSpec:
        if self.at is not None and self.after is not None:
            raise ValueError("give at: or after:, not both")
        if self.duration is not None and self.until is not None:
            raise ValueError("give duration: or until:, not both")
        if isinstance(self.at, float) and self.at < 0:
            raise ValueError("at: must not be negative")
        needs = {
            "latency": ("delay", self.delay > 0 or self.jitter > 0),
            "loss": ("percent", self.percent > 0),
            "bandwidth": ("kbps", self.kbps > 0),
            "cpu": ("cpus", self.cpus > 0),
            "memory": ("memory", self.memory >= 6 * 1024 * 1024),
        }
        if self.kind in needs:
            key, ok = needs[self.kind]
            if not ok:
                extra = " of at least 6m (Docker's minimum)" if self.kind == "memory" else ""
                raise ValueError(f"a {self.kind} fault needs {key}:{extra}")
        if self.kind == "start" and (self.duration is not None or self.until is not None):
            raise ValueError("a start fault has nothing to revert: drop duration/until")
        return self

    @property
    def label(self) -> str:
        """``pause of postgres`` / ``'broker_down' (restart of kafka)``."""
        what = f"{self.kind} of {self.service}"
        return f"'{self.id}' ({what})" if self.id else what

    @property
    def needs_proxy(self) -> bool:
        """Done by envctl's TCP proxy in front of the service (the host path)."""
        return self.kind in PROXY_KINDS or (self.kind == "partition" and self.from_ == "host")

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)
