"""The native runtime: services as local processes instead of containers.

A second implementation of the runtime seam (:mod:`envctl.runtime.base`). What a service
type runs comes from its native provider (``native_module`` of its plugin); this module
owns the processes themselves, the way :mod:`envctl.runtime.docker` owns containers:

- every process has its own home ``<native dir>/<name>/`` (the data directory ``data/``,
  ``tmp/``, and ``service.log``: stdout and stderr, its "container log"), and a record
  ``<native dir>/<name>.json`` holding envctl's labels, the pid, the process's start time
  and the boot id, written *before* the process starts and removed *after* its home;
- processes start in their own session (process group), so ``remove`` ends the server and
  everything it forked (PostgreSQL backends) at once: the type's stop signal, then SIGKILL
  after :data:`STOP_TIMEOUT`;
- ``list_managed`` reads the records, so ``status``, ``down``, ``gc`` and the cleanup
  policies work from the same labels as for containers. A pid is trusted only while the
  boot id and the process's start time still match (pids are reused).

Markers (a run left up on purpose) are records without a process (kind ``volume``).
The native dir is ``ENVCTL_NATIVE_DIR``, else ``<tmp>/envctl-native-<uid>`` (mode 0711:
an unprivileged server user may traverse it to its own home, nobody may list it).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.errors import EnvctlError, NativeUnavailable
from envctl.owner import boot_id
from envctl.runtime.base import LABEL_MANAGED, ExecResult, ManagedResource

NATIVE_DIR_ENV = "ENVCTL_NATIVE_DIR"
LABEL_RUNTIME = "io.envctl.runtime"
"""On a native process's record: ``native``."""
ID_PREFIX = "native:"
"""Resource ids of this runtime start with it (the combined runtime dispatches on it)."""
LOG_FILE = "service.log"
STOP_TIMEOUT = 10.0
"""Seconds a process group gets after its stop signal before SIGKILL."""
KILL_TIMEOUT = 10.0
"""Seconds to wait for a SIGKILLed process group to be gone."""
EXEC_TIMEOUT = 300.0
"""Seconds a command run beside a native service (``exec``) may take."""


__all__ = ["NativeProcess", "NativeRuntime", "NativeUnavailable", "ProcessSpec"]


def native_dir(environ: Mapping[str, str]) -> Path:
    explicit = environ.get(NATIVE_DIR_ENV)
    if explicit:
        return Path(explicit).resolve()
    return Path(tempfile.gettempdir()) / f"envctl-native-{os.getuid()}"


@dataclass(frozen=True)
class ProcessSpec:
    """Everything needed to start one service process, in envctl's words."""

    name: str
    labels: Mapping[str, str]
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    """The whole environment of the process (nothing is inherited)."""
    exec_env: Mapping[str, str] = field(default_factory=dict)
    """Laid over the caller's environment for ``exec`` (PATH with the server's tools, the
    address variables its clients read: PGHOST, PGPORT, ...)."""
    prepare: Callable[[Path], None] | None = None
    """Fills the home before the process starts (e.g. copies a pre-initialised cluster)."""
    user: str | None = None
    """Run as this user (envctl must be root); None: as envctl's own user."""
    stop_signal: int = signal.SIGTERM


@dataclass
class _Record:
    kind: str
    name: str
    labels: dict[str, str]
    pid: int | None = None
    start_time: float | None = None
    boot_id: str = ""
    stop_signal: int = signal.SIGTERM
    home: str = ""
    exec_env: dict[str, str] = field(default_factory=dict)
    user: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def read(cls, path: Path) -> _Record | None:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None


def _start_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def _alive(record: _Record) -> bool:
    """The recorded process still runs (same boot, same pid, same start time)."""
    import psutil

    if record.pid is None or record.start_time is None or record.boot_id != boot_id():
        return False
    try:
        process = psutil.Process(record.pid)
        if abs(process.create_time() - record.start_time) > 0.01:
            return False
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


class NativeProcess:
    """A service process of ours, as plugins see it (the ContainerHandle shape)."""

    def __init__(self, runtime: NativeRuntime, record: _Record) -> None:
        self._runtime = runtime
        self._record = record
        self.phase_timings: dict[str, float] = {}

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def home(self) -> Path:
        return Path(self._record.home)

    @property
    def pid(self) -> int | None:
        return self._record.pid

    def state(self) -> tuple[str, int | None]:
        popen = self._runtime._children.get(self.name)
        if popen is not None:
            code = popen.poll()
            return ("running", None) if code is None else ("exited", code)
        if not (self._runtime.root / f"{self.name}.json").exists():
            return "removed", None
        return ("running", None) if _alive(self._record) else ("exited", None)

    def logs(self) -> str:
        try:
            return (self.home / LOG_FILE).read_text(errors="replace")
        except OSError:
            return ""

    def logs_tail(self, lines: int = 20) -> list[str]:
        return [line for line in self.logs().splitlines() if line.strip()][-lines:]

    def exec(self, command: Sequence[str]) -> ExecResult:
        """Run ``command`` beside the service (on this host, with the server's tools first
        on PATH and its address in the client variables); output is stdout + stderr."""
        env = dict(self._runtime.environ)
        extra = dict(self._record.exec_env)
        if "PATH" in extra:
            extra["PATH"] = os.pathsep.join(filter(None, [extra["PATH"], env.get("PATH", "")]))
        env.update(extra)
        tmp = self.home / "tmp"
        tmp.mkdir(exist_ok=True)
        env["TMPDIR"] = str(tmp)
        try:
            done = subprocess.run(
                list(command),
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=EXEC_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            return ExecResult(127, f"{command[0]}: command not found beside {self.name}")
        except subprocess.TimeoutExpired:
            return ExecResult(124, f"{command[0]}: took longer than {EXEC_TIMEOUT:.0f}s")
        return ExecResult(done.returncode, done.stdout.decode(errors="replace"))


class NativeRuntime:
    """Starts, lists and removes envctl's service processes (see the module docstring)."""

    def __init__(self, root: Path, environ: Mapping[str, str]) -> None:
        self.root = root
        self.environ = environ
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_environ(cls, environ: Mapping[str, str]) -> NativeRuntime:
        return cls(native_dir(environ), environ)

    def describe(self) -> str:
        return f"local processes under {self.root}"

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o711)
        info = self.root.lstat()
        if self.root.is_symlink() or info.st_uid != os.getuid():
            raise EnvctlError(
                f"{self.root} is not a directory of this user; remove it or set "
                f"{NATIVE_DIR_ENV} to a directory of your own"
            )
        os.chmod(self.root, 0o711)

    def home(self, name: str) -> Path:
        """Where the process ``name`` keeps its data, log and scratch files."""
        return self.root / name

    def _write(self, record: _Record) -> None:
        path = self.root / f"{record.name}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(record.to_json())
        os.chmod(tmp, 0o600)
        tmp.replace(path)

    # -- create ---------------------------------------------------------------------------
    def run_process(self, spec: ProcessSpec) -> NativeProcess:
        """Record, prepare and start one service process; returns once it is started."""
        import time

        self._ensure_root()
        home = self.home(spec.name)
        record = _Record(
            kind="container",
            name=spec.name,
            labels=dict(spec.labels),
            boot_id=boot_id(),
            stop_signal=int(spec.stop_signal),
            home=str(home),
            exec_env=dict(spec.exec_env),
            user=spec.user,
        )
        self._write(record)  # first: whatever happens next, down and gc find it
        t0 = time.monotonic()
        home.mkdir(mode=0o700)
        (home / "data").mkdir(mode=0o700)
        uid = gid = None
        if spec.user is not None:
            import pwd

            entry = pwd.getpwnam(spec.user)
            uid, gid = entry.pw_uid, entry.pw_gid
        if spec.prepare is not None:
            spec.prepare(home)
        if uid is not None and gid is not None:
            for folder, dirs, files in os.walk(home):
                os.chown(folder, uid, gid)
                for item in (*dirs, *files):
                    os.chown(os.path.join(folder, item), uid, gid, follow_symlinks=False)
        t1 = time.monotonic()
        with open(home / LOG_FILE, "ab") as log:
            popen = subprocess.Popen(
                list(spec.argv),
                cwd=home,
                env=dict(spec.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,
            )
        with self._lock:
            self._children[spec.name] = popen
        record.pid = popen.pid
        record.start_time = _start_time(popen.pid)
        self._write(record)
        handle = NativeProcess(self, record)
        handle.phase_timings = {"create": t1 - t0, "start": time.monotonic() - t1}
        return handle

    def create_marker(self, name: str, labels: Mapping[str, str]) -> None:
        """A record without a process (e.g. the run was left up on purpose)."""
        self._ensure_root()
        self._write(_Record(kind="volume", name=name, labels=dict(labels)))

    # -- list and remove ------------------------------------------------------------------
    def _records(self) -> list[_Record]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob("*.json")):
            record = _Record.read(path)
            if record is not None:
                found.append(record)
        return found

    def container(self, name: str) -> NativeProcess | None:
        record = _Record.read(self.root / f"{name}.json")
        if record is None or record.kind != "container":
            return None
        return NativeProcess(self, record)

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        wanted = {LABEL_MANAGED: "true", **(labels or {})}
        found = []
        for record in self._records():
            if any(record.labels.get(k) != v for k, v in wanted.items()):
                continue
            status = ""
            if record.kind == "container":
                status = "running" if _alive(record) else "exited"
            found.append(
                ManagedResource(
                    record.kind, ID_PREFIX + record.name, record.name, record.labels, status
                )
            )
        return found

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        """End each resource's process group and delete its home, then its record."""
        errors: list[str] = []
        for resource in resources:
            name = resource.id.removeprefix(ID_PREFIX)
            path = self.root / f"{name}.json"
            record = _Record.read(path)
            if record is None:
                continue
            try:
                self._stop(record)
                if record.home:
                    shutil.rmtree(record.home, ignore_errors=False)
            except FileNotFoundError:
                pass
            except (OSError, EnvctlError) as exc:
                errors.append(f"process {name}: {exc}")
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with self._lock:
                self._children.pop(name, None)
        return errors

    def _stop(self, record: _Record) -> None:

        popen = self._children.get(record.name)
        if not _alive(record):
            if popen is not None:
                popen.poll()  # reap it
            self._kill_group_leftovers(record)
            return
        assert record.pid is not None
        pgid = record.pid  # the process leads its own session and process group
        members = _group(pgid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, record.stop_signal)
        alive = _wait_gone(members, popen, STOP_TIMEOUT)
        if alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            alive = _wait_gone(alive, popen, KILL_TIMEOUT)
        if alive:
            raise EnvctlError(f"processes {', '.join(str(p.pid) for p in alive)} survived SIGKILL")

    def _kill_group_leftovers(self, record: _Record) -> None:
        """The leader is gone; children it left in its group (same boot only) are ended."""

        if record.pid is None or record.boot_id != boot_id():
            return
        members = [
            p
            for p in _group(record.pid)
            if record.start_time is None or p.create_time() >= record.start_time
        ]
        if not members:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, signal.SIGKILL)
        _wait_gone(members, None, KILL_TIMEOUT)


def _wait_gone(
    members: list[Any], popen: subprocess.Popen[bytes] | None, timeout: float
) -> list[Any]:
    """Wait until every process in ``members`` has exited (a zombie has: its parent, maybe
    another envctl process, reaps it); returns those still running at the deadline."""
    import psutil

    from envctl.retry import poll_until

    def running() -> list[Any]:
        if popen is not None:
            popen.poll()  # reap our own child
        left = []
        for process in members:
            with contextlib.suppress(psutil.Error):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(process)
        return left

    poll_until(lambda: not running(), timeout)
    return running()


def _group(pgid: int) -> list[Any]:
    """The live processes of process group ``pgid``."""
    import psutil

    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(process.pid) == pgid:
                members.append(process)
    return members
