"""Run one scenario: decide modes, bring up the real services (or none), resolve tools,
execute the steps, check ``expected:``, capture logs, clean up — recording every decision,
phase, step and error in the run's audit log.

Statuses: ``passed``; ``failed`` (a step or expectation, or a required service that could
not be had); ``skipped`` (an optional service without a fallback cannot be had, or a step
needs a container of a service that runs as a mock); ``degraded`` (an optional service with
``fallback: mock`` could not be had and its mock was used); ``error`` (the scenario's
configuration is invalid: exit 2).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from envctl import snapshot
from envctl.cleanup import finish
from envctl.engine import Engine, Progress, new_run_id
from envctl.environment import Environment, build_plugin, prune_runs, resolve_image
from envctl.errors import ConfigError, DockerUnavailable, EnvctlError, ImageNotFound
from envctl.faults.models import FaultSpec
from envctl.interrupts import REMOVED_NOTE, shielded
from envctl.namespace import Namespace
from envctl.report import otel
from envctl.report.audit import AuditLog, public
from envctl.report.bundle import parse_trace, wants_bundle, write_bundle
from envctl.report.history import History, history_path
from envctl.report.run_folder import DIFF_JSON, DIFF_TEXT
from envctl.report.run_folder import runs_root as default_runs_root
from envctl.runner.context import RunContext
from envctl.runner.expectations import check_expectations
from envctl.runner.faulting import RunFaults, has_faults
from envctl.runner.modes import ModeChoice, ModeDecision, real_part, resolve_modes
from envctl.runner.outcome import ScenarioOutcome, ScenarioSkipped, StepFailed, StepRecord
from envctl.runner.shared import prepare_namespace, reset_after_run
from envctl.runner.steps import execute
from envctl.runtime.base import Runtime
from envctl.runtime.docker import DockerRuntime
from envctl.scenario.models import Scenario
from envctl.scenario.plan import Plan, plan_scenario
from envctl.scenario.spec import DependencyMode, ServiceMode
from envctl.scenario.steps import CONTAINER_STEPS, STEP_MODELS
from envctl.scenario.timeouts import PhaseTimeouts, resolve_timeouts
from envctl.services.registry import plugin_for
from envctl.settings import Settings
from envctl.snapshot.compare import format_diff
from envctl.tools.naming import namespaced
from envctl.tools.registry import resolve_tools
from envctl.variables import UnknownVariable

if TYPE_CHECKING:
    from envctl.tools.registry import ResolvedTools
    from envctl.warm import ReuseSetting, WarmNamespace, WarmPool

NO_MOCK_TYPES = ("generic",)
"""Service types without an in-memory double: they run for real or not at all."""


@dataclass
class SharedInstance:
    """Real services already up for several scenarios of a run-all (one per group)."""

    key: str
    environment: Environment
    isolated: bool = False
    """Each scenario gets its own namespace (topics, groups, key prefix) on the instance, so
    the group's scenarios may run at the same time; otherwise they run one after another
    and the instance is reset after each."""


@dataclass
class RunEnvironment:
    """What a scenario runs against: the real services' endpoints and containers."""

    environment: Environment | None
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    """With secret fields (``_dsn``): for tools only, never logged."""
    containers: dict[str, Any] = field(default_factory=dict)


@dataclass
class LiveEnvironment:
    """A scenario's services and tools, for code to use (see :meth:`Runner.open_environment`)."""

    scenario: Scenario
    run_id: str
    modes: ModeDecision
    tools: Any
    """:class:`~envctl.tools.registry.ResolvedTools`: service name -> tool."""
    environment: Environment | None
    """The engine's environment of the real services (None when everything is a mock)."""
    service_endpoints: dict[str, dict[str, Any]]
    degraded: list[str]
    run_dir: Path
    names: Namespace | None = None
    """The physical names of the real services (None: everything is a mock)."""

    @property
    def namespace(self) -> Namespace:
        """Logical -> physical names of this run, as the README shows:
        ``env.namespace.topic("orders")`` -> ``envctl.<run>.orders``. With mocks only, the
        run's default templates (mocks use logical names; these are what real runs use)."""
        if self.names is not None:
            return self.names
        return Namespace.for_run(self.scenario, self.run_id)

    @property
    def mode(self) -> str:
        """``real``, ``mock`` or ``mixed``."""
        return self.modes.label

    def endpoints(self, service: str) -> dict[str, Any]:
        """Connection fields of a real service (empty for a mock)."""
        return dict(self.service_endpoints.get(service, {}))

    def tool(self, service: str) -> Any:
        return self.tools[service]


def _step_tools(
    scenario: Scenario,
    tools: Mapping[str, Any],
    modes: Mapping[str, DependencyMode],
    physical: Any,
) -> dict[str, Any]:
    """The tools steps use: real ones translate logical names to the run's physical ones
    (mocks keep logical names, in a namespace of their own)."""
    return {
        name: namespaced(
            tool,
            scenario.external_services[name].type,
            physical if modes[name] == DependencyMode.REAL else None,
        )
        for name, tool in tools.items()
    }


def cleanup_environment(
    env: Environment, outcome: ScenarioOutcome, keep_on_failure: bool = False
) -> list[str]:
    """Take a scenario's own environment down after its run, as its ``cleanup_after``
    policy says (``keep_on_failure``: a failed run keeps everything); what is kept is
    listed (how to reach it, how to remove it) in the outcome."""

    # Cleanup runs before the final status is set: judge from what has happened so far.
    passed = (
        "steps" in outcome.phases
        and all(s.status == "passed" for s in outcome.steps)
        and all(e["status"] == "passed" for e in outcome.expectations)
    )
    report = finish(env, passed, keep_all=keep_on_failure and not passed)
    if report.kept:
        outcome.kept = str(report)
    return list(report.errors)


class Runner:
    """Runs scenarios. Built once at the edge with settings (like :class:`Engine`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        runtime_factory: Callable[[], Runtime] | None = None,
        progress: Progress | None = None,
        runs_root: Path | None = None,
        cleanup: Callable[[Environment, ScenarioOutcome], list[str]] = cleanup_environment,
        log: logging.Logger | None = None,
        trace: str | None = None,
        reuse: bool | None = None,
        share: bool = False,
        keep_on_failure: bool = False,
    ) -> None:
        """``reuse``: ``--reuse`` / ``--no-reuse`` (None: ``ENVCTL_REUSE``, the scenario's
        and the project's ``reuse:``, default off): real services on warm instances kept
        for later runs (:mod:`envctl.warm`). ``share``: runs of this runner share instances
        among themselves, each run in its own namespace (pytest sessions, run-all)."""
        self.settings = settings
        if keep_on_failure and cleanup is cleanup_environment:
            cleanup = functools.partial(cleanup_environment, keep_on_failure=True)
        self.trace = parse_trace(trace, settings.environ)
        """When a run gets a failure bundle: retain-on-failure (default) | on | off."""
        self.reuse = reuse
        self.share = share
        self._warm: WarmPool | None = None
        if runtime_factory is None:

            def runtime_factory() -> Runtime:
                return DockerRuntime.connect(settings.environ)

        self.engine = Engine(settings, runtime_factory, progress)
        self.runs_root = runs_root or default_runs_root(settings)
        self.cleanup = cleanup
        self.log = log or logging.getLogger("envctl.run")

    # -- warm instances ----------------------------------------------------------------------
    @property
    def warm(self) -> WarmPool:
        if self._warm is None:
            from envctl.warm import WarmPool

            self._warm = WarmPool(self.engine, self.settings)
        return self._warm

    def close(self) -> list[str]:
        """Finish namespace cleanups, give leases back, remove this runner's own shared
        instances (warm ones stay for their TTL). Returns the errors."""
        if self._warm is None:
            return []
        warm, self._warm = self._warm, None
        return warm.close()

    def wait_for_cleanup(self) -> list[str]:
        """Wait for the background cleanups of finished runs' namespaces."""
        return self._warm.wait_for_cleanup() if self._warm is not None else []

    def _reuse_for(self, scenario: Scenario) -> ReuseSetting | None:
        """Whether this run takes its real services from an instance (warm, or shared in
        this process) rather than starting its own; None: its own."""
        from envctl.warm import decide_reuse

        setting = decide_reuse(self.settings, scenario, self.reuse)
        if setting.enabled or self.share:
            return setting
        return None

    # -- one scenario ------------------------------------------------------------------------
    def run(
        self,
        scenario: Scenario,
        *,
        force_mode: str | DependencyMode | None = None,
        modes: ModeDecision | None = None,
        run_id: str | None = None,
        steps: list[dict[str, Any]] | None = None,
        shared: SharedInstance | None = None,
        replay_of: str | None = None,
    ) -> ScenarioOutcome:
        """Run ``scenario`` (its steps, or ``steps`` when replaying) and return how it ended."""
        run_id = run_id or new_run_id()
        began = time.monotonic()
        prune_runs(self.settings)  # the state folder does not grow forever
        audit = AuditLog(self.runs_root / run_id, run_id)
        outcome = ScenarioOutcome(
            name=scenario.name,
            status="failed",
            run_id=run_id,
            category=scenario.category.value if scenario.category else None,
            run_dir=str(audit.directory),
            warnings=[str(problem) for problem in scenario.warnings],
        )
        audit.event(
            "run.start",
            scenario=scenario.name,
            source=str(scenario.source) if scenario.source else None,
            category=outcome.category,
            steps=scenario.steps if steps is None else steps,
            expected=scenario.expected,
            replay_of=replay_of,
            shared_instance=shared.key if shared else None,
        )
        try:
            if modes is None:
                modes = resolve_modes(scenario, force=force_mode, environ=self.settings.environ)
            outcome.mode_label = modes.label
            audit.event("decision.mode", **modes.to_dict())
            plan = plan_scenario(scenario, steps)
            _check_mockable(scenario, plan, modes)
            _check_durable_storage(scenario, modes, self.settings)
            with self._environment(scenario, modes, run_id, audit, outcome, shared) as (
                run_env,
                modes,
            ):
                outcome.mode_label = modes.label
                self._run_steps(scenario, plan, modes, run_env, audit, outcome, shared)
            _conclude(outcome)
        except ConfigError as exc:
            outcome.status = "error"
            outcome.reason = str(exc)
            audit.event("error", kind="config", message=str(exc))
        except ScenarioSkipped as exc:
            outcome.status = "skipped"
            outcome.reason = str(exc)
            audit.event("skipped", reason=str(exc))
        except EnvctlError as exc:
            outcome.status = "failed"
            outcome.unavailable = isinstance(exc, DockerUnavailable | ImageNotFound)
            outcome.docker_missing = isinstance(exc, DockerUnavailable)
            notes = list(getattr(exc, "__notes__", []))
            outcome.reason = " | ".join([str(exc), *notes])
            audit.event("error", kind=type(exc).__name__, message=outcome.reason)
        except BaseException as exc:
            audit.event(
                "error",
                kind=type(exc).__name__,
                message=str(exc),
                traceback=traceback.format_exc(),
            )
            raise
        finally:
            outcome.seconds = time.monotonic() - began
            audit.event(
                "run.end",
                status=outcome.status,
                reason=outcome.reason,
                seconds=round(outcome.seconds, 4),
                phases={k: round(v, 4) for k, v in outcome.phases.items()},
                dependency_mode=outcome.mode_label,
            )
            audit.close()
            if audit.problem:
                outcome.warnings.append(audit.problem)
            self._write_bundle(audit.directory, outcome)
            self._record_history(scenario, outcome)
            self._export_trace(audit.directory, outcome)
        return outcome

    def _export_trace(self, directory: Path, outcome: ScenarioOutcome) -> None:
        """The run as an OpenTelemetry trace, when OTEL_EXPORTER_OTLP_* says where to."""

        if otel.wanted(self.settings.environ):
            problem = otel.export_run(directory, self.settings.environ)
            if problem:
                outcome.warnings.append(problem)

    def _write_bundle(self, directory: Path, outcome: ScenarioOutcome) -> None:
        """The failure bundle (``--trace``); a run never fails because its bundle could not
        be written — that becomes a warning."""
        import jinja2

        if not wants_bundle(outcome.status, self.trace):
            return
        try:
            outcome.bundle = str(write_bundle(directory))
        except (OSError, ValueError, jinja2.TemplateError) as exc:
            outcome.warnings.append(f"cannot write the failure bundle in {directory}: {exc}")

    def _record_history(self, scenario: Scenario, outcome: ScenarioOutcome) -> None:
        """One row in the local history (trends, flaky scenarios); never fails the run."""
        import sqlite3

        try:
            History(history_path(self.runs_root)).record(
                run_id=outcome.run_id,
                scenario=outcome.name,
                status=outcome.status,
                seconds=outcome.seconds,
                mode=outcome.mode_label,
                inputs=inputs_digest(scenario, outcome.mode_label),
                phases={k: round(v, 4) for k, v in outcome.phases.items()},
            )
        except (OSError, sqlite3.Error) as exc:
            outcome.warnings.append(f"cannot record the run in the history: {exc}")

    # -- an environment for code (the pytest plugin, Python users) -----------------------------
    @contextlib.contextmanager
    def open_environment(
        self,
        scenario: Scenario,
        *,
        force_mode: str | DependencyMode | None = None,
        namespace: str = "",
        run_id: str | None = None,
    ) -> Iterator[LiveEnvironment]:
        """The scenario's services up (real ones) and its tools resolved, without running its
        steps; everything is closed and cleaned up on exit. Raises ScenarioSkipped when an
        optional service without fallback cannot be had."""

        run_id = run_id or new_run_id()
        audit = AuditLog(self.runs_root / run_id, run_id)
        outcome = ScenarioOutcome(scenario.name, "running", run_id=run_id)
        try:
            modes = resolve_modes(scenario, force=force_mode, environ=self.settings.environ)
            audit.event("run.start", scenario=scenario.name, source=str(scenario.source), steps=[])
            audit.event("decision.mode", **modes.to_dict())
            with self._environment(scenario, modes, run_id, audit, outcome, None) as (
                run_env,
                modes,
            ):
                mode_map = {n: s.mode for n, s in modes.services.items()}
                tools = resolve_tools(
                    scenario,
                    run_env.endpoints,
                    mode_map,
                    timeouts=self._timeouts(scenario),
                    namespace=namespace or run_id,
                )
                audit.event("decision.tools", factories=tools.audit)
                self._seed_mocks(scenario, tools, mode_map)
                physical = getattr(run_env.environment, "namespace", None)
                live = LiveEnvironment(
                    scenario=scenario,
                    run_id=run_id,
                    modes=modes,
                    tools=_step_tools(scenario, tools, mode_map, physical),
                    environment=run_env.environment,
                    service_endpoints={n: public(e) for n, e in run_env.endpoints.items()},
                    degraded=list(outcome.degraded),
                    run_dir=audit.directory,
                    names=physical,
                )
                try:
                    yield live
                finally:
                    tools.close()
        finally:
            audit.event("run.end", status="closed")
            audit.close()

    # -- environment ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _environment(
        self,
        scenario: Scenario,
        modes: ModeDecision,
        run_id: str,
        audit: AuditLog,
        outcome: ScenarioOutcome,
        shared: SharedInstance | None,
    ) -> Iterator[tuple[RunEnvironment, ModeDecision]]:
        for name, spec in scenario.external_services.items():
            service_mode = modes.services[name]
            decision: dict[str, Any] = {
                "service": name,
                "type": spec.type,
                "dependency_mode": service_mode.mode.value,
                "source": service_mode.source,
                "service_mode": spec.mode.value,
                "required": spec.required,
                "fallback": spec.fallback,
            }
            if service_mode.mode == DependencyMode.REAL and spec.mode == ServiceMode.DOCKER:
                default = plugin_for(spec.type).default_image
                image, why = resolve_image(spec, default, self.settings)
                decision.update(
                    image=image, image_source=why, ports=[p.model_dump() for p in spec.ports]
                )
            audit.event("decision.service", **decision)
        real = modes.real_services()
        if shared is not None:
            outcome.shared_with = shared.key
            audit.event(
                "phase",
                phase="up",
                seconds=0.0,
                shared_instance=shared.key,
                run_of=shared.environment.run_id,
            )
            self._record_services(shared.environment, audit, outcome)
            yield _run_environment(shared.environment, real), modes
            return
        if not real:
            audit.event("phase", phase="up", seconds=0.0, note="mock mode: no container started")
            yield RunEnvironment(None), modes
            return
        reuse = self._reuse_for(scenario)
        if reuse is not None:
            warm = self._warm_namespace(scenario, modes, run_id, audit, outcome, reuse)
            if warm is not None:
                try:
                    self._record_services(warm.environment, audit, outcome)
                    yield _run_environment(warm.environment, real), modes
                finally:
                    self._release_namespace(warm.environment, outcome, audit)
                return
        started = time.monotonic()
        env, modes = self._up(scenario, modes, run_id, audit, outcome)
        outcome.phases["up"] = time.monotonic() - started
        audit.event("phase", phase="up", seconds=round(outcome.phases["up"], 4))
        interrupt: BaseException | None = None
        try:
            if env is not None:
                self._record_services(env, audit, outcome)
            yield (
                (_run_environment(env, modes.real_services()) if env else RunEnvironment(None)),
                modes,
            )
        except BaseException as exc:
            if not isinstance(exc, Exception):
                interrupt = exc
            raise
        finally:
            if env is not None:
                # a signal now would leave the containers, network and record: hold it
                errors: list[str] = []
                try:
                    with shielded():
                        errors = self._finish_environment(env, audit, outcome)
                except BaseException as late:  # the signal held during cleanup
                    interrupt = interrupt or late
                    raise
                finally:
                    if interrupt is not None and not isinstance(interrupt, Exception):
                        _note_cleanup(interrupt, outcome, errors)

    def _finish_environment(
        self, env: Environment, audit: AuditLog, outcome: ScenarioOutcome
    ) -> list[str]:
        try:
            self.capture_logs(env, audit)
        finally:
            t0 = time.monotonic()
            errors = self.cleanup(env, outcome)
            outcome.phases["cleanup"] = time.monotonic() - t0
            audit.event(
                "phase",
                phase="cleanup",
                seconds=round(outcome.phases["cleanup"], 4),
                errors=errors,
            )
        return errors

    def _warm_namespace(
        self,
        scenario: Scenario,
        modes: ModeDecision,
        run_id: str,
        audit: AuditLog,
        outcome: ScenarioOutcome,
        reuse: ReuseSetting,
    ) -> WarmNamespace | None:
        """The run's own namespace on a shared instance; None when its services cannot be
        shared (the run then starts its own) or the instance cannot be had (likewise, so
        that optional services get their fallback)."""
        from envctl.warm import not_reusable

        part = real_part(scenario, modes.real_services())
        why = not_reusable(part)
        if scenario.faults or any(isinstance(s, dict) and "fault" in s for s in scenario.steps):
            why = "the scenario injects faults, which would reach every run on a shared instance"
        if why is not None:
            audit.event("decision.reuse", used=False, reason=why, source=reuse.source)
            return None
        started = time.monotonic()
        try:
            # (asked once per instance: the choice looks at Docker and the images)
            native = [
                name
                for name, choice in (
                    {} if self.warm.has_instance(part) else self.engine.choose_runtimes(part)
                ).items()
                if choice.runtime != "docker"
            ]
            if native:
                why = f"service '{native[0]}' runs natively (runtime)"
                audit.event("decision.reuse", used=False, reason=why, source=reuse.source)
                return None
            warm = self.warm.namespace(scenario, part, run_id, reuse)
        except EnvctlError as exc:
            audit.event("decision.reuse", used=False, reason=_first_line(exc))
            return None
        outcome.phases["up"] = time.monotonic() - started
        outcome.shared_with = warm.key
        audit.event(
            "decision.reuse",
            used=True,
            key=warm.key,
            warm=reuse.enabled,
            instance="reused" if warm.reused else "started",
            source=reuse.source,
            ttl=reuse.ttl,
        )
        audit.event(
            "phase",
            phase="up",
            seconds=round(outcome.phases["up"], 4),
            shared_instance=warm.key,
            run_of=warm.environment.run_id,
        )
        return warm

    def _release_namespace(
        self, env: Environment, outcome: ScenarioOutcome, audit: AuditLog
    ) -> None:
        """Give the run's namespace back; its cleanup runs in the background (off the
        run's critical path) unless ``cleanup_after`` keeps the run's data."""
        from envctl.cleanup import removal, setting_for

        passed = (
            "steps" in outcome.phases
            and all(s.status == "passed" for s in outcome.steps)
            and all(e["status"] == "passed" for e in outcome.expectations)
        )
        t0 = time.monotonic()
        kept = [
            name
            for name in env.services
            if not all(removal(setting_for(env.scenario, name), passed).values())
        ]
        if kept:
            outcome.kept = (
                f"run {env.run_id}: the data of {', '.join(kept)} is kept in its namespace on "
                f"the shared instance {outcome.shared_with} (cleanup_after) until the instance "
                "is removed (envctl down --warm)"
            )
            errors: list[str] = []
        else:
            errors = env.down()
        outcome.phases["cleanup"] = time.monotonic() - t0
        audit.event(
            "phase",
            phase="cleanup",
            seconds=round(outcome.phases["cleanup"], 4),
            background=not kept,
            errors=errors,
        )

    def _up(
        self,
        scenario: Scenario,
        modes: ModeDecision,
        run_id: str,
        audit: AuditLog,
        outcome: ScenarioOutcome,
    ) -> tuple[Environment | None, ModeDecision]:
        """Start the real services; an optional one that fails goes to its fallback or skips."""
        real = modes.real_services()
        while True:
            try:
                return self.engine.up(real_part(scenario, real), run_id=run_id), modes
            except EnvctlError as exc:
                failed = _failed_services(exc, scenario, real)
                audit.event(
                    "error",
                    kind=type(exc).__name__,
                    message=str(exc),
                    phase="up",
                    services=failed,
                )
                if not failed or any(scenario.external_services[n].required for n in failed):
                    raise
                without_fallback = [
                    n for n in failed if scenario.external_services[n].fallback != "mock"
                ]
                if without_fallback:
                    raise ScenarioSkipped(
                        f"optional service(s) {', '.join(without_fallback)} cannot be had "
                        f"({_first_line(exc)}); required: false, no fallback"
                    ) from None
                services = dict(modes.services)
                for name in failed:
                    services[name] = ModeChoice(DependencyMode.MOCK, "fallback: mock")
                    note = (
                        f"optional service '{name}' could not be started "
                        f"({_first_line(exc)}); ran against its mock (fallback: mock)"
                    )
                    outcome.degraded.append(note)
                    audit.event("decision.fallback", service=name, reason=_first_line(exc))
                modes = replace(modes, services=services)
                real = modes.real_services()
                if not real:
                    return None, modes

    def _record_services(self, env: Environment, audit: AuditLog, outcome: ScenarioOutcome) -> None:
        for name, state in env.services.items():
            data = state.to_dict()
            outcome.services[name] = data
            audit.event(
                "service",
                service=name,
                type=state.type,
                image=state.image,
                container=state.container,
                status=state.status,
                endpoints=public(state.endpoints),
                timings=data.get("timings", {}),
                started_at=data.get("started_at"),
                ready_at=data.get("ready_at"),
            )
            for phase, seconds in state.timings.items():
                audit.event("phase", phase=phase, service=name, seconds=round(seconds, 4))

    def capture_logs(self, env: Environment, audit: AuditLog) -> None:
        """Store each container's log beside the audit log (``logs/<service>.log``)."""
        for name, state in env.services.items():
            container = state.handle.container if state.handle is not None else None
            if container is None:
                continue
            try:
                text = container.logs()
            except Exception as exc:  # noqa: BLE001 - a log that cannot be read is reported
                text = f"(could not read the log: {exc})\n"
            try:
                path = audit.write_log(name, text)
            except OSError as exc:  # a full or read-only state folder: the run goes on
                audit.problem = audit.problem or f"cannot save {name}'s log: {exc}"
                continue
            audit.event("logs", service=name, path=str(path), bytes=len(text.encode()))

    # -- steps ---------------------------------------------------------------------------------
    def _run_steps(
        self,
        scenario: Scenario,
        plan: Plan,
        modes: ModeDecision,
        run_env: RunEnvironment,
        audit: AuditLog,
        outcome: ScenarioOutcome,
        shared: SharedInstance | None,
    ) -> None:
        """Tools, data preparation, snapshots around the steps, the steps, ``expected``."""
        mode_map = {n: s.mode for n, s in modes.services.items()}
        tools, ctx = self._step_context(scenario, mode_map, run_env, audit, outcome, shared)
        faults = None
        if has_faults(scenario, plan.steps):
            faults = RunFaults(
                scenario,
                plan.faults,
                run_env.environment,
                mode_map,
                audit.directory,
                outcome.run_id,
                audit.event,
                self.settings,
            )
            ctx.tools = faults.wrap_tools(ctx.tools)
            ctx.faults = faults
        try:
            self._prepare_data(scenario, tools, ctx.tools, mode_map, audit, outcome, shared)
            own_env = run_env.environment if shared is None else None
            snapshots = own_env is not None and self._snapshot(own_env, "before", audit, outcome)
            t0 = time.monotonic()
            try:
                if faults is not None:
                    faults.timeline.begin()
                self._execute_steps(plan, ctx, audit, outcome)
            finally:
                if faults is not None:
                    self._end_faults(faults, outcome)
            outcome.phases["steps"] = time.monotonic() - t0
            took_after = own_env is not None and self._snapshot(own_env, "after", audit, outcome)
            if own_env is not None and snapshots and took_after:
                self._store_diff(own_env, audit)
            if own_env is not None and not took_after and _failed(outcome):
                self._checkpoint(own_env, "failure", audit)
            audit.event("phase", phase="steps", seconds=round(outcome.phases["steps"], 4))
            if all(s.status == "passed" for s in outcome.steps):
                self._check_expected(scenario, plan, ctx, audit, outcome)
        finally:
            if shared is not None:
                t0 = time.monotonic()
                errors = reset_after_run(scenario, ctx.tools, mode_map, shared.isolated)
                audit.event(
                    "phase", phase="reset", seconds=round(time.monotonic() - t0, 4), errors=errors
                )
            errors = tools.close()
            if errors:
                audit.event("error", kind="close", message="; ".join(errors))

    def _step_context(
        self,
        scenario: Scenario,
        mode_map: dict[str, DependencyMode],
        run_env: RunEnvironment,
        audit: AuditLog,
        outcome: ScenarioOutcome,
        shared: SharedInstance | None,
    ) -> tuple[ResolvedTools, RunContext]:
        """The run's tools (real or mock, by the registry) and what steps see of the run."""

        mock_namespace = outcome.run_id
        t0 = time.monotonic()
        tools = resolve_tools(
            scenario,
            run_env.endpoints,
            mode_map,
            timeouts=self._timeouts(scenario),
            namespace=mock_namespace,
        )
        outcome.phases["tools"] = time.monotonic() - t0
        outcome.factories = {c["service"]: c for c in tools.audit}
        physical = getattr(run_env.environment, "namespace", None)
        if shared is not None and shared.isolated:
            from envctl.namespace import Namespace

            physical = Namespace.for_run(scenario, outcome.run_id)
        audit.event(
            "decision.tools",
            factories=tools.audit,
            namespace=mock_namespace,
            physical_names=physical.to_dict() if physical is not None else None,
        )
        import_paths = [str(self.settings.cwd)]
        if scenario.source is not None:
            import_paths.insert(0, str(scenario.source.parent))
        ctx = RunContext(
            run_id=outcome.run_id,
            scenario=scenario,
            tools=_step_tools(scenario, tools, mode_map, physical),
            endpoints={n: public(e) for n, e in run_env.endpoints.items()},
            modes={n: m.value for n, m in mode_map.items()},
            mock_namespace=mock_namespace,
            names=physical,
            log=self.log.getChild(scenario.name),
            containers=run_env.containers,
            import_paths=import_paths,
        )
        return tools, ctx

    def _prepare_data(
        self,
        scenario: Scenario,
        tools: ResolvedTools,
        step_tools: Mapping[str, Any],
        mode_map: dict[str, DependencyMode],
        audit: AuditLog,
        outcome: ScenarioOutcome,
        shared: SharedInstance | None,
    ) -> None:
        """The scenario's topics in its own namespace on a shared instance; seed data in mocks
        (real services were seeded when they came up)."""
        if shared is not None and shared.isolated:
            t0 = time.monotonic()
            prepare_namespace(scenario, step_tools, mode_map)
            outcome.phases["prepare"] = time.monotonic() - t0
            audit.event("phase", phase="prepare", seconds=round(outcome.phases["prepare"], 4))
        t0 = time.monotonic()
        if self._seed_mocks(scenario, tools, mode_map):
            outcome.phases["seed"] = time.monotonic() - t0
            audit.event("phase", phase="seed", seconds=round(outcome.phases["seed"], 4))

    def _check_expected(
        self,
        scenario: Scenario,
        plan: Plan,
        ctx: RunContext,
        audit: AuditLog,
        outcome: ScenarioOutcome,
    ) -> None:
        t0 = time.monotonic()
        outcome.expectations += check_expectations(scenario, plan.expected, ctx)
        outcome.phases["expectations"] = time.monotonic() - t0
        for item in outcome.expectations:
            audit.event("expectation", **item)
        audit.event("phase", phase="expectations", seconds=round(outcome.phases["expectations"], 4))

    def _seed_mocks(
        self, scenario: Scenario, tools: Any, mode_map: Mapping[str, DependencyMode]
    ) -> bool:
        """The mocks get the scenario's seed data (as the real services got it at setup)."""
        if not any(m == DependencyMode.MOCK for m in mode_map.values()):
            return False
        from envctl.runner.mock_seed import seed_mocks
        from envctl.scenario.loader import scenario_tree

        tree = (
            scenario_tree(scenario.source, self.settings.scenarios_dir)
            if scenario.source is not None
            else None
        )
        return bool(seed_mocks(scenario, tools, mode_map, tree))

    def _snapshot(
        self,
        env: Environment,
        phase: Literal["before", "after"],
        audit: AuditLog,
        outcome: ScenarioOutcome,
    ) -> bool:
        """The scenario's ``snapshot.before`` / ``after``; True when one was taken."""

        t0 = time.monotonic()
        try:
            manifest = snapshot.save_phase(env, phase, settings=self.settings)
        except OSError as exc:  # a full or read-only state folder: the run goes on without
            audit.problem = audit.problem or f"cannot save the '{phase}' snapshot: {exc}"
            return False
        if manifest is None:
            return False
        outcome.phases[f"snapshot_{phase}"] = time.monotonic() - t0
        audit.event(
            "phase",
            phase=f"snapshot_{phase}",
            seconds=round(outcome.phases[f"snapshot_{phase}"], 4),
        )
        return True

    def _checkpoint(self, env: Environment, name: str, audit: AuditLog) -> None:
        """The data as it is when a step failed, for the failure bundle (snapshot ``name``
        of every service that keeps data); best effort: the run's outcome does not change."""
        if not wants_bundle("failed", self.trace):
            return

        t0 = time.monotonic()
        try:
            snapshot.save_checkpoint(env, name, settings=self.settings)
        except (EnvctlError, OSError) as exc:
            audit.event("checkpoint", name=name, error=_first_line(exc))
            return
        audit.event("phase", phase=f"checkpoint_{name}", seconds=round(time.monotonic() - t0, 4))

    def _store_diff(self, env: Environment, audit: AuditLog) -> None:
        """The before -> after diff, beside the audit log (diff.json and diff.txt)."""
        import json

        result = snapshot.diff(env, "before", "after", settings=self.settings)
        try:
            (audit.directory / DIFF_JSON).write_text(json.dumps(result, indent=2, default=str))
            (audit.directory / DIFF_TEXT).write_text(format_diff(result) + "\n")
        except OSError as exc:  # a full or read-only state folder: the run goes on
            audit.problem = audit.problem or f"cannot save the snapshot diff: {exc}"
            return
        audit.event("snapshot.diff", file=DIFF_JSON)

    def _timeouts(self, scenario: Scenario) -> dict[str, PhaseTimeouts]:
        result: dict[str, PhaseTimeouts] = {}
        for name, spec in scenario.external_services.items():
            defaults = plugin_for(spec.type).default_timeouts
            result[name] = resolve_timeouts(scenario, name, defaults, self.settings)
        return result

    @staticmethod
    def _end_faults(faults: RunFaults, outcome: ScenarioOutcome) -> None:
        """Revert every fault still active; faults that failed fail the run."""
        failed = any(s.status == "failed" for s in outcome.steps)
        errors = faults.timeline.end("a step failed" if failed else "the steps ended")
        outcome.degraded.extend(faults.injector.degraded)
        if errors:
            outcome.expectations.append(
                {
                    "what": "every fault applied and reverted",
                    "status": "failed",
                    "error": "; ".join(errors),
                }
            )

    def _execute_steps(
        self, plan: Plan, ctx: RunContext, audit: AuditLog, outcome: ScenarioOutcome
    ) -> None:
        stopped: str | None = None
        timeline = ctx.faults.timeline if ctx.faults is not None else None
        for planned in plan.steps:
            if timeline is not None and stopped is None:
                timeline.before_step(planned.body.id)
            record = StepRecord(
                index=planned.index,
                kind=planned.kind,
                id=planned.body.id,
                line=planned.line,
                file=planned.file,
                inputs=_inputs(planned.raw),
                service=planned.service,
            )
            outcome.steps.append(record)
            if stopped is not None:
                record.status = "skipped"
                record.error = stopped
                audit.event("step", **record.to_dict())
                continue
            t0 = time.monotonic()
            try:
                resolved = ctx.resolve(planned.raw)
                model = STEP_MODELS[planned.kind]
                if (
                    isinstance(resolved, dict)
                    and planned.service
                    and "service" in model.model_fields
                ):
                    resolved.setdefault("service", planned.service)
                record.inputs = _inputs(resolved)
                body = STEP_MODELS[planned.kind].model_validate(resolved)
                record.outputs = execute(planned.kind, body, ctx)
                record.status = "passed"
                if body.id:
                    ctx.outputs[body.id] = record.outputs
            except StepFailed as exc:
                record.status = "failed"
                record.expected, record.seen, record.where = exc.expected, exc.seen, exc.where
                record.error = str(exc)
            except UnknownVariable as exc:
                record.status = "failed"
                record.error = f"unknown variable: {exc}"
            except ValidationError as exc:
                record.status = "failed"
                record.error = "after substituting variables: " + "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
            except EnvctlError as exc:
                record.status = "failed"
                record.where = f"service '{record.service}'" if record.service else None
                record.error = f"{record.where}: {exc}" if record.where else str(exc)
            except Exception as exc:  # noqa: BLE001 - user code in call steps; client errors
                record.status = "failed"
                record.error = f"{type(exc).__name__}: {exc}"
                audit.event(
                    "error", kind="step", step=planned.index, traceback=traceback.format_exc()
                )
            record.seconds = time.monotonic() - t0
            audit.event("step", **record.to_dict())
            if timeline is not None and record.status == "passed":
                timeline.after_step(planned.body.id)
            if record.status == "failed":
                stopped = f"not run: {record.label} failed"


def _conclude(outcome: ScenarioOutcome) -> None:
    """The status of a run whose steps ran: the first failed step, else the first unmet
    expectation, else degraded (a fallback to a mock), else passed."""
    failed = [s for s in outcome.steps if s.status == "failed"]
    bad = [e for e in outcome.expectations if e["status"] != "passed"]
    if failed:
        step = failed[0]
        outcome.status = "failed"
        outcome.reason = f"{step.label} failed: {step.error}"
    elif bad:
        outcome.status = "failed"
        outcome.reason = f"expected {bad[0]['what']}: {bad[0].get('error', '')}"
    elif outcome.degraded:
        outcome.status = "degraded"
        outcome.reason = "; ".join(outcome.degraded)
    else:
        outcome.status = "passed"


def _inputs(raw: Any) -> dict[str, Any]:
    return dict(raw) if isinstance(raw, dict) else {"value": raw}


def _note_cleanup(interrupt: BaseException, outcome: ScenarioOutcome, errors: list[str]) -> None:
    """Tell the interrupted user what the run's cleanup did (the CLI prints the notes)."""
    if errors:
        interrupt.add_note(f"cleanup failed: {'; '.join(errors)}")
    elif outcome.kept:
        interrupt.add_note(f"kept, as cleanup_after says: {outcome.kept}")
    else:
        interrupt.add_note(REMOVED_NOTE)


def _run_environment(env: Environment, real: list[str]) -> RunEnvironment:
    endpoints: dict[str, dict[str, Any]] = {}
    containers: dict[str, Any] = {}
    for name in real:
        state = env.services.get(name)
        if state is None:
            continue
        handle = state.handle
        endpoints[name] = dict(handle.endpoints) if handle is not None else dict(state.endpoints)
        if handle is not None and handle.container is not None:
            containers[name] = handle.container
    return RunEnvironment(env, endpoints, containers)


def _failed_services(exc: EnvctlError, scenario: Scenario, real: list[str]) -> list[str]:
    """The services whose start failed (all docker ones when Docker itself is missing)."""
    if isinstance(exc, DockerUnavailable):
        return [n for n in real if scenario.external_services[n].mode == ServiceMode.DOCKER]
    env: Environment | None = getattr(exc, "environment", None)
    if env is not None:
        failed = [n for n, s in env.services.items() if s.status == "failed"]
        if failed:
            return failed
    service = getattr(exc, "service", None)
    return [service] if isinstance(service, str) and service in scenario.external_services else []


def _check_mockable(scenario: Scenario, plan: Plan, modes: ModeDecision) -> None:
    """A step that needs a container of a service without a mock, in mock mode, skips."""
    for step in plan.steps:
        if step.kind not in CONTAINER_STEPS or step.service is None:
            continue
        spec = scenario.external_services[step.service]
        if modes.services[step.service].mode == DependencyMode.MOCK:
            raise ScenarioSkipped(
                f"{step.label} needs the container of service '{step.service}' "
                f"({spec.type}), which has no mock and runs in mock mode "
                f"({modes.services[step.service].source}); run it with "
                "--force-dependency-mode real"
            )


def _check_durable_storage(scenario: Scenario, modes: ModeDecision, settings: Settings) -> None:
    """A fault that needs its service to keep its data, on a service that cannot, skips."""
    for raw in scenario.faults:
        fault = FaultSpec.model_validate(raw)  # validated when the scenario loaded
        name = fault.service
        if not fault.needs_durable_storage or name not in scenario.external_services:
            continue
        if modes.services[name].mode != DependencyMode.REAL:
            continue
        if scenario.external_services[name].mode != ServiceMode.DOCKER:
            continue  # external/cloud: what it stores on is not envctl's to know
        reason = build_plugin(scenario, name, "0", settings).data_lost_on_restart()
        if reason is not None:
            raise ScenarioSkipped(
                f"fault '{fault.id or fault.kind}' needs service '{name}' to keep its data "
                f"across a {fault.kind} (needs_durable_storage: true), but {reason}; run it "
                "against a broker that stores on disk (apache/kafka, the default image)"
            )


def inputs_digest(scenario: Scenario, mode: str) -> str:
    """What a scenario ran with, hashed: equal digests = the same inputs (flakiness)."""
    import hashlib

    text = scenario.model_dump_json(round_trip=False, warnings=False) + "\0" + mode
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _failed(outcome: ScenarioOutcome) -> bool:
    return any(s.status == "failed" for s in outcome.steps)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
