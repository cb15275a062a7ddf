"""Fault models and their validation: lines, did-you-mean, consistency."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.faults.models import FaultSpec, seconds, size_bytes
from envctl.faults.plan import proxied_services
from envctl.scenario import load_scenario
from envctl.scenario.plan import plan_scenario


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "scenario_f.yaml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


BASE = """
name: f
external_services:
  redis: {type: redis}
  kafka: {type: kafka, topics: [orders]}
steps:
  - redis: {id: first, command: [SET, a, "1"]}
  - redis: {id: second, command: [GET, a]}
  - redis: {id: third, command: [GET, a]}
"""


@pytest.mark.parametrize(
    ("text", "value"),
    [(2, 2.0), ("2.5s", 2.5), ("500ms", 0.5), ("1m", 60.0), ("3", 3.0)],
)
def test_durations(text: object, value: float) -> None:
    assert seconds(text) == value


def test_sizes() -> None:
    assert size_bytes("64m") == 64 * 1024**2
    assert size_bytes("1GiB") == 1024**3
    assert size_bytes(100) == 100
    with pytest.raises(ValueError, match="not a size"):
        size_bytes("lots")


def test_a_valid_timeline_is_planned(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + """
faults:
  - {kind: latency, service: redis, delay: 200ms, jitter: 20ms, at: {step: second}, duration: 2s}
  - {kind: pause, service: redis, after: {step: first}, until: {step: third}}
  - {kind: restart, service: kafka, at: 1.5s}
""",
    )
    plan = plan_scenario(load_scenario(path, {}))
    latency, pause, restart = plan.faults
    assert (latency.delay, latency.jitter, latency.duration) == (0.2, 0.02, 2.0)
    assert latency.needs_proxy and not pause.needs_proxy
    assert restart.at == 1.5
    assert proxied_services(load_scenario(path, {})) == {"redis"}


def test_every_problem_has_its_line_and_a_hint(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        BASE
        + """
  - fault: {kind: pause, service: rediss, duration: 1s}
faults:
  - {kind: latency, service: redis, delay: 1s, at: {step: secnd}}
  - {kind: pause, service: kafak}
  - {kind: pause, service: redis, duratio: 2}
  - {kind: memory, service: redis, memory: 1m}
  - {kind: pause, service: redis, at: {step: third}, until: {step: first}}
  - {kind: pause, service: redis, at: 1s, after: {step: first}}
  - {kind: wobble, service: redis}
""",
    )
    with pytest.raises(ConfigError) as info:
        plan_scenario(load_scenario(path, {}))
    lines = str(info.value).splitlines()
    shown = str(path.name)
    assert any(
        f"{shown}:10: steps[3].fault.service: service 'rediss' is not defined — did you mean "
        "'redis'?" in line
        for line in lines
    ), lines
    expected = [
        ":12: faults[0].at.step: no step has id 'secnd' — did you mean 'second'?",
        ":13: faults[1].service: service 'kafak' is not defined — did you mean 'kafka'?",
        ":14: faults[2].duratio: unknown key — did you mean 'duration'?",
        ":15: faults[3]: a memory fault needs memory: of at least 6m",
        ":16: faults[4].until.step: step 'first' comes before the fault starts",
        ":17: faults[5]: give at: or after:, not both",
        ":18: faults[6].kind: Input should be",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), (fragment, lines)


def test_a_fault_step_cannot_have_a_trigger(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "  - fault: {kind: pause, service: redis, at: 1s}\n")
    with pytest.raises(ConfigError, match="a fault step applies its fault when it runs"):
        plan_scenario(load_scenario(path, {}))


def test_labels_and_dicts() -> None:
    fault = FaultSpec.model_validate(
        {"id": "down", "kind": "partition", "service": "db", "from": "host"}
    )
    assert fault.label == "'down' (partition of db)"
    assert fault.to_dict() == {"id": "down", "kind": "partition", "service": "db", "from": "host"}
    assert fault.needs_proxy
