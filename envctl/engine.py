"""Bring a scenario's services up in dependency order, and take them down again.

Each service starts the moment all of its dependencies are ready; independent services
start in parallel. When one fails, its dependents are not started, everything created
so far is removed (unless asked to keep it), and the first error is raised.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import UTC, datetime
from typing import Any, Protocol

from envctl.environment import (
    Environment,
    ServiceState,
    build_plugin,
    cleanup_external,
    down_run,
    record_run,
    resolve_image,
)
from envctl.errors import (
    EnvctlError,
    PortTaken,
    RuntimeConflict,
    ServiceFailed,
    ServiceNotReady,
)
from envctl.faults.plan import proxied_services
from envctl.faults.proxies import (
    LABEL_FAULT_PROXY,
    ProxyProcess,
    bind_proxy,
    start_proxy,
    stop_proxy,
)
from envctl.gc import collect
from envctl.graph import ServiceGraph
from envctl.interrupts import REMOVED_NOTE, shielded
from envctl.owner import owner_labels
from envctl.report.run_folder import ensure_writable, run_dir_for
from envctl.retry import GaveUp, retry_call
from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_DETACHED,
    LABEL_ENDPOINTS,
    LABEL_MANAGED,
    LABEL_RUN_ID,
    LABEL_SCENARIO,
    LABEL_SERVICE,
    LABEL_TYPE,
    ContainerSpec,
    PublishedPort,
    Runtime,
)
from envctl.runtime.choice import (
    RuntimeChoice,
    choose_runtime,
    cross_runtime_problem,
    requested_runtime,
)
from envctl.runtime.combined import Runtimes
from envctl.runtime.native import LABEL_RUNTIME
from envctl.runtime.platform import foreign_binary_reason
from envctl.scenario.models import Scenario
from envctl.scenario.spec import ServiceMode
from envctl.services.base import (
    PROBE_ATTEMPT_MAX,
    ProbeFailed,
    ProbeRefused,
    ServiceHandle,
    ServicePlugin,
)
from envctl.services.native import NativeContext, native_context
from envctl.services.registry import plugin_for
from envctl.settings import IMAGE_ENV_PREFIX, Settings
from envctl.variables import UnknownVariable, dotted_fields, substitute

PROBE_MAX_INTERVAL = 0.025
"""Longest pause between readiness attempts (they start at 5 ms and grow): a ready service
is noticed within this. An attempt is one cheap request over 127.0.0.1."""
GC_SWEEP_WAIT = 30.0
"""How long ``up`` waits, at its end, for the sweep of dead runs it started beside it."""
STATE_CHECK_INTERVAL = 0.25
"""While probing, the container's state (did it exit?) is asked from Docker at most this
often, not before every attempt (a ``docker inspect`` costs about as much as a probe)."""


class Progress(Protocol):
    """Where the engine reports what each service is doing (a terminal display, a log)."""

    def update(self, service: str, status: str, detail: str = "") -> None: ...


class _NoProgress:
    def update(self, service: str, status: str, detail: str = "") -> None:
        return None


class NotReady(Exception):
    """A readiness wait ended without success: why, and after how long."""

    def __init__(self, reason: str, waited: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.waited = waited


def probe_until_ready(
    plugin: ServicePlugin[Any],
    handle: ServiceHandle,
    timeout: float,
    stop_when: Callable[[], str | None] | None = None,
) -> float:
    """Probe until the service answers, within ``timeout``; returns how long the successful
    attempt took. ``stop_when`` ends the wait early with its reason. Raises :class:`NotReady`
    with the last probe's error."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt finished"
    took = 0.0

    def attempt() -> None:
        nonlocal last_error, took
        remaining = max(0.05, deadline - time.monotonic())
        t0 = time.monotonic()
        try:
            plugin.probe(handle, min(PROBE_ATTEMPT_MAX, remaining))
        except ProbeRefused as exc:
            last_error = str(exc)
            raise GaveUp("the service refused the probe (waiting cannot help)") from None
        except ProbeFailed as exc:
            last_error = str(exc)
            raise
        took = time.monotonic() - t0

    started = time.monotonic()
    try:
        retry_call(
            attempt, timeout, (ProbeFailed,), stop_when=stop_when, max_interval=PROBE_MAX_INTERVAL
        )
    except ProbeFailed:
        raise NotReady(last_error, time.monotonic() - started) from None
    except GaveUp as exc:
        raise NotReady(f"{exc}; last probe: {last_error}", time.monotonic() - started) from None
    return took


def _kept_note(env: Environment) -> str:
    parts = []
    for state in env.services.values():
        reach = " ".join(f"{k}={v}" for k, v in dotted_fields(state.endpoints))
        kind = "process" if state.runtime == "native" else "container"
        where = f"{kind} {state.container}" if state.container else state.mode
        parts.append(f"{state.name} ({state.status}; {where}{'; ' + reach if reach else ''})")
    return (
        f"kept for inspection (--keep-on-failure): run {env.run_id}: {', '.join(parts)}; "
        f"logs: envctl logs {env.run_id}; remove with: envctl down --run-id {env.run_id}"
    )


def _preload_clients(scenario: Scenario) -> None:
    """Import the services' client libraries in the background while containers start.

    They are needed only once a container runs (for the probe); importing them meanwhile
    takes 30-80 ms each off the time to ready.
    """
    import importlib

    modules = sorted(
        {m for s in scenario.external_services.values() for m in plugin_for(s.type).client_modules}
    )
    if modules:
        threading.Thread(
            target=lambda: [importlib.import_module(m) for m in modules],
            name="envctl-preload",
            daemon=True,
        ).start()


def fault_targets(scenario: Scenario) -> set[str]:
    """The services faults are done to (``faults:`` and fault steps): they need containers."""
    bodies = [*scenario.faults, *(s.get("fault") for s in scenario.steps if isinstance(s, dict))]
    return {
        b["service"] for b in bodies if isinstance(b, dict) and isinstance(b.get("service"), str)
    }


def new_run_id() -> str:
    return secrets.token_hex(4)


WORKER_DRAIN_TIMEOUT = 5.0
"""Seconds a failed or interrupted ``up`` waits for the other services' start-ups to stop
(they watch the abort flag between phases) before removing everything anyway."""


def _worker(
    name: str, function: Callable[..., None], *args: Any
) -> tuple[Future[None], threading.Thread]:
    """A daemon thread (to start) that runs ``function``; its outcome in a Future.

    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so one blocked in a
    client call (a seed against a frozen broker, bounded only by the seed timeout) kept
    Ctrl-C from ending envctl for minutes. Cleanup never depends on these threads: it is
    label-based and runs in the main thread.
    """
    future: Future[None] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            function(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the scheduler
            future.set_exception(exc)
        else:
            future.set_result(None)

    return future, threading.Thread(target=run, name=name, daemon=True)


def _may_still_create(env: Environment, name: str) -> bool:
    """Whether a start-up still running may yet make something the label sweep of a failed
    or interrupted ``up`` would miss: its container (or process) is not made yet, or it
    works on an external service. One past that (probing, setting up, seeding a container
    that the sweep removes) is not waited for: it stops at the abort flag, or dies with
    the process."""
    state = env.services[name]
    return state.handle is None or env.scenario.external_services[name].mode != ServiceMode.DOCKER


def container_name(scenario: str, service: str, run_id: str) -> str:
    safe = re.sub(r"[^a-zA-Z0-9_.-]+", "-", scenario).strip("-.") or "scenario"
    return f"envctl-{safe}-{service}-{run_id}"


def free_port() -> int:
    """A free TCP port on 127.0.0.1, found by letting the kernel choose one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class Engine:
    """Starts environments. Built once at the edge with settings and a runtime factory."""

    def __init__(
        self,
        settings: Settings,
        runtime_factory: Callable[[], Runtime],
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.runtimes = Runtimes.for_settings(settings, runtime_factory)
        self.progress: Progress = progress or _NoProgress()

    @property
    def runtime(self) -> Runtime:
        """The Docker runtime (connected on first use)."""
        return self.runtimes.docker

    def native_context(self, type_name: str) -> NativeContext:
        return native_context(self.settings, type_name)

    def choose_runtimes(self, scenario: Scenario) -> dict[str, RuntimeChoice]:
        """Docker or native, for every service envctl starts (see :mod:`envctl.runtime.choice`);
        raises when one cannot be had at all, or a container would depend on a process."""
        choices: dict[str, RuntimeChoice] = {}
        faulted = fault_targets(scenario)
        for name, spec in scenario.external_services.items():
            if spec.mode != ServiceMode.DOCKER:
                continue
            plugin = build_plugin(scenario, name, "0", self.settings)
            requested, source = requested_runtime(
                self.settings.runtime, self.settings.runtime_source, spec.runtime, scenario.runtime
            )
            provider = plugin.native(self.native_context(spec.type))
            choices[name] = choose_runtime(
                name,
                spec.type,
                requested,
                source,
                plugin.context.image,
                f"{IMAGE_ENV_PREFIX}{spec.type.upper()}",
                self.runtimes.docker_available,
                lambda image: self.runtimes.image_status(image),
                provider.locate if provider is not None else None,
                container_only="faults are done to containers" if name in faulted else "",
            )
        problem = cross_runtime_problem(
            choices, {n: list(s.depends_on) for n, s in scenario.external_services.items()}
        )
        if problem:
            raise RuntimeConflict(problem)
        return choices

    def up(
        self,
        scenario: Scenario,
        *,
        run_id: str | None = None,
        keep_on_failure: bool = False,
        detach: bool = False,
        fault_proxies: Collection[str] = (),
        extra_labels: Mapping[str, str] | None = None,
        owned: bool = True,
    ) -> Environment:
        """Start every service; return when all are ready. On failure clean up and raise.

        ``detach`` marks the run as left up on purpose (``envctl up``): ``envctl gc`` keeps
        it although the process that made it is gone. Otherwise the run belongs to this
        process, and gc collects it once the process has died without cleaning up.
        Before starting, runs of dead owners are collected.

        ``fault_proxies``: services to put behind a fault proxy besides those the scenario's
        network faults target (``envctl up --fault-proxy``).
        """

        run_id = run_id or new_run_id()
        graph = ServiceGraph({n: s.depends_on for n, s in scenario.external_services.items()})
        choices = self.choose_runtimes(scenario)
        needs_docker = any(c.runtime == "docker" for c in choices.values())
        if needs_docker:
            self.runtimes.docker  # noqa: B018 - raises DockerUnavailable before anything starts
        runtime: Runtime | None = self.runtimes if choices else None
        states = {
            name: ServiceState(
                name=name,
                type=spec.type,
                mode=spec.mode.value,
                runtime=choices[name].runtime if name in choices else None,
                server=choices[name].server or None if name in choices else None,
            )
            for name, spec in scenario.external_services.items()
        }
        env = Environment(run_id, scenario, None, states, runtime)
        env.runtime_choices = choices
        env.run_dir = run_dir_for(self.settings, run_id)
        env.labels = dict(self.settings.extra_labels)
        if detach:
            # left up: its record is how `envctl down`, snapshots and topics find it later,
            # so a state folder that cannot take it fails before anything starts
            ensure_writable(env.run_dir.parent)
        env.fault_proxies = frozenset(
            name
            for name in proxied_services(scenario) | set(fault_proxies)
            if name in scenario.external_services
            and scenario.external_services[name].mode == ServiceMode.DOCKER
        )
        labels = {
            **self.settings.extra_labels,
            LABEL_MANAGED: "true",
            LABEL_RUN_ID: run_id,
            LABEL_SCENARIO: scenario.name,
            # a warm instance (owned=False) belongs to its leases, not to this process
            **(owner_labels() if owned else {}),
            LABEL_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
            **(extra_labels or {}),
        }
        abort = threading.Event()
        _preload_clients(scenario)
        sweep: threading.Thread | None = None
        if runtime is not None:
            # Runs of dead owners are collected beside the start-up, not before it: the sweep
            # touches only other runs' resources, and costs a listing plus a /proc scan.
            def collect_garbage() -> None:
                try:
                    garbage, _errors = collect(runtime)
                except Exception:  # noqa: BLE001 - best effort; `envctl gc` reports
                    return
                for verdict in garbage:
                    self.progress.update("gc", "removed", f"run {verdict.run_id}: {verdict.reason}")

            sweep = threading.Thread(target=collect_garbage, name="envctl-gc", daemon=True)
            sweep.start()
        try:
            for name, choice in sorted(choices.items()):
                if choice.note:
                    self.progress.update(name, "runtime", choice.note)
            if needs_docker:
                env.network = container_name(scenario.name, "net", run_id)
                with shielded():  # a network the daemon made must be known, to be removed
                    self.runtimes.create_network(env.network, labels)
            self._schedule(env, graph, labels, abort)
            with shielded():
                if runtime is not None and detach:
                    runtime.create_volume(
                        container_name(scenario.name, "detached", run_id),
                        {**labels, LABEL_DETACHED: "true"},
                    )
                self._record(env)
        except BaseException as exc:
            with shielded():
                self._after_failure(env, exc, labels, keep_on_failure, abort)
            raise
        finally:
            if sweep is not None:
                sweep.join(GC_SWEEP_WAIT)
        return env

    def _after_failure(
        self,
        env: Environment,
        exc: BaseException,
        labels: Mapping[str, str],
        keep_on_failure: bool,
        abort: threading.Event,
    ) -> None:
        """Remove what a failed or interrupted ``up`` started (or keep it, when asked)."""
        runtime, scenario, run_id, states = env.runtime, env.scenario, env.run_id, env.services
        abort.set()
        if isinstance(exc, EnvctlError):
            exc.environment = env  # type: ignore[attr-defined]  # for `up --json`
        if keep_on_failure and isinstance(exc, EnvctlError):
            if runtime is not None:
                runtime.create_volume(
                    container_name(scenario.name, "detached", run_id),
                    {**labels, LABEL_DETACHED: "true"},
                )
            exc.add_note(_kept_note(env))
            self._record(env)
            return
        _, errors = cleanup_external(states.values(), scenario, run_id, self.settings)
        if runtime is not None:
            errors += down_run(runtime, run_id)
            # a worker still starting a container may create it after that sweep: its
            # connections died with the removed containers, so it ends soon; sweep again
            if env.workers:
                wait(env.workers, timeout=WORKER_DRAIN_TIMEOUT)
                errors += down_run(runtime, run_id)
        if errors:
            exc.add_note(f"cleanup also failed: {'; '.join(errors)}")
        elif not isinstance(exc, EnvctlError):
            exc.add_note(REMOVED_NOTE)

    def _record(self, env: Environment) -> None:
        """Persist what the run created, so `envctl down` and snapshots find it later."""
        problem = record_run(env)
        if problem:
            self.progress.update("run", "warning", problem)

    # -- scheduling ------------------------------------------------------------------------
    def _schedule(
        self,
        env: Environment,
        graph: ServiceGraph,
        labels: Mapping[str, str],
        abort: threading.Event,
    ) -> None:
        states = env.services
        pending = set(graph.services)
        running: dict[Future[None], str] = {}
        ready: set[str] = set()
        failure: BaseException | None = None
        failed = ""
        drain_until = 0.0
        for name in pending:
            self.progress.update(name, "pending")
        try:
            while pending or running:
                if failure is None:
                    for name in sorted(pending):
                        if all(dep in ready for dep in graph.dependencies(name)):
                            pending.discard(name)
                            upstream = graph.all_dependencies(name)
                            future, thread = _worker(
                                f"envctl-up-{name}",
                                self._bring_up,
                                env,
                                name,
                                upstream,
                                labels,
                                abort,
                            )
                            running[future] = name  # known before it runs: drained on abort
                            thread.start()
                if not running:
                    break
                # after a failure, the others get a bounded time to stop; what is still
                # running then (a seed against a frozen broker) is removed by cleanup
                timeout = None if failure is None else max(0.0, drain_until - time.monotonic())
                done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
                if not done:
                    break
                for future in done:
                    name = running.pop(future)
                    exc = future.exception()
                    if exc is None:
                        ready.add(name)
                        continue
                    if failure is not None:  # stopped because another one failed
                        states[name].status = f"stopped: '{failed}' failed"
                        self.progress.update(name, states[name].status)
                        continue
                    states[name].status = "failed"
                    states[name].error = str(exc)
                    self.progress.update(name, "failed", str(exc))
                    failure, failed = exc, name
                    drain_until = time.monotonic() + WORKER_DRAIN_TIMEOUT
                    abort.set()
            if failure is not None:
                for name in sorted(pending):
                    states[name].status = f"not started: '{failed}' failed"
                    self.progress.update(name, states[name].status)
                for name in running.values():
                    states[name].status = f"stopped: '{failed}' failed"
                    self.progress.update(name, states[name].status)
                raise failure
        except BaseException:
            abort.set()  # workers stop at their next check; none is waited for here
            raise
        finally:
            env.workers = [
                f for f, name in running.items() if not f.done() and _may_still_create(env, name)
            ]

    def _bring_up(
        self,
        env: Environment,
        name: str,
        upstream: list[str],
        labels: Mapping[str, str],
        abort: threading.Event,
    ) -> None:
        """Start, probe, set up and seed one service; ``upstream`` is every service it
        depends on, directly or not (all ready by now)."""
        if abort.is_set():
            raise ServiceFailed(name, "not started: the run was aborted")
        scenario = env.scenario
        spec = scenario.external_services[name]
        plugin = build_plugin(scenario, name, env.run_id, self.settings)
        state = env.services[name]
        state.started_at = time.monotonic() - env.began
        timeouts = plugin.context.timeouts

        if spec.mode == ServiceMode.DOCKER and state.runtime == "native":
            handle = self._start_native(env, name, plugin, labels, abort)
        elif spec.mode == ServiceMode.DOCKER:
            handle = self._start_container(env, name, plugin, upstream, labels, abort)
        else:
            handle = plugin.attach(self.settings.environ)
        handle.abort = abort  # setup and seed stop at once when the run is given up
        state.handle = handle
        state.endpoints = {k: v for k, v in handle.endpoints.items() if not k.startswith("_")}

        t0 = time.monotonic()
        self.progress.update(name, "waiting", "probing readiness")
        self._wait_ready(state, plugin, handle, timeouts.health_check, abort)
        state.timings["ready"] = time.monotonic() - t0
        state.ready_at = time.monotonic() - env.began

        t0 = time.monotonic()
        self.progress.update(name, "setup")
        plugin.setup(handle, timeouts.setup)
        state.timings["setup"] = time.monotonic() - t0

        t0 = time.monotonic()
        self.progress.update(name, "seed")
        plugin.seed(handle, timeouts.seed)
        state.timings["seed"] = time.monotonic() - t0
        # setup and seed add physical names (topics, databases, key prefix) to the endpoints
        state.endpoints = {k: v for k, v in handle.endpoints.items() if not k.startswith("_")}
        state.status = "ready"
        phases = " ".join(f"{k} {v:.2f}s" for k, v in state.timings.items())
        total = time.monotonic() - env.began - state.started_at
        self.progress.update(name, "ready", f"{total:.1f}s ({phases})")

    def _start_container(
        self,
        env: Environment,
        name: str,
        plugin: ServicePlugin[Any],
        upstream: list[str],
        labels: Mapping[str, str],
        abort: threading.Event,
    ) -> ServiceHandle:
        runtime = self.runtime
        spec = plugin.spec
        state = env.services[name]
        image, _source = resolve_image(spec, plugin.default_image, self.settings)
        state.image = image
        override_hint = f"{IMAGE_ENV_PREFIX}{spec.type.upper()}"
        self.progress.update(name, "image", image)
        t0 = time.monotonic()
        runtime.ensure_image(image, override_hint)
        state.platforms = runtime.image_platform(image), runtime.engine_platform()
        state.timings["image"] = time.monotonic() - t0
        image_platform, engine_platform = state.platforms
        if not image_platform.runs_on(engine_platform):
            # not an error yet: the engine may emulate it (Docker Desktop, binfmt/QEMU)
            self.progress.update(
                name,
                "image",
                f"{image} is built for {image_platform}, the engine runs {engine_platform}: "
                "it runs only if the engine emulates it",
            )

        volumes: dict[str, str] = {}
        for source, target in plugin.container_volumes().items():
            if source.startswith("/"):
                volumes[source] = target
                continue
            volume = container_name(env.scenario.name, f"{name}-{source}", env.run_id)
            runtime.create_volume(volume, {**labels, LABEL_SERVICE: name})
            volumes[volume] = target

        # What ${run.id} and ${services.<dependency>.<field>} in env and command can name.
        scope = {
            "run": {"id": env.run_id, "scenario": env.scenario.name},
            "services": {n: dict(env.services[n].endpoints) for n in upstream},
        }
        attempts = 3
        for attempt in range(attempts):
            published = self._allocate_ports(name, plugin)
            proxy = None
            if name in env.fault_proxies:
                published, proxy = self._start_fault_proxy(name, plugin, published)
            # a TCP and a UDP port of one number: clients (and endpoints) want the TCP one
            ordered = sorted(published, key=lambda p: p.protocol == "tcp")
            host_ports = {p.container: p.host for p in ordered}
            if proxy is not None and plugin.service_port is not None:
                # Clients (and the service's advertised address) use the proxy's port.
                host_ports[plugin.service_port] = proxy.listen
            endpoints = plugin.endpoints(host_ports)
            env_vars = {
                **plugin.container_env(host_ports),
                **{k: str(v) for k, v in self._resolve(name, "env", dict(spec.env), scope).items()},
            }
            command = plugin.container_command()
            if command is not None:
                command = self._resolve(name, "command", command, scope)
            cname = container_name(env.scenario.name, name, env.run_id)
            container_labels = {
                **labels,
                LABEL_SERVICE: name,
                LABEL_TYPE: spec.type,
                LABEL_ENDPOINTS: json.dumps(endpoints, sort_keys=True),
            }
            if proxy is not None:
                container_labels[LABEL_FAULT_PROXY] = proxy.to_label()
            container_spec = ContainerSpec(
                name=cname,
                image=image,
                network=env.network or "",
                aliases=[name],
                labels=container_labels,
                env=env_vars,
                ports=published,
                command=command,
                volumes=volumes,
            )
            if abort.is_set():
                if proxy is not None:
                    stop_proxy(proxy)
                raise ServiceFailed(name, "not started: the run was aborted")
            self.progress.update(name, "starting", cname)
            t0 = time.monotonic()
            try:
                container = runtime.run_container(container_spec)
            except PortTaken:
                pinned = any(p.pinned for p in published)
                self._remove_container(env.run_id, name)
                if proxy is not None:
                    stop_proxy(proxy)
                if pinned or attempt == attempts - 1:
                    raise
                continue  # another process took the free port between choice and bind
            except BaseException:
                if proxy is not None:
                    stop_proxy(proxy)
                raise
            if proxy is not None:
                bind_proxy(proxy, cname)
            state.timings.update(container.phase_timings)
            state.container = cname
            took = time.monotonic() - t0
            if took > plugin.context.timeouts.startup:
                raise ServiceFailed(
                    name,
                    f"the container took {took:.1f}s to create and start, more than "
                    f"timeout_profiles.{name}.startup ({plugin.context.timeouts.startup:.0f}s); "
                    "raise it or check the Docker daemon",
                )
            return ServiceHandle(name=name, endpoints=endpoints, container=container)
        raise AssertionError("unreachable")

    def _start_native(
        self,
        env: Environment,
        name: str,
        plugin: ServicePlugin[Any],
        labels: Mapping[str, str],
        abort: threading.Event,
    ) -> ServiceHandle:
        """Start the service as a local process (its type's native provider)."""

        spec = plugin.spec
        state = env.services[name]
        provider = plugin.native(self.native_context(spec.type))
        assert provider is not None  # choose_runtimes chose native only with a provider
        published = [
            p for p in self._allocate_ports(name, plugin) if p.container == plugin.service_port
        ]
        host_ports = {p.container: p.host for p in published}
        endpoints = provider.endpoints(host_ports)
        cname = container_name(env.scenario.name, name, env.run_id)
        process_labels = {
            **labels,
            LABEL_SERVICE: name,
            LABEL_TYPE: spec.type,
            LABEL_RUNTIME: "native",
            LABEL_ENDPOINTS: json.dumps(endpoints, sort_keys=True),
        }
        native = self.runtimes.native
        process_spec = provider.process(cname, process_labels, native.home(cname), host_ports)
        if abort.is_set():
            raise ServiceFailed(name, "not started: the run was aborted")
        self.progress.update(name, "starting", f"native {state.server or ''}".strip())
        t0 = time.monotonic()
        process = self.runtimes.run_process(process_spec)
        state.timings.update(process.phase_timings)
        state.container = cname
        handle = ServiceHandle(name=name, endpoints=endpoints, container=process)
        t1 = time.monotonic()
        try:
            provider.started(handle, plugin.context.timeouts.health_check)
        except (ProbeFailed, GaveUp) as exc:
            raise ServiceNotReady(
                name, time.monotonic() - t0, str(exc), process.logs_tail(10)
            ) from None
        state.timings["init"] = time.monotonic() - t1
        took = time.monotonic() - t0
        if took > plugin.context.timeouts.startup:
            raise ServiceFailed(
                name,
                f"the process took {took:.1f}s to start, more than "
                f"timeout_profiles.{name}.startup ({plugin.context.timeouts.startup:.0f}s)",
            )
        return handle

    @staticmethod
    def _start_fault_proxy(
        name: str, plugin: ServicePlugin[Any], published: list[PublishedPort]
    ) -> tuple[list[PublishedPort], ProxyProcess | None]:
        """Put a fault proxy on the service's client port: it takes the port clients use
        (the pinned one, if any); the container publishes on another free port."""
        port = plugin.service_port
        if port is None:
            return published, None
        current = next((p for p in published if p.container == port and p.protocol == "tcp"), None)
        if current is None:
            return published, None
        moved = PublishedPort(current.container, free_port(), current.protocol)
        published = [moved if p is current else p for p in published]
        try:
            proxy = start_proxy(moved.host, current.host if current.pinned else 0)
        except EnvctlError as exc:
            raise ServiceFailed(name, str(exc)) from None
        return published, proxy

    @staticmethod
    def _resolve(name: str, key: str, value: Any, scope: Mapping[str, Any]) -> Any:
        try:
            return substitute(value, scope)
        except UnknownVariable as exc:
            raise ServiceFailed(
                name,
                f"{key}: {exc}; a container can name only the run and services it "
                "depends_on (directly or not)",
            ) from None

    def _remove_container(self, run_id: str, service: str) -> None:
        runtime = self.runtime
        runtime.remove(
            [
                r
                for r in runtime.list_managed({LABEL_RUN_ID: run_id, LABEL_SERVICE: service})
                if r.kind == "container"
            ]
        )

    def _allocate_ports(self, name: str, plugin: ServicePlugin[Any]) -> list[PublishedPort]:
        published: list[PublishedPort] = []
        for port in plugin.ports():
            if port.host is not None:
                if not port_is_free(port.host):
                    raise PortTaken(
                        f"service '{name}': port 127.0.0.1:{port.host} (pinned in ports) is "
                        "already in use; free it or pin another port"
                    )
                published.append(PublishedPort(port.container, port.host, port.protocol, True))
            else:
                published.append(PublishedPort(port.container, free_port(), port.protocol))
        return published

    def _wait_ready(
        self,
        state: ServiceState,
        plugin: ServicePlugin[Any],
        handle: ServiceHandle,
        timeout: float,
        abort: threading.Event,
    ) -> None:
        name = state.name
        checked = [time.monotonic()]

        def stop_reason() -> str | None:
            if abort.is_set():
                return "the run was aborted"
            now = time.monotonic()
            if handle.container is not None and now - checked[0] >= STATE_CHECK_INTERVAL:
                checked[0] = now
                status, code = handle.container.state()
                if status in ("exited", "dead", "removed"):
                    return f"container {status} with code {code}"
            return None

        try:
            probe_until_ready(plugin, handle, timeout, stop_when=stop_reason)
        except NotReady as exc:
            tail = handle.container.logs_tail(10) if handle.container is not None else []
            foreign = self._foreign_binary(state, plugin, handle, tail)
            if foreign is not None:
                raise ServiceFailed(name, foreign) from None
            raise ServiceNotReady(name, exc.waited, exc.reason, tail) from None

    @staticmethod
    def _foreign_binary(
        state: ServiceState, plugin: ServicePlugin[Any], handle: ServiceHandle, tail: list[str]
    ) -> str | None:
        """Why the container could not run at all, when it exited with ``exec format
        error`` (an image for another architecture): waiting or retrying cannot help."""
        if handle.container is None or state.platforms is None or state.image is None:
            return None
        if handle.container.state()[0] not in ("exited", "dead"):
            return None
        image_platform, engine_platform = state.platforms
        hint = f"{IMAGE_ENV_PREFIX}{plugin.spec.type.upper()}"
        return foreign_binary_reason(state.image, image_platform, engine_platform, tail, hint)
