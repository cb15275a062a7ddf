"""Run every scenario (or a category): shared instances per group, in parallel, one result.

Each scenario ends passed / failed / skipped / degraded (or error: its file is invalid).
Scenarios that need identical real services share one instance (see
:mod:`envctl.runner.shared`). The run-all writes ``.envctl/runs/<run-id>/result.json``
and its own audit log (groups, shared ups, every scenario's run id).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.engine import new_run_id
from envctl.errors import ConfigError, EnvctlError
from envctl.report.audit import AuditLog
from envctl.report.history import History, history_path
from envctl.report.html_report import REPORT_FILE, ScenarioLine, render_report, write_report
from envctl.report.results import results_json, write_results
from envctl.report.run_folder import RESULT_FILE, SHARED_DIR
from envctl.runner.modes import MODE_ENV, ModeDecision, parse_mode, resolve_modes
from envctl.runner.outcome import ScenarioOutcome
from envctl.runner.run import Runner, SharedInstance
from envctl.runner.shard import ShardSpec, assign, split_digest
from envctl.runner.shared import group_scenario, isolatable, share_key
from envctl.scenario import list_scenarios
from envctl.scenario.loader import infer_category
from envctl.scenario.models import Scenario
from envctl.settings import Settings

ScenarioProgress = Callable[[str, str, int, int, "ScenarioOutcome | None"], None]
"""(event: start | end | stop, scenario, finished so far, total, outcome at the end).
``stop`` (scenario ``""``): the run-all was interrupted; no scenario starts any more and
those running are being waited for."""


@dataclass
class RunAllResult:
    run_id: str
    profile: str
    outcomes: list[ScenarioOutcome]
    seconds: float
    directory: Path
    groups: dict[str, list[str]] = field(default_factory=dict)
    """Shared instance key -> the scenarios that ran on it."""
    dependency_mode: str = "declared"
    """--force-dependency-mode / ENVCTL_DEPENDENCY_MODE, or ``declared`` (each file's)."""
    shard: dict[str, Any] | None = None
    """With ``--shard``: index, total, the split's digest and every selected scenario's shard."""

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(("passed", "failed", "skipped", "degraded", "error"), 0)
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def exit_code(self, strict: bool = False) -> int:
        """2 when any scenario is invalid, else 1 when any failed (or degraded under strict)."""
        counts = self.counts()
        if counts["error"]:
            return 2
        if counts["failed"] or (strict and counts["degraded"]):
            return 1
        return 0

    def to_dict(self) -> dict[str, Any]:
        data = results_json(self.run_id, self.profile, self.outcomes)
        data["seconds"] = round(self.seconds, 3)
        data["counts"] = self.counts()
        data["shared_instances"] = self.groups
        data["dependency_mode"] = self.dependency_mode
        if self.shard is not None:
            data["shard"] = self.shard
        return data


def default_parallel() -> int:
    """Scenarios run at a time by default: 4 per CPU, at most 16 (they mostly wait on
    services, and each runs in its own namespace on shared instances)."""
    import os

    return max(1, min(16, 4 * (os.cpu_count() or 1)))


def _pooled(scenario: Scenario, modes: ModeDecision) -> bool:
    """Whether the scenario's real services can come from a shared instance by content."""
    from envctl.runner.run import real_part
    from envctl.warm import not_reusable

    real = modes.real_services()
    return bool(real) and not_reusable(real_part(scenario, real)) is None


@dataclass
class _Item:
    name: str
    scenario: Scenario | None
    modes: ModeDecision | None
    error: str | None = None


def _take_shard(
    items: list[_Item], shard: ShardSpec, durations: Mapping[str, float]
) -> tuple[list[_Item], dict[str, Any]]:
    """The items of ``shard`` and what the run records about the split (for report merge)."""
    names = [item.name for item in items]
    placed = assign(names, shard.total, durations)
    info = {
        "index": shard.index,
        "total": shard.total,
        "digest": split_digest(names, shard.total, durations),
        "balanced_by": "durations" if durations else "counts",
        "assignment": {name: placed[name] + 1 for name in sorted(placed)},
    }
    return [item for item in items if placed[item.name] == shard.index - 1], info


def run_all(
    runner: Runner,
    *,
    category: str | None = None,
    parallel: int | None = None,
    force_mode: str | None = None,
    share: bool = True,
    names: list[str] | None = None,
    shard: ShardSpec | None = None,
    durations: Mapping[str, float] | None = None,
    progress: ScenarioProgress | None = None,
) -> RunAllResult:
    """Run the scenarios of the tree; raises ConfigError only for an invalid mode or tree.

    ``progress(event, name, done, total, outcome)`` is told when each scenario starts
    (``event == "start"``, ``outcome`` None) and ends (``"end"``), from worker threads, and
    (``"stop"``) when an interrupt stops the run-all: scenarios not started then never start,
    those running end first (and clean up), then the interrupt propagates."""
    settings = runner.settings
    began = time.monotonic()
    mode_override = _mode_override(settings.environ, force_mode)
    if parallel is None:
        parallel = default_parallel()
    profile = getattr(settings, "profile", None) or "default"
    run_id = new_run_id()
    audit = AuditLog(runner.runs_root / run_id, run_id)
    audit.event(
        "run_all.start",
        category=category,
        parallel=parallel,
        profile=profile,
        dependency_mode=mode_override or "declared",
        scenarios_dir=str(settings.scenarios_dir),
        share=share,
    )
    items = _collect(settings, category=category, names=names, force_mode=force_mode)
    shard_info: dict[str, Any] | None = None
    if shard is not None:
        items, shard_info = _take_shard(items, shard, durations or {})
        audit.event("decision.shard", **shard_info)
    batch = _Batch(runner, run_id, audit, progress, total=len(items))
    for item in items:
        if item.error is not None:
            batch.outcomes[item.name] = ScenarioOutcome(item.name, "error", reason=item.error)
            audit.event("scenario", name=item.name, status="error", reason=item.error)
    units = _units([i for i in items if i.error is None], share)
    shared_names = {k: [m.name for m in ms] for k, ms in units if k is not None}
    for key, members_names in shared_names.items():
        audit.event("decision.share", key=key, scenarios=members_names)
    was_sharing = runner.share
    runner.share = share  # scenarios of _pooled units take namespaces on shared instances
    try:
        batch.execute(units, parallel)
    finally:
        runner.share = was_sharing
        for problem in runner.wait_for_cleanup():
            audit.event("error", kind="cleanup", message=problem)
        ordered = [batch.outcomes[i.name] for i in items if i.name in batch.outcomes]
        for outcome in ordered:
            if outcome.shared_with and outcome.shared_with not in shared_names:
                pooled = [o.name for o in ordered if o.shared_with == outcome.shared_with]
                if len(pooled) > 1:
                    shared_names[outcome.shared_with] = pooled
        result = RunAllResult(
            run_id=run_id,
            profile=profile,
            outcomes=ordered,
            seconds=time.monotonic() - began,
            directory=audit.directory,
            groups=shared_names,
            dependency_mode=mode_override or "declared",
            shard=shard_info,
        )
        write_results(audit.directory / RESULT_FILE, result.to_dict())
        try:
            History(history_path(runner.runs_root)).set_parent(
                run_id, [o.run_id for o in ordered if o.run_id]
            )
            write_html_report(result, runner.runs_root, audit.directory / REPORT_FILE)
        except (OSError, sqlite3.Error) as exc:  # the report informs; the run stands
            audit.event("error", kind="report", message=str(exc))
        audit.event("run_all.end", counts=result.counts(), seconds=round(result.seconds, 4))
        audit.close()
    return result


def write_html_report(result: RunAllResult, runs_root: Path, path: Path) -> Path:
    """The run-all HTML report at ``path``: statuses, phases, bundles, trends."""
    trends = History(history_path(runs_root)).trends([o.name for o in result.outcomes])
    lines = [
        ScenarioLine(
            name=o.name,
            status=o.status,
            seconds=o.seconds,
            reason=o.reason,
            phases=o.phases,
            bundle=o.bundle,
            run_id=o.run_id,
            trend=trends[o.name],
        )
        for o in result.outcomes
    ]
    extra: dict[str, Any] = {"profile": result.profile}
    if result.shard is not None:
        extra["shard"] = f"{result.shard['index']}/{result.shard['total']}"
    html = render_report(
        run_id=result.run_id,
        seconds=result.seconds,
        counts=result.counts(),
        lines=lines,
        report=path,
        extra=extra,
    )
    return write_report(path, html)


def _mode_override(environ: Mapping[str, str], force_mode: str | None) -> str | None:
    """The mode forced on every scenario (``--force-dependency-mode``, else
    ``ENVCTL_DEPENDENCY_MODE``), checked; None: each file's own."""
    if force_mode is not None:
        parse_mode(force_mode, "--force-dependency-mode")
    elif environ.get(MODE_ENV, "").strip():
        parse_mode(environ[MODE_ENV], MODE_ENV)
    return force_mode or environ.get(MODE_ENV, "").strip().lower() or None


def _collect(
    settings: Settings,
    *,
    category: str | None,
    names: list[str] | None,
    force_mode: str | None,
) -> list[_Item]:
    """The scenarios to run, in tree order; an invalid one (file or mode) carries its error."""
    items: list[_Item] = []
    for ref in list_scenarios(settings.scenarios_dir):
        if names is not None and ref.name not in names:
            continue
        try:
            scenario = settings.load_scenario(ref.path)
        except ConfigError as exc:
            inferred = infer_category(ref.path)
            if category is None or (inferred is not None and inferred.value == category):
                items.append(_Item(ref.name, None, None, str(exc)))
            continue
        if category is not None and (
            scenario.category is None or scenario.category.value != category
        ):
            continue
        try:
            modes = resolve_modes(scenario, force=force_mode, environ=settings.environ)
        except ConfigError as exc:
            items.append(_Item(scenario.name, scenario, None, str(exc)))
            continue
        items.append(_Item(scenario.name, scenario, modes))
    return items


_Unit = tuple[str | None, list[_Item]]
"""A shared instance key and the scenarios that run on it; key None: one scenario alone."""


def _units(runnable: list[_Item], share: bool) -> list[_Unit]:
    """Group scenarios that need identical services (when ``share``); a group of one runs alone."""
    groups: dict[str | None, list[_Item]] = {}
    units: list[_Unit] = []
    for item in runnable:
        assert item.scenario is not None and item.modes is not None
        if share and _pooled(item.scenario, item.modes):
            # its real services come from an instance shared by content (envctl.warm),
            # the scenario in its own namespace: run it on its own, at any parallelism
            units.append((None, [item]))
            continue
        key = share_key(item.scenario, item.modes) if share else None
        groups.setdefault(key, []).append(item)
    for key, members in groups.items():
        if key is not None and len(members) > 1:
            units.append((key, members))
        else:
            units.extend((None, [m]) for m in members)
    return units


class _Batch:
    """One run-all's scenarios in flight: shared instances up and down, outcomes recorded
    from worker threads."""

    def __init__(
        self,
        runner: Runner,
        run_id: str,
        audit: AuditLog,
        progress: ScenarioProgress | None = None,
        total: int = 0,
    ) -> None:
        self.runner = runner
        self.run_id = run_id
        self.audit = audit
        self.outcomes: dict[str, ScenarioOutcome] = {}
        self._lock = threading.Lock()
        self.progress = progress
        self.total = total
        self.stopping = threading.Event()
        """Set when the run-all is interrupted: scenarios not yet started are not started."""

    def execute(self, units: list[_Unit], parallel: int) -> None:
        """Run every unit on a pool of ``parallel`` workers; shared instances come down at
        the end, also when something went wrong."""
        instances: list[SharedInstance] = []
        ups: dict[str, Future[SharedInstance | None]] = {}
        try:
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                try:
                    self._submit_all(pool, units, ups, instances)
                except BaseException:
                    # Ctrl-C (or a failure): scenarios not started yet never start; those
                    # running end (and clean up) before the interrupt goes on.
                    self.stopping.set()
                    if self.progress is not None:
                        with self._lock:
                            done = len(self.outcomes)
                        self.progress("stop", "", done, self.total, None)
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
        finally:
            for pending in ups.values():  # also those not reached when something went wrong
                if pending.done() and not pending.cancelled() and pending.exception() is None:
                    instance = pending.result()
                    if instance is not None and instance not in instances:
                        instances.append(instance)
            for instance in instances:
                self.down_group(instance)

    def _submit_all(
        self,
        pool: ThreadPoolExecutor,
        units: list[_Unit],
        ups: dict[str, Future[SharedInstance | None]],
        instances: list[SharedInstance],
    ) -> None:
        for key, members in units:
            if key is not None:
                ups[key] = pool.submit(self.up_group, key, members)
        futures: list[Future[None]] = []
        for key, members in units:
            if key is None:
                futures.append(pool.submit(self.run_one, members[0]))
                continue
            shared = ups[key].result()
            if shared is None:
                futures.extend(pool.submit(self.run_one, m) for m in members)
                continue
            instances.append(shared)
            if shared.isolated:
                futures.extend(pool.submit(self.run_one, m, shared) for m in members)
            else:
                futures.append(pool.submit(self.run_sequence, members, shared))
        for future in futures:
            future.result()

    def record(self, outcome: ScenarioOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.name] = outcome
            done = len(self.outcomes)
        if self.progress is not None:
            self.progress("end", outcome.name, done, self.total, outcome)
        self.audit.event(
            "scenario",
            name=outcome.name,
            status=outcome.status,
            seconds=round(outcome.seconds, 4),
            reason=outcome.reason,
            scenario_run_id=outcome.run_id,
            shared_instance=outcome.shared_with,
        )

    def run_one(self, member: _Item, shared: SharedInstance | None = None) -> None:
        assert member.scenario is not None
        if self.progress is not None:
            with self._lock:
                done = len(self.outcomes)
            self.progress("start", member.name, done, self.total, None)
        outcome = self.runner.run(member.scenario, modes=member.modes, shared=shared)
        if (
            outcome.status == "failed"
            and outcome.docker_missing
            and not self.runner.settings.require_docker
        ):
            # a machine without Docker runs what it can natively; the rest says why not
            outcome.status = "skipped"
            outcome.reason = (
                f"needs Docker, which does not answer here ({outcome.reason}); "
                "ENVCTL_REQUIRE_DOCKER=1 makes this a failure"
            )
        self.record(outcome)

    def run_sequence(self, members: list[_Item], shared: SharedInstance | None) -> None:
        for member in members:
            if self.stopping.is_set():  # interrupted: the rest of the sequence never starts
                return
            self.run_one(member, shared)

    def up_group(self, key: str, members: list[_Item]) -> SharedInstance | None:
        """The group's shared instance, or None when it cannot be had (each scenario then
        starts its own, and handles its optional services itself)."""
        first = members[0]
        assert first.scenario is not None and first.modes is not None
        group = group_scenario(first.scenario, first.modes, key)
        t0 = time.monotonic()
        try:
            env = self.runner.engine.up(group, run_id=f"{self.run_id}-{key[:6]}")
        except EnvctlError as exc:
            self.audit.event("shared.up_failed", key=key, message=str(exc))
            return None
        isolated = all(
            m.scenario is not None and m.modes is not None and isolatable(m.scenario, m.modes)
            for m in members
        )
        self.audit.event(
            "shared.up",
            key=key,
            seconds=round(time.monotonic() - t0, 4),
            isolated=isolated,
            environment=env.to_dict(),
        )
        return SharedInstance(key, env, isolated=isolated)

    def down_group(self, shared: SharedInstance) -> None:
        env = shared.environment
        shared_audit = AuditLog(
            self.runner.runs_root / self.run_id / SHARED_DIR / shared.key, env.run_id
        )
        self.runner.capture_logs(env, shared_audit)
        shared_audit.close()
        t0 = time.monotonic()
        errors = env.down()
        self.audit.event(
            "shared.down", key=shared.key, seconds=round(time.monotonic() - t0, 4), errors=errors
        )
