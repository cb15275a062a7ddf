"""The native runtime's process handling, with plain processes (no servers, no Docker)."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import psutil
import pytest

from envctl.retry import poll_until
from envctl.runtime.base import LABEL_MANAGED, LABEL_RUN_ID
from envctl.runtime.native import NativeRuntime, ProcessSpec

# A shell that forks a child into its process group and then blocks on a pipe that never
# delivers: a server with a worker, minus the server.
FORKING = ["sh", "-c", "tail -f /dev/null & exec tail -f /dev/null"]


def group_of(pgid: int) -> list[psutil.Process]:
    """The processes of a process group (one that exits meanwhile is left out)."""
    found = []
    for process in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError, psutil.Error):
            if os.getpgid(process.pid) == pgid:
                found.append(process)
    return found


@pytest.fixture
def runtime(tmp_path: Path) -> NativeRuntime:
    return NativeRuntime(tmp_path / "native", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})


def spec(name: str, run_id: str = "r1", argv: list[str] | None = None) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        labels={LABEL_MANAGED: "true", LABEL_RUN_ID: run_id},
        argv=argv or FORKING,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        exec_env={"GREETING": "hello"},
        prepare=lambda home: (home / "data" / "prepared").write_text("yes"),
    )


def test_a_process_is_recorded_listed_and_removed_with_its_group(runtime: NativeRuntime) -> None:
    process = runtime.run_process(spec("svc-a"))
    assert process.state() == ("running", None)
    assert (process.home / "data" / "prepared").read_text() == "yes"
    record = json.loads((runtime.root / "svc-a.json").read_text())
    assert record["pid"] == process.pid and record["boot_id"] and record["start_time"]
    # the shell forks its child while run_process returns: wait for it (bounded)
    assert poll_until(lambda: len(group_of(process.pid)) == 2, timeout=10)
    group = group_of(process.pid)

    (listed,) = runtime.list_managed({LABEL_RUN_ID: "r1"})
    assert (listed.kind, listed.name, listed.status) == ("container", "svc-a", "running")
    assert runtime.list_managed({LABEL_RUN_ID: "other"}) == []

    assert runtime.remove([listed]) == []
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in group)
    assert not process.home.exists() and not (runtime.root / "svc-a.json").exists()
    assert runtime.list_managed() == []
    assert runtime.remove([listed]) == []  # twice is fine


def test_exec_runs_beside_the_service_with_its_environment(runtime: NativeRuntime) -> None:
    process = runtime.run_process(spec("svc-b"))
    try:
        result = process.exec(["sh", "-c", 'echo "$GREETING from $TMPDIR" >&2; exit 3'])
        assert result.exit_code == 3
        assert result.output.strip() == f"hello from {process.home / 'tmp'}"
        assert process.exec(["no-such-program-here"]).exit_code == 127
    finally:
        runtime.remove(runtime.list_managed())


def test_the_log_holds_stdout_and_stderr(runtime: NativeRuntime) -> None:
    process = runtime.run_process(spec("svc-c", argv=["sh", "-c", "echo out; echo err >&2"]))
    try:
        psutil.Process(process.pid).wait(timeout=10)
        assert process.state()[0] == "exited"
        assert process.logs_tail() == ["out", "err"]
    finally:
        runtime.remove(runtime.list_managed())


def test_a_record_whose_process_is_gone_is_still_removed(
    runtime: NativeRuntime, tmp_path: Path
) -> None:
    """What another envctl (killed) left: a record and a home, no process of ours."""
    other = NativeRuntime(runtime.root, runtime.environ)
    process = other.run_process(spec("svc-d", argv=["true"]))
    psutil.Process(process.pid).wait(timeout=10)
    (listed,) = runtime.list_managed()
    assert listed.status == "exited"
    assert runtime.remove([listed]) == []
    assert list(runtime.root.iterdir()) == []


def test_markers_are_records_without_a_process(runtime: NativeRuntime) -> None:
    runtime.create_marker("run-marker", {LABEL_MANAGED: "true", LABEL_RUN_ID: "r9"})
    (marker,) = runtime.list_managed({LABEL_RUN_ID: "r9"})
    assert (marker.kind, marker.id) == ("volume", "native:run-marker")
    assert runtime.remove([marker]) == []
    assert runtime.list_managed() == []
