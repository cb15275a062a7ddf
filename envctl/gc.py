"""Collecting what killed runs left behind, from labels alone.

Every resource records its owner (host, boot id, PID namespace, pid, process start time —
see :mod:`envctl.owner`) and creation time. A run whose owner is provably gone, and that
was not left up on purpose by ``envctl up`` (its marker volume says
``io.envctl.detached=true``), is garbage. An owner that cannot be checked from here (another
machine, a PID namespace we cannot see) keeps its run. ``--older-than`` also collects
anything envctl-managed older than a limit, whoever owns it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from envctl.durations import parse_duration as _parse
from envctl.owner import ProcessTable, owner_gone
from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_DETACHED,
    LABEL_WARM,
    ManagedResource,
    Runtime,
)

_MAX_AGE = 36_500 * 86_400.0
"""The longest ``--older-than`` (a hundred years)."""


def parse_duration(text: str) -> timedelta:
    """``--older-than``: ``90``, ``90s``, ``15m``, ``2h``, ``7d`` (:mod:`envctl.durations`),
    0 up to a hundred years."""
    return timedelta(seconds=_parse(text, where="--older-than", maximum=_MAX_AGE))


@dataclass
class RunVerdict:
    run_id: str
    scenario: str
    reason: str | None
    """Why the run is garbage; None keeps it."""
    kept_because: str | None = None
    """Why a run that is not provably live-or-dead is kept (its owner cannot be checked)."""
    resources: list[ManagedResource] = field(default_factory=list)


def judge(
    resources: Sequence[ManagedResource],
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
    processes: ProcessTable | None = None,
) -> list[RunVerdict]:
    """Group resources by run and decide, for each run, whether it is garbage and why."""
    now = now or datetime.now(UTC)
    table = processes or ProcessTable()
    runs: dict[str, RunVerdict] = {}
    for resource in resources:
        verdict = runs.setdefault(
            resource.run_id, RunVerdict(resource.run_id, resource.scenario, None)
        )
        verdict.resources.append(resource)
    for verdict in runs.values():
        labels = verdict.resources[0].labels
        created = _parse_time(labels.get(LABEL_CREATED, ""))
        warm = any(r.labels.get(LABEL_WARM) for r in verdict.resources)
        if (
            not warm
            and older_than is not None
            and created is not None
            and now - created > older_than
        ):
            age = int((now - created).total_seconds())
            verdict.reason = f"older than the limit ({age}s old)"
            continue
        if any(r.labels.get(LABEL_DETACHED) == "true" for r in verdict.resources):
            continue  # left up on purpose by `envctl up`; `envctl down` removes it
        if warm:
            continue  # a warm instance: its leases and idle TTL decide (envctl.warm.reap)
        gone, why = owner_gone(labels, table)
        if gone:
            verdict.reason = why
        elif gone is None:
            verdict.kept_because = why
    return sorted(runs.values(), key=lambda v: v.run_id)


def collect(
    runtime: Runtime, *, older_than: timedelta | None = None, dry_run: bool = False
) -> tuple[list[RunVerdict], list[str]]:
    """Remove the resources of every garbage run. Returns the garbage runs and errors."""
    return collect_judged(runtime, judge(runtime.list_managed(), older_than=older_than), dry_run)


def collect_judged(
    runtime: Runtime, verdicts: list[RunVerdict], dry_run: bool = False
) -> tuple[list[RunVerdict], list[str]]:
    garbage = [v for v in verdicts if v.reason]
    errors: list[str] = []
    if not dry_run and garbage:
        errors = runtime.remove([r for v in garbage for r in v.resources])
    return garbage, errors


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
