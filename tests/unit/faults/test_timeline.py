"""The fault timeline and the injector against a fake runtime: starts, ends, journal."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from envctl.faults.inject import FaultInjector, FaultUnavailable, ServiceTarget, replay_journal
from envctl.faults.journal import Journal
from envctl.faults.models import FaultSpec
from envctl.faults.recover import revert_orphans
from envctl.faults.timeline import FaultTimeline
from envctl.owner import owner_labels
from envctl.runtime.base import LABEL_OWNER_PID, ContainerFaultState, ManagedResource


class FakeRuntime:
    """Just enough of a runtime with container control, recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.status = "running"
        self.networks: list[str] = ["net"]
        self.limits = (0, 0, 0)
        self.changed = threading.Event()

    def describe(self) -> str:
        return "fake"

    def fault_state(self, name: str) -> ContainerFaultState:
        return ContainerFaultState(
            self.status, tuple(self.networks), *self.limits, ports={"6379/tcp": 1234}
        )

    def _call(self, *call: str) -> None:
        self.calls.append(call)
        self.changed.set()

    def pause(self, name: str) -> None:
        self._call("pause", name)
        self.status = "paused"

    def unpause(self, name: str) -> None:
        self._call("unpause", name)
        self.status = "running"

    def kill(self, name: str, signal: str = "SIGKILL") -> None:
        self._call("kill", name, signal)
        self.status = "exited"

    def stop(self, name: str, timeout: float = 10.0) -> None:
        self._call("stop", name)
        self.status = "exited"

    def start(self, name: str) -> None:
        self._call("start", name)
        self.status = "running"

    def disconnect_network(self, name: str, network: str) -> None:
        self._call("disconnect", name, network)
        self.networks.remove(network)

    def connect_network(self, name: str, network: str, aliases: Sequence[str]) -> None:
        self._call("connect", name, network, *aliases)
        self.networks.append(network)

    def update_limits(
        self,
        name: str,
        *,
        nano_cpus: int | None = None,
        memory: int | None = None,
        memory_swap: int | None = None,
    ) -> None:
        self._call("limits", name, str(nano_cpus), str(memory))
        cpus, mem, swap = self.limits
        self.limits = (
            cpus if nano_cpus is None else nano_cpus,
            mem if memory is None else memory,
            swap if memory is None else (memory_swap or 0),
        )

    def wait_removed(self, name: str) -> None:
        return None

    def host_capacity(self) -> tuple[int, int]:
        return 2_000_000_000, 1 << 30

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        self._call("create_network", name)

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        return [ManagedResource("network", "id", "c-isolated", {})]

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        self._call("remove", *(r.name for r in resources))
        return []


def fault(**body: Any) -> FaultSpec:
    return FaultSpec.model_validate({"service": "redis", **body})


def injector(tmp_path: Path, runtime: FakeRuntime, events: list[dict[str, Any]]) -> FaultInjector:
    target = ServiceTarget("redis", container="c", network="net", aliases=["redis"])

    def event(kind: str, **fields: Any) -> None:
        events.append({"event": kind, **fields})

    return FaultInjector(runtime, {"redis": target}, Journal(tmp_path, "run1"), event)  # type: ignore[arg-type]


def test_step_triggers_and_until(tmp_path: Path) -> None:
    runtime, events = FakeRuntime(), []
    inj = injector(tmp_path, runtime, events)
    timeline = FaultTimeline(
        [
            fault(kind="pause", at={"step": "b"}, until={"step": "c"}),
            fault(kind="cpu", cpus=0.5, after={"step": "a"}),
        ],
        inj,
    )
    timeline.begin()
    timeline.before_step("a")
    assert runtime.calls == []
    timeline.after_step("a")
    assert runtime.calls == [("limits", "c", "500000000", "None")]
    timeline.before_step("b")
    assert runtime.status == "paused"
    assert len(Journal(tmp_path, "run1").entries()) == 2
    timeline.before_step("c")
    assert runtime.status == "running"
    assert timeline.end("the steps ended") == []
    assert runtime.limits == (0, 0, 0)
    assert Journal(tmp_path, "run1").entries() == {}
    kinds = [e["event"] for e in events]
    assert kinds.count("fault.start") == 2 and kinds.count("fault.end") == 2


def test_timed_start_and_duration_end_on_the_scheduler(tmp_path: Path) -> None:
    runtime, events = FakeRuntime(), []
    inj = injector(tmp_path, runtime, events)
    ended = threading.Event()

    def event(kind: str, **fields: Any) -> None:
        events.append({"event": kind, **fields})
        if kind == "fault.end":
            ended.set()

    inj.event = event
    timeline = FaultTimeline([fault(kind="pause", at=0.01, duration=0.05)], inj)
    timeline.begin()
    assert ended.wait(10)
    assert [c[0] for c in runtime.calls] == ["pause", "unpause"]
    assert timeline.end("done") == []
    assert events[-1]["reason"] == "duration 0.05s ended"


def test_end_reverts_what_is_active_and_restart_is_back_at_once(tmp_path: Path) -> None:
    runtime, events = FakeRuntime(), []
    timeline = FaultTimeline(
        [fault(kind="restart"), fault(kind="partition")], injector(tmp_path, runtime, events)
    )
    timeline.begin()
    assert [c[0] for c in runtime.calls] == ["stop", "start", "disconnect"]
    timeline.end("a step failed")
    assert runtime.calls[-1] == ("connect", "c", "net", "redis")
    assert runtime.networks == ["net"]


def test_partition_from_the_network_uses_an_isolation_network(tmp_path: Path) -> None:
    runtime, events = FakeRuntime(), []
    inj = injector(tmp_path, runtime, events)
    inj.apply("p", fault(kind="partition", **{"from": "network"}), "test")
    assert runtime.networks == ["c-isolated"]
    inj.revert("p", "test")
    assert runtime.networks == ["net"]
    assert ("remove", "c-isolated") in runtime.calls


def test_a_proxy_fault_without_a_proxy_says_how_to_get_one(tmp_path: Path) -> None:
    inj = injector(tmp_path, FakeRuntime(), [])
    with pytest.raises(FaultUnavailable, match="--fault-proxy redis"):
        inj.apply("l", fault(kind="latency", delay=0.1), "test")
    assert Journal(tmp_path, "run1").entries() == {}


def test_a_fault_that_cannot_apply_is_an_error_of_the_run(tmp_path: Path) -> None:
    timeline = FaultTimeline(
        [fault(kind="latency", delay=0.1)], injector(tmp_path, FakeRuntime(), [])
    )
    timeline.begin()
    errors = timeline.end("done")
    assert len(errors) == 1 and "no fault proxy" in errors[0]


def test_a_killed_owner_journal_is_replayed(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    inj = injector(tmp_path / "runs" / "run1", runtime, [])
    inj.apply("k", fault(kind="pause"), "test")
    inj.apply("m", fault(kind="memory", memory="64m"), "test")
    journal = Journal(tmp_path / "runs" / "run1", "run1")
    gone = {**owner_labels(), LABEL_OWNER_PID: str(2**22 + 7)}  # a pid that does not exist
    journal.update("k", owner=gone)
    done, errors = revert_orphans(tmp_path / "runs", runtime)  # type: ignore[arg-type]
    assert errors == [] and done == ["run run1: reverted pause of redis"]
    assert runtime.status == "running"
    assert list(journal.entries()) == ["m"]  # its owner (this process) is alive
    assert replay_journal(runtime, journal) == []  # type: ignore[arg-type]
    assert runtime.limits == (0, 0, 0)
    assert not journal.path.exists()


def test_overlapping_cpu_and_memory_faults_restore_their_own_resource(tmp_path: Path) -> None:
    runtime = FakeRuntime()
    inj = injector(tmp_path, runtime, [])
    inj.apply("c", fault(kind="cpu", cpus=0.5), "test")
    inj.apply("m", fault(kind="memory", memory="64m"), "test")
    assert runtime.limits == (500_000_000, 64 << 20, 64 << 20)
    inj.revert("c", "test")
    assert runtime.limits == (0, 64 << 20, 64 << 20)
    inj.revert("m", "test")
    assert runtime.limits == (0, 0, 0)
