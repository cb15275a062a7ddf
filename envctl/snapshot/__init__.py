"""Snapshots of a running environment: save, restore, diff, list.

A snapshot is a folder of readable files under ``.envctl/runs/<run-id>/snapshots/<name>/``:
``manifest.json`` (when, which services, sizes, truncation) and one folder per service in
the format its plugin writes (Kafka: offsets, groups, messages as JSONL; PostgreSQL: a
``pg_dump`` per database plus table facts; Redis: every key of the run as JSONL).

    from envctl import snapshot
    snapshot.save(env, "before")
    ...                                   # the scenario changes data
    print(snapshot.format_diff(snapshot.diff(env, "before")))   # before -> now
    snapshot.restore(env, "before")       # back exactly: a diff is empty again

The runner calls :func:`save_phase` before and after the steps, which honours the
scenario's (or a service's) ``snapshot: {before, after}`` policy.

Services of a type without snapshot support (``generic``) are skipped and named in the
manifest; asking for one explicitly is an error naming its type.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from envctl.environment import build_plugin as make_plugin
from envctl.errors import SnapshotError
from envctl.services.base import SnapshotOptions
from envctl.snapshot import store
from envctl.snapshot.compare import diff_service, format_diff

if TYPE_CHECKING:
    from envctl.environment import Environment
    from envctl.scenario.models import Scenario
    from envctl.scenario.spec import SnapshotPolicy
    from envctl.services.base import ServicePlugin
    from envctl.settings import Settings

__all__ = [
    "diff",
    "format_diff",
    "list_snapshots",
    "policy_for",
    "restore",
    "save",
    "save_phase",
]

MANIFEST_VERSION = 1


def policy_for(scenario: Scenario, service: str) -> SnapshotPolicy:
    """The snapshot policy of one service: its own, else the scenario's."""
    spec = scenario.external_services[service]
    return spec.snapshot if spec.snapshot is not None else scenario.snapshot


def _run_dir(env: Environment) -> Path:
    if env.run_dir is None:
        raise SnapshotError(
            f"run {env.run_id} has no run folder to keep snapshots in; start it with "
            "envctl.up / `envctl up`, which record it under .envctl/runs"
        )
    return env.run_dir


def _plugin(env: Environment, name: str, settings: Settings | None) -> ServicePlugin[Any]:
    return make_plugin(env.scenario, name, env.run_id, settings)


def _choose(
    env: Environment, services: list[str] | None, settings: Settings | None
) -> tuple[dict[str, ServicePlugin[Any]], dict[str, str]]:
    """The services to snapshot and, for the others, why not."""
    chosen: dict[str, ServicePlugin[Any]] = {}
    skipped: dict[str, str] = {}
    names = services if services is not None else list(env.services)
    for name in names:
        if name not in env.services:
            raise SnapshotError(
                f"run {env.run_id} has no service '{name}' (services: {', '.join(env.services)})"
            )
        plugin = _plugin(env, name, settings)
        if not plugin.supports_snapshot:
            if services is not None:
                raise plugin._no_snapshots()
            skipped[name] = f"type '{plugin.type_name}' has no snapshot support"
            continue
        if env.services[name].handle is None:
            raise SnapshotError(f"service '{name}' of run {env.run_id} is not running")
        chosen[name] = plugin
    return chosen, skipped


def _timeout(plugin: ServicePlugin[Any]) -> float:
    return max(plugin.context.timeouts.seed, 60.0)


def save(
    env: Environment,
    name: str,
    *,
    services: list[str] | None = None,
    max_messages: int | None = None,
    overwrite: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Write snapshot ``name`` of the run's services; returns its manifest."""

    run_dir = _run_dir(env)
    store.check_name(name)
    chosen, skipped = _choose(env, services, settings)
    if not chosen:
        reasons = "; ".join(f"{n}: {why}" for n, why in skipped.items()) or "no services"
        raise SnapshotError(f"nothing to snapshot in run {env.run_id} ({reasons})")
    started = time.monotonic()
    tmp = store.begin(run_dir, name)
    try:
        entries: dict[str, Any] = {}
        for service, plugin in chosen.items():
            handle = env.services[service].handle
            assert handle is not None
            target = tmp / service
            target.mkdir()
            limit = max_messages or policy_for(env.scenario, service).max_messages
            t0 = time.monotonic()
            result = plugin.snapshot(
                handle,
                target,
                SnapshotOptions(max_messages=limit, name=name, timeout=_timeout(plugin)),
            )
            files = store.file_sizes(target)
            entries[service] = {
                "type": plugin.type_name,
                "mode": env.services[service].mode,
                "seconds": round(time.monotonic() - t0, 3),
                "files": files,
                "bytes": sum(files.values()),
                "truncated": result.truncated,
                "details": result.details,
                "notes": result.notes,
            }
        manifest = {
            "version": MANIFEST_VERSION,
            "complete": True,
            "name": name,
            "run_id": env.run_id,
            "scenario": env.scenario.name,
            "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "seconds": round(time.monotonic() - started, 3),
            "namespace": env.namespace.to_dict(),
            "environment": {n: state.type for n, state in env.services.items()},
            "services": entries,
            "skipped": skipped,
            "bytes": sum(e["bytes"] for e in entries.values()),
            "truncated": any(e["truncated"] for e in entries.values()),
        }
        store.commit(tmp, run_dir, name, manifest, overwrite)
    except BaseException:
        store.abort(tmp)
        raise
    return manifest


def save_phase(
    env: Environment, phase: Literal["before", "after"], *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """The runner's snapshot ``before`` / ``after`` the steps, as the policy says (None:
    no service asks for it). Overwrites an earlier snapshot of the same phase."""
    wanted = [
        name
        for name in env.services
        if getattr(policy_for(env.scenario, name), phase)
        and _plugin(env, name, settings).supports_snapshot
    ]
    if not wanted:
        return None
    return save(env, phase, services=wanted, overwrite=True, settings=settings)


def save_checkpoint(
    env: Environment, name: str, *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """Snapshot ``name`` of every service that keeps data (None: none does), whatever the
    scenario's policy: the data a failure bundle shows."""
    wanted = [n for n in env.services if _plugin(env, n, settings).supports_snapshot]
    if not wanted:
        return None
    return save(env, name, services=wanted, overwrite=True, settings=settings)


def list_snapshots(env: Environment) -> list[dict[str, Any]]:
    """Manifests of the run's complete snapshots, oldest first."""
    return store.list_snapshots(_run_dir(env))


def _misfit(
    env: Environment, manifest: dict[str, Any], services: list[str] | None, settings: Any
) -> list[str]:
    """How the environment differs from the one the snapshot was taken of (empty: fits).

    Every service to restore must be here with the same type; without ``services``, a
    service here that keeps data and was not in the snapshot's environment is a difference
    too (its data would silently stay as it is).
    """
    snap = {n: s["type"] for n, s in manifest["services"].items()}
    taken_of = manifest.get("environment") or snap
    here = {n: s.type for n, s in env.services.items()}
    names = services if services is not None else list(snap)
    problems = []
    for name in names:
        if name not in snap:
            problems.append(f"'{name}' is not in the snapshot")
        elif name not in here:
            problems.append(f"'{name}' ({snap[name]}) is in the snapshot, not in this environment")
        elif here[name] != snap[name]:
            problems.append(f"'{name}' is {snap[name]} in the snapshot but {here[name]} here")
    if services is None:
        for name, kind in here.items():
            if name in taken_of or not _plugin(env, name, settings).supports_snapshot:
                continue
            problems.append(f"'{name}' ({kind}) is here but not in the snapshot's environment")
    return problems


def restore(
    env: Environment,
    name: str,
    *,
    services: list[str] | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Bring the run's data back to snapshot ``name``; returns notes (e.g. slow paths).

    Refused when the environment's services differ from the snapshot's.
    """
    folder, manifest = store.load(_run_dir(env), name)
    problems = _misfit(env, manifest, services, settings)
    if problems:
        raise SnapshotError(
            f"snapshot '{name}' does not fit run {env.run_id}: {'; '.join(problems)}; "
            "restore refused (--service restores only some services)"
        )
    notes: list[str] = []
    for service in services if services is not None else list(manifest["services"]):
        plugin = _plugin(env, service, settings)
        handle = env.services[service].handle
        if handle is None:
            raise SnapshotError(f"service '{service}' of run {env.run_id} is not running")
        notes += plugin.restore(handle, folder / service, _timeout(plugin))
    return notes


def diff(
    env: Environment,
    a: str,
    b: str | None = None,
    *,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """What changed from snapshot ``a`` to snapshot ``b`` (None: to the state now)."""
    run_dir = _run_dir(env)
    folder_a, manifest_a = store.load(run_dir, a)
    tmp: Path | None = None
    try:
        if b is not None:
            folder_b, manifest_b = store.load(run_dir, b)
        else:
            present = [s for s in manifest_a["services"] if s in env.services]
            chosen, _skipped = _choose(env, present, settings)
            tmp = store.begin(run_dir, "now")
            manifest_b = {"services": {}}
            from envctl.services.base import SnapshotOptions

            for service, plugin in chosen.items():
                handle = env.services[service].handle
                assert handle is not None
                (tmp / service).mkdir()
                limit = policy_for(env.scenario, service).max_messages
                plugin.snapshot(
                    handle,
                    tmp / service,
                    SnapshotOptions(max_messages=limit, timeout=_timeout(plugin)),
                )
                manifest_b["services"][service] = {"type": plugin.type_name}
            folder_b = tmp
        result: dict[str, Any] = {"from": a, "to": b or "now", "services": {}}
        services_a, services_b = manifest_a["services"], manifest_b["services"]
        for service in list(dict.fromkeys([*services_a, *services_b])):
            kind = (services_a.get(service) or services_b.get(service))["type"]
            if service not in services_b or service not in services_a:
                status = "removed" if service not in services_b else "added"
                result["services"][service] = {"type": kind, "changed": True, "status": status}
                continue
            change = diff_service(kind, folder_a / service, folder_b / service)
            result["services"][service] = {"type": kind, **change}
        result["changed"] = any(s["changed"] for s in result["services"].values())
        return result
    finally:
        if tmp is not None:
            store.abort(tmp)
