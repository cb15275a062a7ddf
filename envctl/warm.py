"""Warm instances: real services that outlive the run that started them, reused by content.

A scenario's real docker services can be kept running after its run ends and be reused by
the next run that needs the same thing — in the same process (a pytest session, a run-all)
or in another one (``envctl run`` twice, an edit-run loop). Reuse is opt-in
(:func:`decide_reuse`). What is reused is keyed by content (:func:`warm_key`): per service
its type, the settings that shape its container (image *by digest*, env, command, ports,
flavor, ...), its plugin's version and envctl's version — never its per-run data (topics,
databases, seeds): those live in each run's own namespace on the instance, created when
the run takes the instance and removed after it (in the background, off the run's critical
path).

Leases (the machine-wide folder ``ENVCTL_WARM_DIR``, default ``~/.cache/envctl/warm``):

- ``<key>.lock``: an exclusive OS file lock held while an instance is created, looked up or
  reaped, so two processes never create the same instance twice or reap one being taken.
- ``<key>/leases/<host>-<pid>-<token>.json``: one per process using the instance, **held as
  an OS file lock** for as long as the process uses it. The kernel drops the lock when the
  process ends however it ends (SIGKILL included), so "is this lease held?" is answered
  exactly, without heartbeats or pid guessing: a lease whose lock can be taken is stale.
- ``<key>/last-used``: touched when a lease is taken or given back; the instance's idle time
  is measured from it (from the containers' creation when it is missing).
- ``<key>/namespaces/<run-id>.json``: a run's namespace on the instance, written before it is
  created and removed once it has been cleaned up; one left behind by a dead process is
  cleaned up by the next user of the instance (or by ``envctl gc``).

An instance is removed once no lease is held and it has been idle longer than its TTL
(label ``io.envctl.warm-ttl``; default 10 minutes) — by whoever takes any instance next, by
``envctl gc``, or at once by ``envctl down --warm``. Never while a lease is held.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import ConfigError, EnvctlError
from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_ENDPOINTS,
    LABEL_WARM,
    LABEL_WARM_TTL,
    ManagedResource,
    Runtime,
)
from envctl.scenario.timeouts import parse_ttl

if TYPE_CHECKING:
    from envctl.engine import Engine
    from envctl.environment import Environment
    from envctl.scenario.models import Scenario
    from envctl.services.base import ServiceHandle
    from envctl.settings import Settings


DEFAULT_TTL = 600.0
WARM_DIR_ENV = "ENVCTL_WARM_DIR"
REUSE_ENV = "ENVCTL_REUSE"
REUSE_TTL_ENV = "ENVCTL_REUSE_TTL"
LOCK_TIMEOUT = 600.0
"""Longest wait for another process creating or reaping the same instance (bounded by its
own startup and health_check timeouts in practice)."""
REAP_EVERY = 30.0
"""A process looks for expired instances of other keys at most this often."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


# -- the decision ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReuseSetting:
    """Whether a run reuses (and leaves) warm instances, for how long idle, and why."""

    enabled: bool
    ttl: float = DEFAULT_TTL
    source: str = "default"


def parse_reuse(value: Any, where: str) -> tuple[bool, float | None]:
    """A ``reuse:`` value: a boolean, or ``{enabled: bool, ttl: DURATION}``."""
    if isinstance(value, bool):
        return value, None
    if hasattr(value, "model_dump"):
        value = {k: v for k, v in value.model_dump().items() if v is not None}
    if isinstance(value, Mapping):
        unknown = set(value) - {"enabled", "ttl"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (enabled, ttl)")
        enabled = value.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{where}.enabled: write true or false")
        ttl = parse_ttl(value["ttl"], f"{where}.ttl") if "ttl" in value else None
        return enabled, ttl
    raise ConfigError(f"{where}: write true, false or {{enabled: true, ttl: 10m}}")


def decide_reuse(
    settings: Settings,
    scenario: Scenario | None = None,
    flag: bool | None = None,
    default: bool = False,
    default_source: str = "default",
) -> ReuseSetting:
    """``--reuse/--no-reuse`` > ``ENVCTL_REUSE`` > the scenario's ``reuse:`` > the project
    config's ``reuse:`` > ``default``. The TTL: ``ENVCTL_REUSE_TTL`` > scenario > project >
    10 minutes."""
    environ = settings.environ
    ttl: float | None = None
    if environ.get(REUSE_TTL_ENV, "").strip():
        ttl = parse_ttl(environ[REUSE_TTL_ENV], REUSE_TTL_ENV)
    scenario_value = getattr(scenario, "reuse", None) if scenario is not None else None
    project_value = getattr(settings, "reuse", None)
    found: list[tuple[bool, float | None, str]] = []
    if scenario_value is not None:
        found.append((*parse_reuse(scenario_value, "reuse"), "scenario reuse:"))
    if project_value is not None:
        found.append((*parse_reuse(project_value, "reuse"), "project config reuse:"))
    for _enabled, value_ttl, _src in found:
        if ttl is None and value_ttl is not None:
            ttl = value_ttl
    ttl = ttl if ttl is not None else DEFAULT_TTL
    if flag is not None:
        return ReuseSetting(flag, ttl, "--reuse" if flag else "--no-reuse")
    text = environ.get(REUSE_ENV, "").strip().lower()
    if text:
        if text in _TRUE:
            return ReuseSetting(True, ttl, REUSE_ENV)
        if text in _FALSE:
            return ReuseSetting(False, ttl, REUSE_ENV)
        raise ConfigError(f"{REUSE_ENV}={environ[REUSE_ENV]!r}: write 1 or 0 (true or false)")
    if found:
        enabled, _ttl, source = found[0]
        return ReuseSetting(enabled, ttl, source)
    return ReuseSetting(default, ttl, default_source)


# -- the key --------------------------------------------------------------------------------------


def warm_key(scenario: Scenario, settings: Settings | None, image_id: Callable[[str], str]) -> str:
    """The content key of ``scenario``'s services (all docker mode, all reusable).

    ``image_id`` maps an image reference to its content digest, so a rebuilt or re-pulled
    tag is a different instance.
    """
    import envctl
    from envctl.environment import resolve_image
    from envctl.services import plugin_for

    shape: dict[str, Any] = {
        "envctl": envctl.__version__,
        # ENVCTL_LABELS name who the instance is for (a CI job, a test session)
        "labels": dict(settings.extra_labels) if settings is not None else {},
        "services": {},
    }
    for name, spec in sorted(scenario.external_services.items()):
        plugin = plugin_for(spec.type)
        image, _source = resolve_image(spec, plugin.default_image, settings)
        shape["services"][name] = {
            "plugin": f"{plugin.__module__}.{plugin.__qualname__}",
            "plugin_version": plugin.warm_version,
            "image": image,
            "image_id": image_id(image),
            "spec": plugin.warm_shape(spec),
        }
    text = json.dumps(shape, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def not_reusable(scenario: Scenario) -> str | None:
    """Why ``scenario``'s services cannot be a warm instance, or None when they can."""
    from envctl.scenario.spec import ServiceMode
    from envctl.services import plugin_for

    for name, spec in scenario.external_services.items():
        if spec.mode != ServiceMode.DOCKER:
            return f"service '{name}' is not in docker mode"
        reason = plugin_for(spec.type).warm_refusal(spec)
        if reason:
            return f"service '{name}': {reason}"
    return None


def warm_run_id(key: str) -> str:
    return f"w{key[:11]}"


# -- the lease folder -----------------------------------------------------------------------------


def warm_dir(settings: Settings) -> Path:
    explicit = settings.environ.get(WARM_DIR_ENV)
    if explicit:
        return Path(explicit)
    home = settings.environ.get("HOME") or str(Path.home())
    return Path(home) / ".cache" / "envctl" / "warm"


class _Busy(Exception):
    pass


@contextlib.contextmanager
def _locked(path: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """An exclusive OS lock on ``path``; waits (polling with a backoff) up to ``timeout``."""
    from envctl.retry import retry_call

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:

        def take() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _Busy from None

        try:
            retry_call(take, timeout, (_Busy,), max_interval=0.05)
        except _Busy:
            raise EnvctlError(
                f"{path} stayed locked for {timeout:.0f}s by another envctl process; "
                "is one stuck? (envctl status shows warm instances)"
            ) from None
        yield
    finally:
        os.close(fd)  # also drops the lock


def _held(path: Path) -> bool:
    """Whether some live process holds the lease file ``path`` (its lock cannot be taken)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@dataclass
class LeaseInfo:
    path: Path
    held: bool
    data: dict[str, Any]


class LeaseBook:
    """The lease folder of one machine (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def lock(
        self, key: str, timeout: float = LOCK_TIMEOUT
    ) -> contextlib.AbstractContextManager[None]:
        return _locked(self.root / f"{key}.lock", timeout)

    def folder(self, key: str) -> Path:
        return self.root / key

    def take(self, key: str, info: Mapping[str, Any]) -> tuple[Path, int]:
        """Write and lock a lease file; the lock is held until :meth:`give_back`."""
        leases = self.folder(key) / "leases"
        leases.mkdir(parents=True, exist_ok=True)
        path = leases / f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}.json"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps(dict(info)).encode())
        self.touch(key)
        return path, fd

    def give_back(self, key: str, path: Path, fd: int) -> None:
        self.touch(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(fd)

    def touch(self, key: str) -> None:
        stamp = self.folder(key) / "last-used"
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.touch()

    def last_used(self, key: str) -> float | None:
        try:
            return (self.folder(key) / "last-used").stat().st_mtime
        except FileNotFoundError:
            return None

    def leases(self, key: str) -> list[LeaseInfo]:
        found = []
        for path in sorted((self.folder(key) / "leases").glob("*.json")):
            try:
                data = json.loads(path.read_text() or "{}")
            except (OSError, json.JSONDecodeError):
                data = {}
            found.append(LeaseInfo(path, _held(path), data))
        return found

    def drop_stale(self, key: str) -> None:
        for lease in self.leases(key):
            if not lease.held:
                with contextlib.suppress(FileNotFoundError):
                    lease.path.unlink()

    # -- namespaces on the instance -------------------------------------------------------
    def note_namespace(self, key: str, run_id: str, data: Mapping[str, Any]) -> Path:
        folder = self.folder(key) / "namespaces"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{run_id}.json"
        path.write_text(json.dumps(dict(data), default=str))
        return path

    def namespaces(self, key: str) -> list[tuple[Path, dict[str, Any]]]:
        found = []
        for path in sorted((self.folder(key) / "namespaces").glob("*.json")):
            with contextlib.suppress(OSError, json.JSONDecodeError):
                found.append((path, json.loads(path.read_text())))
        return found

    def forget(self, key: str) -> None:
        import shutil

        shutil.rmtree(self.folder(key), ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            (self.root / f"{key}.lock").unlink()


# -- instances as Docker sees them ----------------------------------------------------------------


@dataclass
class WarmInstance:
    """One warm instance: its key, run id, containers, and lease state."""

    key: str
    run_id: str
    scenario: str
    ttl: float
    created: float
    resources: list[ManagedResource] = field(default_factory=list)
    leases: list[LeaseInfo] = field(default_factory=list)
    last_used: float | None = None

    @property
    def held(self) -> bool:
        return any(lease.held for lease in self.leases)

    def idle(self, now: float) -> float:
        if self.held:
            return 0.0
        return max(0.0, now - (self.last_used or self.created))

    def expired(self, now: float) -> bool:
        return not self.held and self.idle(now) > self.ttl

    def to_dict(self, now: float) -> dict[str, Any]:
        return {
            "key": self.key,
            "run_id": self.run_id,
            "scenario": self.scenario,
            "services": sorted(
                r.service for r in self.resources if r.kind == "container" and r.service
            ),
            "ttl": self.ttl,
            "idle": round(self.idle(now), 1),
            "users": [
                {k: lease.data.get(k) for k in ("pid", "host", "scenario", "since")}
                for lease in self.leases
                if lease.held
            ],
        }


def _created(labels: Mapping[str, str]) -> float:
    text = labels.get(LABEL_CREATED, "")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return time.time()
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def instances(
    runtime: Runtime,
    book: LeaseBook,
    key: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> list[WarmInstance]:
    """The warm instances Docker knows (all, those with ``labels``, or the one of ``key``),
    with their leases."""
    found: dict[str, WarmInstance] = {}
    wanted = {**(labels or {}), **({LABEL_WARM: key} if key else {})}
    for resource in runtime.list_managed(wanted or None):
        warm = resource.labels.get(LABEL_WARM)
        if not warm:
            continue
        instance = found.get(warm)
        if instance is None:
            try:
                ttl = float(resource.labels.get(LABEL_WARM_TTL, DEFAULT_TTL))
            except ValueError:
                ttl = DEFAULT_TTL
            instance = found[warm] = WarmInstance(
                warm, resource.run_id, resource.scenario, ttl, _created(resource.labels)
            )
        instance.resources.append(resource)
    for instance in found.values():
        instance.leases = book.leases(instance.key)
        instance.last_used = book.last_used(instance.key)
    return sorted(found.values(), key=lambda i: i.created)


def reap(
    runtime: Runtime,
    book: LeaseBook,
    *,
    everything: bool = False,
    now: float | None = None,
    dry_run: bool = False,
    labels: Mapping[str, str] | None = None,
) -> tuple[list[WarmInstance], list[str]]:
    """Remove expired warm instances (``everything``: all not held). Returns what was removed
    (or would be, ``dry_run``) and the errors. An instance whose lease is held is never
    removed; the decision is taken under the instance's lock."""
    removed: list[WarmInstance] = []
    errors: list[str] = []
    for candidate in instances(runtime, book, labels=labels):
        moment = now if now is not None else time.time()
        if candidate.held or not (everything or candidate.expired(moment)):
            continue
        with book.lock(candidate.key):
            # again under the lock: someone may have taken it meanwhile
            current = instances(runtime, book, candidate.key)
            if not current:
                book.forget(candidate.key)
                continue
            instance = current[0]
            moment = now if now is not None else time.time()
            if instance.held or not (everything or instance.expired(moment)):
                continue
            removed.append(instance)
            if dry_run:
                continue
            errors += runtime.remove(instance.resources)
            book.forget(instance.key)
    return removed, errors


# -- using an instance ----------------------------------------------------------------------------


class _Instance:
    """An instance this process uses (shared by its users in the process). ``lease`` is set
    for a warm instance (kept after the process); None for one of this process only."""

    def __init__(
        self,
        key: str,
        environment: Environment,
        lease: tuple[Path, int] | None,
        reused: bool,
    ) -> None:
        self.key = key
        self.environment = environment
        self.lease = lease
        self.reused = reused
        self.users = 0


@dataclass
class WarmNamespace:
    """A run's own namespace on a warm instance, and how it was had."""

    environment: Environment
    key: str
    reused: bool
    """The instance existed before (warm), rather than started for this run (cold)."""
    seconds: float


class WarmPool:
    """The warm instances one process uses, their leases, and the cleanup of namespaces.

    Made once per process (per Runner); :meth:`close` gives every lease back after the
    pending namespace cleanups have finished.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.book = LeaseBook(warm_dir(settings))
        self._lock = threading.Lock()
        self._instances: dict[str, _Instance] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._cleaners = ThreadPoolExecutor(max_workers=4, thread_name_prefix="envctl-warm-clean")
        self._pending: list[Future[list[str]]] = []
        self._last_reap = 0.0
        self._image_ids: dict[str, str] = {}
        self.errors: list[str] = []

    # -- keys ----------------------------------------------------------------------------
    def _image_id(self, image: str) -> str:
        if image not in self._image_ids:
            runtime = self.engine.runtime
            runtime.ensure_image(image, "ENVCTL_IMAGE_<TYPE>")
            self._image_ids[image] = runtime.image_id(image)
        return self._image_ids[image]

    def key_for(self, part: Scenario) -> str:
        return warm_key(part, self.settings, self._image_id)

    def has_instance(self, part: Scenario) -> bool:
        """Whether this process already uses an instance for ``part``."""
        key = self.key_for(part)
        with self._lock:
            return key in self._instances

    # -- the instance --------------------------------------------------------------------
    def _instance(self, part: Scenario, reuse: ReuseSetting) -> _Instance:
        key = self.key_for(part)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                known = self._instances.get(key)
            if known is not None:
                return known
            if not reuse.enabled:
                # shared by this process's runs only; removed when the pool closes
                shared = _instance_scenario(part, key)
                environment = self.engine.up(shared)
                instance = _Instance(key, environment, None, False)
                with self._lock:
                    self._instances[key] = instance
                return instance
            self._maybe_reap()
            with self.book.lock(key):
                environment, reused = self._find_or_start(part, key, reuse.ttl)
                lease = self.book.take(
                    key,
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "scenario": part.name,
                        "since": datetime.now(UTC).isoformat(timespec="seconds"),
                    },
                )
            instance = _Instance(key, environment, lease, reused)
            self._clean_orphans(instance)
            with self._lock:
                self._instances[key] = instance
            return instance

    def _find_or_start(self, part: Scenario, key: str, ttl: float) -> tuple[Environment, bool]:
        runtime = self.engine.runtime
        found = instances(runtime, self.book, key)
        if found:
            environment = attach(self.engine, part, found[0])
            if environment is not None:
                return environment, True
            runtime.remove(found[0].resources)  # broken (a container exited): start anew
            self.book.forget(key)
        environment = self.engine.up(
            _instance_scenario(part, key),
            run_id=warm_run_id(key),
            extra_labels={LABEL_WARM: key, LABEL_WARM_TTL: str(int(ttl))},
            owned=False,
        )
        self.book.touch(key)
        return environment, False

    def _maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap < REAP_EVERY:
            return
        self._last_reap = now
        _removed, errors = reap(self.engine.runtime, self.book)
        self.errors += errors

    def _clean_orphans(self, instance: _Instance) -> None:
        """Namespaces left on the instance by processes that died: cleaned in the background."""
        held = {lease.data.get("pid") for lease in self.book.leases(instance.key) if lease.held}
        for path, data in self.book.namespaces(instance.key):
            if data.get("pid") in held:
                continue
            self._submit(functools.partial(self._clean_recorded, instance, path, data))

    def _clean_recorded(self, instance: _Instance, path: Path, data: dict[str, Any]) -> list[str]:
        from envctl.environment import build_plugin

        errors: list[str] = []
        scenario = instance.environment.scenario
        for name, state in instance.environment.services.items():
            if state.handle is None or name not in data.get("services", {}):
                continue
            try:
                plugin = build_plugin(scenario, name, data["run_id"], self.settings)
                handle = _namespace_handle(state.handle)
                handle.resources = {
                    k: list(v) for k, v in data["services"][name].get("resources", {}).items()
                }
                plugin.cleanup_resources(handle, plugin.context.timeouts.setup)
            except Exception as exc:  # noqa: BLE001 - reported, the record stays for a retry
                errors.append(f"{name}: {exc}")
        if not errors:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return errors

    # -- namespaces ------------------------------------------------------------------------
    def namespace(
        self, scenario: Scenario, part: Scenario, run_id: str, reuse: ReuseSetting
    ) -> WarmNamespace:
        """``scenario``'s own namespace (run ``run_id``) on the instance of ``part`` (its
        real services): topics created, databases handed out, seeds loaded. The instance is
        a warm one (kept after this process) when ``reuse.enabled``, else this process's."""
        from envctl.environment import Environment, ServiceState, build_plugin
        from envctl.report.run_folder import run_dir_for

        t0 = time.monotonic()
        instance = self._instance(part, reuse)
        with self._lock:
            instance.users += 1
        base = instance.environment
        record: Path | None = None
        if instance.lease is not None:
            record = self.book.note_namespace(
                instance.key,
                run_id,
                {"run_id": run_id, "scenario": scenario.name, "pid": os.getpid(), "services": {}},
            )
        states: dict[str, ServiceState] = {}
        try:
            for name in part.external_services:
                shared = base.services[name]
                assert shared.handle is not None
                plugin = build_plugin(scenario, name, run_id, self.settings)
                handle = _namespace_handle(shared.handle)
                state = ServiceState(
                    name=name,
                    type=shared.type,
                    mode=shared.mode,
                    image=shared.image,
                    container=shared.container,
                    status="ready",
                    handle=handle,
                )
                states[name] = state
                started = time.monotonic()
                plugin.acquire_namespace(handle, plugin.context.timeouts.setup)
                state.timings["namespace"] = time.monotonic() - started
                state.endpoints = {
                    k: v for k, v in handle.endpoints.items() if not k.startswith("_")
                }
        except BaseException:
            self._release(instance, scenario, run_id, states, record)
            raise
        env = Environment(run_id, scenario, base.network, states, None)
        env.run_dir = run_dir_for(self.settings, run_id)
        env.labels = dict(self.settings.extra_labels)
        env.on_down = lambda: self._release(instance, scenario, run_id, states, record)
        return WarmNamespace(env, instance.key, instance.reused, time.monotonic() - t0)

    def _release(
        self,
        instance: _Instance,
        scenario: Scenario,
        run_id: str,
        states: Mapping[str, Any],
        record: Path | None,
    ) -> list[str]:
        """Clean the namespace up in the background; returns at once."""
        from envctl.environment import build_plugin

        resources = {
            name: {"resources": state.handle.resources if state.handle is not None else {}}
            for name, state in states.items()
        }
        with contextlib.suppress(OSError):
            if record is not None:
                record.write_text(
                    json.dumps(
                        {
                            "run_id": run_id,
                            "scenario": scenario.name,
                            "pid": os.getpid(),
                            "services": resources,
                        }
                    )
                )

        def clean() -> list[str]:
            errors: list[str] = []
            for name, state in states.items():
                if state.handle is None:
                    continue
                try:
                    plugin = build_plugin(scenario, name, run_id, self.settings)
                    plugin.release_namespace(state.handle, plugin.context.timeouts.setup)
                except Exception as exc:  # noqa: BLE001 - reported; the record stays
                    errors.append(f"{name}: {exc}")
            if not errors and record is not None:
                with contextlib.suppress(FileNotFoundError):
                    record.unlink()
            with self._lock:
                instance.users -= 1
            if instance.lease is not None:
                self.book.touch(instance.key)
            return errors

        self._submit(clean)
        return []

    def _submit(self, work: Callable[[], list[str]]) -> None:
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()]
            self._pending.append(self._cleaners.submit(work))

    def wait_for_cleanup(self) -> list[str]:
        """Wait for the namespace cleanups started so far; returns their errors."""
        with self._lock:
            pending, self._pending = self._pending, []
        errors: list[str] = []
        for future in pending:
            try:
                errors += future.result()
            except Exception as exc:  # noqa: BLE001
                errors.append(str(exc))
        return errors

    def close(self) -> list[str]:
        """Finish the cleanups and give every lease back (instances stay warm)."""
        errors = self.wait_for_cleanup()
        with self._lock:
            held, self._instances = list(self._instances.values()), {}
        for instance in held:
            if instance.lease is None:
                errors += instance.environment.down()
                continue
            path, fd = instance.lease
            self.book.give_back(instance.key, path, fd)
        self._cleaners.shutdown(wait=True)
        return errors + self.errors


def _instance_scenario(part: Scenario, key: str) -> Scenario:
    """What an instance is started from: the real services, no steps, named by its key."""
    shared = part.model_copy(update={"name": f"warm-{key[:8]}", "steps": [], "expected": {}})
    shared._source = part.source
    return shared


def _namespace_handle(shared: ServiceHandle) -> ServiceHandle:
    """A handle on the shared service for one namespace: same container and clients, own
    endpoints (setup adds the namespace's names) and own resources."""
    from envctl.services.base import ServiceHandle

    return ServiceHandle(
        name=shared.name,
        endpoints=dict(shared.endpoints),
        container=shared.container,
        clients=shared.clients,
    )


def attach(engine: Engine, part: Scenario, instance: WarmInstance) -> Environment | None:
    """The environment of a running warm instance, from its containers' labels; None when a
    service's container is missing or not running (the instance is then started anew)."""
    from envctl.environment import Environment, ServiceState, build_plugin, resolve_image
    from envctl.services.base import ServiceHandle

    runtime = engine.runtime
    containers = {r.service: r for r in instance.resources if r.kind == "container"}
    network = next((r.name for r in instance.resources if r.kind == "network"), None)
    states: dict[str, ServiceState] = {}
    for name, spec in part.external_services.items():
        resource = containers.get(name)
        if resource is None or resource.status != "running":
            return None
        try:
            endpoints = json.loads(resource.labels.get(LABEL_ENDPOINTS, "{}"))
        except json.JSONDecodeError:
            return None
        handle = ServiceHandle(
            name=name, endpoints=endpoints, container=runtime.container(resource.name)
        )
        plugin = build_plugin(part, name, instance.run_id, engine.settings)
        states[name] = ServiceState(
            name=name,
            type=spec.type,
            mode=spec.mode.value,
            image=resolve_image(spec, plugin.default_image, engine.settings)[0],
            container=resource.name,
            status="ready",
            endpoints={k: v for k, v in endpoints.items() if not k.startswith("_")},
            handle=handle,
        )
    env = Environment(instance.run_id, part, network, states, runtime)
    return env
