"""``cleanup_after``: what a finished scenario run removes, and what it keeps for inspection.

The policy is the scenario's ``cleanup_after`` (or a service's own): ``true`` removes
everything, ``false`` keeps everything, ``on_success`` removes only when the run passed, and
a map decides per kind of resource (``containers``, ``topics``, ``consumer_groups``,
``databases`` — PostgreSQL databases and the Redis key space —, ``volumes``), each entry
taking the same three values.

Data cannot outlive its container: a docker-mode service whose topics or databases are kept
keeps its container too (the report says so). Whatever is kept is listed with how to reach
it and how to remove it later (``envctl down --run-id``); the run is marked as left up on
purpose so ``envctl gc`` does not collect it, and its record tells ``down`` which topics,
databases and keys to remove on external services.

``envctl up`` keeps everything until ``envctl down``; only scenario runs (the runner, through
:func:`finish`) follow the policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from envctl.engine import build_plugin, container_name
from envctl.environment import (
    cleanup_external,
    environment_from_record,
    find_records,
    forget_run,
    record_run,
)
from envctl.errors import EnvctlError
from envctl.runtime.base import (
    LABEL_DETACHED,
    LABEL_MANAGED,
    LABEL_RUN_ID,
    LABEL_SCENARIO,
    LABEL_SERVICE,
)
from envctl.scenario.spec import CleanupMap, CleanupSetting, ServiceMode
from envctl.services.registry import plugin_for

if TYPE_CHECKING:
    from envctl.environment import Environment
    from envctl.runtime.base import Runtime
    from envctl.scenario.models import Scenario
    from envctl.settings import Settings

KINDS = ("containers", "topics", "consumer_groups", "databases", "volumes")


# -- the policy (pure) --------------------------------------------------------------------------


def setting_for(scenario: Scenario, service: str) -> CleanupSetting:
    """A service's cleanup_after: its own, else the scenario's."""
    own = scenario.external_services[service].cleanup_after
    return own if own is not None else scenario.cleanup_after


def removal(setting: CleanupSetting, passed: bool) -> dict[str, bool]:
    """Per kind: True = remove, False = keep, for a run that ``passed`` or not."""

    def decide(value: bool | str) -> bool:
        return passed if value == "on_success" else bool(value)

    if isinstance(setting, CleanupMap):
        return {kind: decide(getattr(setting, kind)) for kind in KINDS}
    return dict.fromkeys(KINDS, decide(setting))


@dataclass(frozen=True)
class ServicePlan:
    """What happens to one service's resources at the end of a run."""

    service: str
    docker: bool
    remove_data: tuple[str, ...]
    """Data kinds removed inside the service (cleanup_resources)."""
    keep_data: tuple[str, ...]
    keep_container: bool
    remove_volumes: bool
    note: str | None = None


def plan(
    scenario: Scenario,
    passed: bool,
    data_kinds: dict[str, tuple[str, ...]],
    docker: set[str],
    keep_all: bool = False,
) -> dict[str, ServicePlan]:
    """Decide per service. ``data_kinds``: the resource kinds of each service's type;
    ``docker``: the services running in containers envctl started; ``keep_all``: keep
    everything whatever the policy (``--keep-on-failure`` after a failure)."""
    plans: dict[str, ServicePlan] = {}
    for service in scenario.external_services:
        remove = removal(False if keep_all else setting_for(scenario, service), passed)
        kinds = data_kinds.get(service, ())
        keep_data = tuple(k for k in kinds if not remove[k])
        remove_data = tuple(k for k in kinds if remove[k])
        in_docker = service in docker
        keep_container = in_docker and (not remove["containers"] or bool(keep_data))
        note = None
        if in_docker and remove["containers"] and keep_data:
            note = f"container kept: its {', '.join(keep_data)} are kept and live in it"
        plans[service] = ServicePlan(
            service=service,
            docker=in_docker,
            remove_data=remove_data,
            keep_data=keep_data,
            keep_container=keep_container,
            remove_volumes=in_docker and not keep_container and remove["volumes"],
            note=note,
        )
    return plans


# -- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptResource:
    service: str
    kind: str
    names: list[str]
    reach: str = ""
    note: str | None = None


@dataclass
class KeptReport:
    """What a finished run kept, how to reach it, and how to remove it later."""

    run_id: str
    scenario: str
    passed: bool
    kept: list[KeptResource] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def remove_command(self) -> str:
        return f"envctl down --run-id {self.run_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scenario": self.scenario,
            "passed": self.passed,
            "kept": [asdict(k) for k in self.kept],
            "removed": self.removed,
            "errors": self.errors,
            "remove_with": self.remove_command if self.kept else None,
        }

    def __str__(self) -> str:
        outcome = "passed" if self.passed else "failed"
        if not self.kept:
            text = f"run {self.run_id} ({self.scenario}) {outcome}: everything removed"
        else:
            lines = [f"run {self.run_id} ({self.scenario}) {outcome}; kept for inspection:"]
            for item in self.kept:
                names = ", ".join(item.names)
                reach = f" — {item.reach}" if item.reach else ""
                note = f" ({item.note})" if item.note else ""
                lines.append(f"  {item.service}: {item.kind} {names}{note}{reach}")
            lines.append(f"remove with: {self.remove_command}")
            text = "\n".join(lines)
        if self.errors:
            text += "\ncleanup errors: " + "; ".join(self.errors)
        return text


# -- doing it -----------------------------------------------------------------------------------


def finish(
    env: Environment, passed: bool, *, settings: Settings | None = None, keep_all: bool = False
) -> KeptReport:
    """End a scenario run: remove what its cleanup_after policy removes, keep the rest.

    Called by the runner after the steps (``passed``: whether the scenario passed). Safe to
    call twice. Errors are collected in the report, never raised: cleanup goes on.
    """

    report = KeptReport(env.run_id, env.scenario.name, passed)
    plugins = {
        name: build_plugin(env.scenario, name, env.run_id, settings) for name in env.services
    }
    docker = {
        name
        for name, state in env.services.items()
        if state.mode == ServiceMode.DOCKER.value and state.container
    }
    plans = plan(
        env.scenario,
        passed,
        {n: p.resource_kinds for n, p in plugins.items()},
        docker,
        keep_all=keep_all,
    )
    runtime = env.runtime
    resources = runtime.list_managed({"io.envctl.run-id": env.run_id}) if runtime else []
    doomed = []
    for name, service_plan in plans.items():
        state, plugin = env.services[name], plugins[name]
        inside = not service_plan.docker or service_plan.keep_container
        if inside and service_plan.remove_data and state.handle is not None:
            try:
                plugin.cleanup_resources(
                    state.handle, plugin.context.timeouts.setup, kinds=service_plan.remove_data
                )
                report.removed.append(f"{name}: {', '.join(service_plan.remove_data)}")
            except Exception as exc:  # noqa: BLE001 - cleanup reports and goes on
                report.errors.append(f"{name}: {exc}")
        reach = plugin.reach(state.handle) if state.handle is not None else {}
        for kind in service_plan.keep_data:
            note = None
            if kind == "consumer_groups" and "topics" in service_plan.remove_data:
                note = "brokers drop committed offsets of deleted topics"
            report.kept.append(
                KeptResource(
                    name, kind, plugin.resource_names(kind, state.handle), reach.get(kind, ""), note
                )
            )
        mine = [r for r in resources if r.labels.get(LABEL_SERVICE) == name]
        volumes = [r for r in mine if r.kind == "volume"]
        if service_plan.keep_container:
            container = state.container or "?"
            endpoints = " ".join(f"{k}={v}" for k, v in state.endpoints.items() if k != "topics")
            report.kept.append(
                KeptResource(
                    name,
                    "containers",
                    [container],
                    f"{endpoints}; docker logs {container}",
                    service_plan.note,
                )
            )
        elif service_plan.docker:
            doomed += [r for r in mine if r.kind == "container"]
            report.removed.append(f"{name}: container")
            if service_plan.remove_volumes:
                doomed += volumes
            elif volumes:
                report.kept.append(KeptResource(name, "volumes", [v.name for v in volumes]))
    containers_kept = any(p.keep_container for p in plans.values())
    volumes_kept = any(k.kind == "volumes" for k in report.kept)
    if runtime is not None:
        if not containers_kept:
            doomed += [r for r in resources if r.kind == "network"]
        if not report.kept:
            doomed += [r for r in resources if r.labels.get(LABEL_DETACHED) == "true"]
        report.errors += runtime.remove(doomed)
        if containers_kept or volumes_kept:
            _mark_detached(runtime, env, resources, container_name)
    if report.kept:
        problem = record_run(env, kept=[asdict(k) for k in report.kept])
        if problem:
            report.errors.append(problem)
    elif not report.errors:
        forget_run(env.run_dir)
    return report


def _mark_detached(
    runtime: Runtime, env: Environment, resources: list[Any], name_of: Callable[..., str]
) -> None:
    """Mark the run as left up on purpose, so `envctl gc` keeps what was kept."""

    if any(r.labels.get(LABEL_DETACHED) == "true" for r in resources):
        return
    # The run's network carries exactly the run's labels (containers add their image's).
    base = next((r for r in resources if r.kind == "network"), None) or next(
        (r for r in resources if r.kind == "container"), None
    )
    labels = {
        k: v
        for k, v in (base.labels if base is not None else {}).items()
        if k not in ("io.envctl.service", "io.envctl.type", "io.envctl.endpoints")
    }
    labels.update(
        {
            LABEL_MANAGED: "true",
            LABEL_RUN_ID: env.run_id,
            LABEL_SCENARIO: env.scenario.name,
            LABEL_DETACHED: "true",
        }
    )
    runtime.create_volume(name_of(env.scenario.name, "detached", env.run_id), labels)


# -- removing a recorded run later (envctl down) ------------------------------------------------


def remove_recorded(
    settings: Settings,
    *,
    run_id: str | None = None,
    scenario: str | None = None,
    everything: bool = False,
) -> tuple[list[str], list[str]]:
    """Remove what recorded runs created inside services envctl did not start (topics,
    consumer groups, databases, keys on external brokers and servers), then forget them.

    Containers are ``envctl down``'s own business (labels). Returns (done, errors); a run
    whose service could not be reached keeps its record, so ``down`` can be run again.
    ``everything`` and ``scenario`` take only runs made with the settings' ``ENVCTL_LABELS``
    (when set); a run id is exact.
    """

    scope = settings.extra_labels
    if everything:
        records = find_records(settings, labels=scope)
    else:
        records = find_records(settings, run_id=run_id, scenario=scenario, labels=scope)
    done: list[str] = []
    errors: list[str] = []
    for record in records:
        try:
            env = environment_from_record(record, settings)
        except EnvctlError as exc:
            # containers go by their labels anyway; only data on external services needs it
            external = [
                name
                for name, info in record.services.items()
                if info.get("mode") != ServiceMode.DOCKER.value
                and any(info.get("resources", {}).values())
            ]
            if external:
                errors.append(
                    f"run {record.run_id}: {exc}; what it created on {', '.join(external)} "
                    "was not removed"
                )
            else:
                forget_run(record.run_dir)
            continue
        cleaned, failures = cleanup_external(
            env.services.values(), env.scenario, env.run_id, settings
        )
        for name in cleaned:
            plugin_cls = plugin_for(env.services[name].type)
            what = plugin_cls.resources_phrase(plugin_cls.resource_kinds)
            done.append(f"removed {what} of run {env.run_id} on external service '{name}'")
        errors += [f"run {env.run_id}: {failure}" for failure in failures]
        if not failures:  # a run whose service could not be reached keeps its record
            forget_run(record.run_dir)
    return done, errors
