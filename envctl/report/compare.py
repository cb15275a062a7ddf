"""``envctl compare RUN_A RUN_B``: two recorded runs, scenario by scenario.

A run of ``envctl run-all`` records ``.envctl/runs/<run-id>/result.json``::

    {"run_id": "...", "profile": "ci",
     "scenarios": {"NAME": {"status": "passed", "seconds": 1.25, "reason": "..."}}}

(further keys are allowed and ignored). Comparing two of them — say the same suite under
the ``ci`` and the ``staging`` profile, or before and after a change — shows for every
scenario its status and time in each, what changed (``fixed``, ``broke``, ``changed``,
``slower``, ``faster``, ``added``, ``removed``) and the time difference.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.errors import ConfigError
from envctl.report.run_folder import RESULT_FILE

GOOD = frozenset({"passed"})
SLOWER_FACTOR = 1.5
"""A scenario counts as slower (faster) when it took this factor longer (shorter) ..."""
SLOWER_MIN_SECONDS = 1.0
"""... and at least this many seconds more (less): tiny scenarios jitter."""


@dataclass(frozen=True)
class RunResult:
    run_id: str
    profile: str | None
    scenarios: dict[str, dict[str, Any]]
    source: Path


@dataclass(frozen=True)
class ScenarioChange:
    name: str
    status_a: str | None
    status_b: str | None
    seconds_a: float | None
    seconds_b: float | None
    change: str
    """same | fixed | broke | changed | slower | faster | added | removed"""

    @property
    def delta(self) -> float | None:
        if self.seconds_a is None or self.seconds_b is None:
            return None
        return self.seconds_b - self.seconds_a

    def to_dict(self) -> dict[str, Any]:
        delta = self.delta
        return {
            "a": {"status": self.status_a, "seconds": self.seconds_a},
            "b": {"status": self.status_b, "seconds": self.seconds_b},
            "change": self.change,
            "delta_seconds": round(delta, 3) if delta is not None else None,
        }


@dataclass
class Comparison:
    a: RunResult
    b: RunResult
    scenarios: list[ScenarioChange] = field(default_factory=list)

    @property
    def regressions(self) -> list[ScenarioChange]:
        """Scenarios that passed in A and do not in B (or are missing from B)."""
        return [s for s in self.scenarios if s.change in ("broke", "removed")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": {"run_id": self.a.run_id, "profile": self.a.profile},
            "b": {"run_id": self.b.run_id, "profile": self.b.profile},
            "scenarios": {s.name: s.to_dict() for s in self.scenarios},
            "regressions": [s.name for s in self.regressions],
        }


def result_file(ref: str, runs_root: Path) -> Path:
    """The ``result.json`` a reference names: a run id under ``runs_root``, a run
    directory, or the file itself."""
    candidates = [Path(ref), runs_root / ref]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
        if candidate.is_dir() and (candidate / RESULT_FILE).is_file():
            return candidate / RESULT_FILE
    if (runs_root / ref).is_dir() or Path(ref).is_dir():
        raise ConfigError(
            f"run '{ref}' has no {RESULT_FILE} (only `envctl run-all` writes one; "
            "was it interrupted?)"
        )
    known = (
        sorted((p.name for p in runs_root.iterdir() if (p / RESULT_FILE).is_file()), reverse=True)
        if runs_root.is_dir()
        else []
    )
    hint = f"; runs with results: {', '.join(known[:8])}" if known else ""
    raise ConfigError(f"no recorded run '{ref}' under {runs_root}{hint}")


def load_run(ref: str, runs_root: Path) -> RunResult:
    """A run-all's results by reference: its ``result.json`` when there is one, else the
    same numbers from the history (``.envctl/history.sqlite``) — its folder may have been
    pruned since."""
    try:
        return read_result(result_file(ref, runs_root))
    except ConfigError:
        from envctl.report.history import History, history_path

        rows = History(history_path(runs_root)).of_parent(ref)
        if not rows:
            raise
        return RunResult(
            run_id=ref,
            profile=None,
            scenarios={r.scenario: {"status": r.status, "seconds": r.seconds} for r in rows},
            source=history_path(runs_root),
        )


def read_result(path: Path) -> RunResult:
    """Read one ``result.json``; a file that is not one is a ConfigError saying why."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable result file: {exc}") from None
    scenarios = data.get("scenarios") if isinstance(data, dict) else None
    if not isinstance(scenarios, dict) or not all(isinstance(v, dict) for v in scenarios.values()):
        raise ConfigError(
            f"{path}: expected {{run_id, profile, scenarios: {{NAME: {{status, seconds}}}}}}"
        )
    return RunResult(
        run_id=str(data.get("run_id") or path.parent.name),
        profile=data.get("profile") or None,
        scenarios={str(k): v for k, v in scenarios.items()},
        source=path,
    )


def _seconds(entry: Mapping[str, Any] | None) -> float | None:
    value = entry.get("seconds") if entry is not None else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _status(entry: Mapping[str, Any] | None) -> str | None:
    return str(entry.get("status")) if entry is not None and "status" in entry else None


def classify(
    status_a: str | None, status_b: str | None, seconds_a: float | None, seconds_b: float | None
) -> str:
    """What changed for one scenario between run A and run B."""
    if status_a is None:
        return "added"
    if status_b is None:
        return "removed"
    if status_a != status_b:
        if status_a in GOOD:
            return "broke"
        if status_b in GOOD:
            return "fixed"
        return "changed"
    if seconds_a is not None and seconds_b is not None:
        if seconds_b - seconds_a >= SLOWER_MIN_SECONDS and seconds_b >= seconds_a * SLOWER_FACTOR:
            return "slower"
        if seconds_a - seconds_b >= SLOWER_MIN_SECONDS and seconds_a >= seconds_b * SLOWER_FACTOR:
            return "faster"
    return "same"


def compare(a: RunResult, b: RunResult) -> Comparison:
    """Every scenario of either run: A's order first, then those only in B."""
    names = list(a.scenarios) + [n for n in b.scenarios if n not in a.scenarios]
    result = Comparison(a, b)
    for name in names:
        entry_a, entry_b = a.scenarios.get(name), b.scenarios.get(name)
        status_a, status_b = _status(entry_a), _status(entry_b)
        seconds_a, seconds_b = _seconds(entry_a), _seconds(entry_b)
        result.scenarios.append(
            ScenarioChange(
                name,
                status_a,
                status_b,
                seconds_a,
                seconds_b,
                classify(status_a, status_b, seconds_a, seconds_b),
            )
        )
    return result


def format_comparison(comparison: Comparison) -> str:
    """A plain-text table, one line per scenario, and a closing tally."""

    def run_label(run: RunResult) -> str:
        return run.run_id + (f" ({run.profile})" if run.profile else "")

    def shown(status: str | None, seconds: float | None) -> str:
        if status is None:
            return "-"
        return f"{status} {seconds:.2f}s" if seconds is not None else status

    rows = [("scenario", f"A: {run_label(comparison.a)}", f"B: {run_label(comparison.b)}", "Δ", "")]
    for s in comparison.scenarios:
        delta = s.delta
        rows.append(
            (
                s.name,
                shown(s.status_a, s.seconds_a),
                shown(s.status_b, s.seconds_b),
                f"{delta:+.2f}s" if delta is not None else "",
                "" if s.change == "same" else s.change,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    counts: dict[str, int] = {}
    for s in comparison.scenarios:
        counts[s.change] = counts.get(s.change, 0) + 1
    lines.append("")
    lines.append(
        ", ".join(f"{n} {change}" for change, n in sorted(counts.items())) or "no scenarios"
    )
    return "\n".join(lines)
