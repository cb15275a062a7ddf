"""The local history of results: every scenario run, in one SQLite file.

``<state dir>/history.sqlite`` (``.envctl/history.sqlite`` by default) keeps one row per
scenario run — its run id, the run-all it was part of, status, seconds, phases, mode and a
digest of its inputs (the validated scenario and the mode) — so that the run-all report can
show trends (durations over the last N runs, pass rate) and find **flaky** scenarios: ones
that both passed and failed on the same inputs. SQLite (the standard library's) because it
is embedded, safe with several writers (WAL, a busy timeout: parallel scenarios and shard
processes write at once) and queryable.

The history only informs; a run never fails because it cannot be written (a warning says
so). ``ENVCTL_KEEP_RUNS`` pruning of run folders leaves it alone; it holds numbers only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HISTORY_FILE = "history.sqlite"
TREND_RUNS = 20
"""How many recent runs of a scenario trends and flakiness look at."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT PRIMARY KEY,
    parent TEXT,
    scenario TEXT NOT NULL,
    status TEXT NOT NULL,
    seconds REAL NOT NULL,
    mode TEXT,
    inputs TEXT,
    phases TEXT,
    finished TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_scenario ON results (scenario, finished);
CREATE INDEX IF NOT EXISTS results_parent ON results (parent);
"""


def history_path(runs_root: Path) -> Path:
    """The history beside the runs folder: ``<state dir>/history.sqlite``."""
    return runs_root.parent / HISTORY_FILE


@dataclass(frozen=True)
class Row:
    run_id: str
    parent: str | None
    scenario: str
    status: str
    seconds: float
    mode: str | None
    inputs: str | None
    phases: dict[str, float]
    finished: str


@dataclass(frozen=True)
class Trend:
    scenario: str
    runs: list[Row]
    """Newest last."""

    @property
    def pass_rate(self) -> float | None:
        judged = [r for r in self.runs if r.status in ("passed", "failed", "degraded")]
        if not judged:
            return None
        return sum(r.status != "failed" for r in judged) / len(judged)

    @property
    def flaky(self) -> bool:
        """Passed and failed on the same inputs within the window."""
        by_inputs: dict[str | None, set[str]] = {}
        for row in self.runs:
            by_inputs.setdefault(row.inputs, set()).add(row.status)
        return any({"passed", "failed"} <= statuses for statuses in by_inputs.values())


class History:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=10.0)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
            with connection:
                yield connection

    def record(
        self,
        *,
        run_id: str,
        scenario: str,
        status: str,
        seconds: float,
        parent: str | None = None,
        mode: str | None = None,
        inputs: str | None = None,
        phases: dict[str, float] | None = None,
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    parent,
                    scenario,
                    status,
                    float(seconds),
                    mode,
                    inputs,
                    json.dumps(phases or {}),
                    datetime.now(UTC).isoformat(timespec="milliseconds"),
                ),
            )

    def set_parent(self, parent: str, run_ids: Sequence[str]) -> None:
        with self._connect() as db:
            db.executemany(
                "UPDATE results SET parent = ? WHERE run_id = ?", [(parent, r) for r in run_ids]
            )

    def trends(self, scenarios: Sequence[str], last: int = TREND_RUNS) -> dict[str, Trend]:
        if not self.path.exists():
            return {name: Trend(name, []) for name in scenarios}
        out: dict[str, Trend] = {}
        with self._connect() as db:
            for name in scenarios:
                rows = db.execute(
                    "SELECT * FROM results WHERE scenario = ? ORDER BY finished DESC LIMIT ?",
                    (name, last),
                ).fetchall()
                out[name] = Trend(name, [_row(r) for r in reversed(rows)])
        return out

    def recent(self, limit: int = 20) -> list[Row]:
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM results ORDER BY finished DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_row(r) for r in rows]

    def of_parent(self, parent: str) -> list[Row]:
        """The scenario results of one run-all, for ``envctl compare``."""
        if not self.path.exists():
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM results WHERE parent = ? ORDER BY scenario", (parent,)
            ).fetchall()
        return [_row(r) for r in rows]


def _row(values: Sequence[Any]) -> Row:
    try:
        phases = json.loads(values[7] or "{}")
    except ValueError:
        phases = {}
    return Row(
        run_id=values[0],
        parent=values[1],
        scenario=values[2],
        status=values[3],
        seconds=float(values[4]),
        mode=values[5],
        inputs=values[6],
        phases=phases if isinstance(phases, dict) else {},
        finished=values[8],
    )
