"""What a run produced: per step, per expectation, per scenario."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envctl.report.cut import cut

STATUSES = ("passed", "failed", "skipped", "degraded", "error")
"""``error`` is a config error (exit 2); the others are the outcomes of a run."""


class StepFailed(AssertionError):
    """A step (or final expectation) did not see what it expected.

    Says where (service, topic, table), what was expected and what was seen; the runner
    adds which step (index, kind, file:line).
    """

    def __init__(self, expected: str, seen: str, where: str = "") -> None:
        self.expected = expected
        self.seen = seen
        self.where = where
        text = f"expected {expected}; seen {seen}"
        super().__init__(f"{where}: {text}" if where else text)


class ScenarioSkipped(Exception):
    """The scenario cannot run here (an optional service cannot be had, no mock exists)."""


@dataclass
class StepRecord:
    index: int
    kind: str
    id: str | None
    line: int | None
    file: str | None
    inputs: dict[str, Any]
    status: str = "pending"
    """passed | failed | skipped | pending"""
    seconds: float = 0.0
    outputs: dict[str, Any] = field(default_factory=dict)
    service: str | None = None
    error: str | None = None
    expected: str | None = None
    seen: str | None = None
    where: str | None = None

    @property
    def label(self) -> str:
        at = f", {self.file}:{self.line}" if self.file and self.line else ""
        name = f" '{self.id}'" if self.id else ""
        return f"step {self.index}{name} ({self.kind}{at})"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "kind": self.kind,
            "id": self.id,
            "line": self.line,
            "service": self.service,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "inputs": self.inputs,
            "outputs": self.outputs,
        }
        for key in ("error", "expected", "seen", "where"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data


@dataclass
class ScenarioOutcome:
    """How one scenario ended."""

    name: str
    status: str
    seconds: float = 0.0
    reason: str | None = None
    run_id: str = ""
    category: str | None = None
    mode_label: str = ""
    steps: list[StepRecord] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    factories: dict[str, Any] = field(default_factory=dict)
    degraded: list[str] = field(default_factory=list)
    shared_with: str | None = None
    """The id of the shared instance group this scenario ran on (run-all)."""
    run_dir: str | None = None
    kept: str | None = None
    """What ``cleanup_after`` kept for inspection: how to reach it and how to remove it."""
    warnings: list[str] = field(default_factory=list)
    bundle: str | None = None
    """The failure bundle (``bundle.html`` in the run folder), when one was written."""
    """What went wrong beside the scenario (e.g. the state folder filled up mid-run)."""
    unavailable: bool = False
    docker_missing: bool = False
    """Failed because no Docker daemon answers (and the native runtime could not stand in)."""
    """A required service could not be had because Docker or an image is missing (the
    pytest plugin skips such a test unless ENVCTL_REQUIRE_DOCKER=1)."""

    @property
    def ok(self) -> bool:
        return self.status in ("passed", "degraded", "skipped")

    def details(self) -> str:
        lines = [f"{self.name}: {self.status}" + (f" — {self.reason}" if self.reason else "")]
        for step in self.steps:
            mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}.get(step.status, "    ")
            lines.append(f"  {mark} {step.label} {step.seconds:.3f}s")
            if step.status == "failed" and step.error:
                lines.append(f"       {step.error}")
        for item in self.expectations:
            mark = "ok  " if item["status"] == "passed" else "FAIL"
            lines.append(f"  {mark} expected {item['what']}")
            if item["status"] != "passed":
                lines.append(f"       {item.get('error', '')}")
        if self.run_dir:
            lines.append(f"  audit log: {self.run_dir}/audit.jsonl")
        if self.kept:
            lines += ["  " + line for line in self.kept.splitlines()]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "run_id": self.run_id,
            "category": self.category,
            "dependency_mode": self.mode_label,
            "phases": {k: round(v, 4) for k, v in self.phases.items()},
            "services": self.services,
            "factories": self.factories,
            # values cut to a readable size; the audit log keeps them whole
            "steps": [cut(s.to_dict(), text=1000, items=50) for s in self.steps],
            "expectations": self.expectations,
        }
        if self.reason:
            data["reason"] = self.reason
        if self.degraded:
            data["degraded"] = self.degraded
        if self.shared_with:
            data["shared_instance"] = self.shared_with
        if self.run_dir:
            data["run_dir"] = self.run_dir
        if self.kept:
            data["kept"] = self.kept
        if self.warnings:
            data["warnings"] = self.warnings
        if self.bundle:
            data["bundle"] = self.bundle
        return data
