"""Run ownership: a run is collected only when its owner is provably gone (issue 10, §3)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from envctl.gc import judge
from envctl.owner import INIT_PIDNS, ProcessTable, _pidns_of, _start_time, owner_gone, owner_labels
from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_OWNER_BOOT,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_OWNER_PIDNS,
    LABEL_OWNER_START,
    LABEL_RUN_ID,
    LABEL_SCENARIO,
    ManagedResource,
)

linux_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


@dataclass
class FakeTable(ProcessTable):
    """A process table given as data: (pidns, pid) -> start time."""

    processes: dict[tuple[str, str], str] = field(default_factory=dict)
    everything_visible: bool = False

    def start_of(self, pidns: str, pid: str) -> str | None:
        return self.processes.get((pidns, pid))

    def sees_namespace(self, pidns: str) -> bool:
        return self.everything_visible or any(ns == pidns for ns, _ in self.processes)


def labels(
    pid: str = "42", pidns: str = "111", start: str = "1000", boot: str = "B"
) -> dict[str, str]:
    return {
        LABEL_OWNER_HOST: "box",
        LABEL_OWNER_PID: pid,
        LABEL_OWNER_PIDNS: pidns,
        LABEL_OWNER_START: start,
        LABEL_OWNER_BOOT: boot,
    }


def table(**kwargs: object) -> FakeTable:
    return FakeTable(boot="B", pidns=INIT_PIDNS, **kwargs)  # type: ignore[arg-type]


def test_alive_owner_in_another_namespace_is_alive() -> None:
    gone, why = owner_gone(labels(), table(processes={("111", "42"): "1000"}))
    assert gone is False, why


def test_reused_pid_is_gone() -> None:
    gone, why = owner_gone(labels(), table(processes={("111", "42"): "2000"}))
    assert gone is True
    assert "another" in why


def test_missing_pid_in_a_visible_namespace_is_gone() -> None:
    gone, _ = owner_gone(labels(), table(processes={("111", "7"): "1"}))
    assert gone is True


def test_namespace_not_visible_from_here_is_kept() -> None:
    gone, why = owner_gone(labels(), table())
    assert gone is None
    assert "not visible from here" in why


def test_namespace_gone_seen_from_the_initial_namespace_is_gone() -> None:
    gone, _ = owner_gone(labels(), table(everything_visible=True))
    assert gone is True


def test_another_boot_or_machine_is_kept() -> None:
    gone, why = owner_gone(labels(boot="OTHER"), table(everything_visible=True))
    assert gone is None
    assert "another machine" in why


def test_labels_of_an_older_envctl_are_kept() -> None:
    old = {LABEL_OWNER_HOST: "box", LABEL_OWNER_PID: "42"}
    gone, why = owner_gone(old, table(everything_visible=True))
    assert gone is None
    assert "older envctl" in why


def resource(run_id: str, owner: dict[str, str], created: datetime) -> ManagedResource:
    return ManagedResource(
        "container",
        run_id,
        f"c-{run_id}",
        {
            **owner,
            LABEL_RUN_ID: run_id,
            LABEL_SCENARIO: "s",
            LABEL_CREATED: created.isoformat(timespec="seconds"),
        },
    )


def test_judge_collects_only_provably_dead_owners() -> None:
    now = datetime.now(UTC)
    processes = {("111", "42"): "1000"}
    verdicts = judge(
        [
            resource("live", labels(), now),
            resource("dead", labels(pid="43"), now),
            resource("unknown", labels(pidns="999"), now),
        ],
        processes=table(processes=processes),
    )
    by_id = {v.run_id: v for v in verdicts}
    assert by_id["live"].reason is None and by_id["live"].kept_because is None
    assert by_id["dead"].reason and "gone" in by_id["dead"].reason
    assert by_id["unknown"].reason is None
    assert by_id["unknown"].kept_because and "not visible" in by_id["unknown"].kept_because


@linux_proc
def test_real_process_table_alive_then_gone() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        proc = Path(f"/proc/{child.pid}")
        owner = {
            **owner_labels(),
            LABEL_OWNER_PID: str(child.pid),
            LABEL_OWNER_START: _start_time(proc) or "",
        }
        assert owner_gone(owner, ProcessTable())[0] is False
        reused = {**owner, LABEL_OWNER_START: str(int(owner[LABEL_OWNER_START]) + 1)}
        assert owner_gone(reused, ProcessTable())[0] is True
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=30)
    assert owner_gone(owner, ProcessTable())[0] is True


@linux_proc
def test_owner_labels_name_this_process() -> None:
    mine = owner_labels()
    assert mine[LABEL_OWNER_PID] == str(os.getpid())
    assert mine[LABEL_OWNER_PIDNS] == _pidns_of(Path("/proc/self"))
    assert mine[LABEL_OWNER_START] == _start_time(Path("/proc/self"))
    assert owner_gone(mine, ProcessTable())[0] is False
