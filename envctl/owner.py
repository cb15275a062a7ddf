"""Who owns a run, and whether that owner is provably gone.

Every resource of a run carries its owner's identity as labels: the host name, the kernel's
boot id, the owner's PID namespace, its pid *inside that namespace*, and the process start
time (clock ticks since boot, from ``/proc/PID/stat``). ``envctl gc`` removes a run only
when the owner is provably gone:

- same boot id (the same running kernel, whatever the host name or container), and
- the owner's namespace is visible from here (ours, one below ours, or we are in the
  initial namespace and see every process), and
- no process of that namespace has that pid with that start time (a reused pid has
  another start time).

Anything that cannot be checked from here — another machine sharing the daemon, a
reboot, a namespace we cannot see into, a run labelled by an older envctl — is kept:
only an explicit age (``gc --older-than``) or ``envctl down`` removes it. So one user's
``envctl up`` (which collects first) never removes a neighbour's live environment, and a
SIGKILLed run is still collected by anyone who can see that its owner is gone.

The probe reads ``/proc``; it is a small seam (:class:`ProcessTable`) so the decision is
tested without processes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envctl.runtime.base import (
    LABEL_OWNER_BOOT,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_PIDNS,
    LABEL_OWNER_START,
)

INIT_PIDNS = "4026531836"
"""The inode of the kernel's initial PID namespace (PROC_PID_INIT_INO, fixed by Linux)."""

_PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _pidns_of(proc_dir: Path) -> str | None:
    """The inode of a process's PID namespace (``pid:[4026531836]`` -> ``4026531836``)."""
    try:
        link = os.readlink(proc_dir / "ns" / "pid")
    except OSError:
        return None
    return link.partition("[")[2].rstrip("]") or None


def _start_time(proc_dir: Path) -> str | None:
    """Field 22 of ``/proc/PID/stat``: when the process started, in ticks since boot."""
    stat = _read(proc_dir / "stat")
    if stat is None:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def _ns_pids(proc_dir: Path) -> list[str]:
    """A process's pids from this /proc's namespace down to its own (``NSpid``)."""
    status = _read(proc_dir / "status")
    for line in (status or "").splitlines():
        if line.startswith("NSpid:"):
            return line.split()[1:]
    return []


def boot_id() -> str:
    return (_read(_PROC / "sys" / "kernel" / "random" / "boot_id") or "").strip()


def owner_labels() -> dict[str, str]:
    """The labels that say this process owns a run (empty values where /proc is absent)."""
    me = _PROC / "self"
    values = {
        LABEL_OWNER_HOST: socket.gethostname(),
        LABEL_OWNER_PID: str(os.getpid()),
        LABEL_OWNER_BOOT: boot_id(),
        LABEL_OWNER_PIDNS: _pidns_of(me) or "",
        LABEL_OWNER_START: _start_time(me) or "",
    }
    return {k: v for k, v in values.items() if v}


@dataclass
class ProcessTable:
    """What this process can see of the machine's processes (read lazily, once)."""

    boot: str = field(default_factory=boot_id)
    pidns: str = field(default_factory=lambda: _pidns_of(_PROC / "self") or "")
    _index: dict[tuple[str, str], str] | None = None
    _namespaces: set[str] = field(default_factory=set)
    _complete: bool = True

    def _scan(self) -> dict[tuple[str, str], str]:
        if self._index is None:
            self._index = {}
            for entry in _PROC.iterdir():
                if not entry.name.isdigit():
                    continue
                ns, pids = _pidns_of(entry), _ns_pids(entry)
                if ns is None and len(pids) == 1:
                    ns = self.pidns  # not ours to inspect, but its only pid is in our namespace
                if ns is None:
                    if entry.exists():  # there, but not ours to read: its namespace is unknown
                        self._complete = False
                    continue
                pid, start = (pids[-1] if pids else None), _start_time(entry)
                self._namespaces.add(ns)
                if pid is not None and start is not None:
                    self._index[(ns, pid)] = start
        return self._index

    def start_of(self, pidns: str, pid: str) -> str | None:
        """The start time of process ``pid`` of namespace ``pidns``; None when there is none."""
        if pidns == self.pidns:
            return _start_time(_PROC / pid)
        return self._scan().get((pidns, pid))

    def sees_namespace(self, pidns: str) -> bool:
        """Whether a missing process of ``pidns`` proves the owner is gone."""
        if pidns == self.pidns:
            return True
        self._scan()
        if pidns in self._namespaces:
            return True
        # In the initial namespace every process on the kernel is visible: a namespace
        # with no process left is gone (provided we could read every process's namespace).
        return self.pidns == INIT_PIDNS and self._complete


def owner_gone(labels: Mapping[str, str], table: ProcessTable) -> tuple[bool | None, str]:
    """Whether the owner named by ``labels`` is gone: True (and why), None when it cannot
    be told from here (and why), False when it is alive."""
    pid = labels.get(LABEL_OWNER_PID, "")
    host = labels.get(LABEL_OWNER_HOST, "?")
    boot, pidns = labels.get(LABEL_OWNER_BOOT, ""), labels.get(LABEL_OWNER_PIDNS, "")
    start = labels.get(LABEL_OWNER_START, "")
    if not (pid.isdigit() and boot and pidns and start):
        return None, f"owner {host}:{pid or '?'} is not recorded checkably (an older envctl)"
    if not table.boot or boot != table.boot:
        return None, f"owner process {pid} on {host} runs on another machine or boot"
    found = table.start_of(pidns, pid)
    if found == start:
        return False, f"owner process {pid} on {host} is alive"
    if found is not None:
        return True, f"owner process {pid} on {host} is gone (its pid now belongs to another)"
    if table.sees_namespace(pidns):
        return True, f"owner process {pid} on {host} is gone"
    return None, f"owner process {pid} on {host} is in a PID namespace not visible from here"
