"""run-all's progress (issue 10 §6): a live display on a terminal (scenarios running now,
done/total, outcomes so far) that stops cleanly, also on Ctrl-C, before the summary; one
line per scenario start and end when stderr is not a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from terminal import HIDE_CURSOR, envctl_env, run_in_terminal

SHOW_CURSOR = "\x1b[?25h"

GATE = '''
from __future__ import annotations

import os
import time
from typing import Any


def wait_for(ctx: Any, path: str, within: float = 120.0) -> dict[str, Any]:
    """Block until the test creates ``path`` (bounded by ``within``)."""
    deadline = time.monotonic() + within
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {within}s")
        time.sleep(0.02)
    return {}
'''


def _scenario(folder: Path, name: str, step: str) -> None:
    (folder / f"scenario_{name}.yaml").write_text(
        f"name: {name}\ndependency_mode: mock\n"
        "external_services:\n  cache: {type: redis}\n"
        f"steps:\n  - {step}\n"
    )


@pytest.fixture
def quick(tmp_path: Path) -> Path:
    """Two mock scenarios: one passes, one fails."""
    folder = tmp_path / "scenarios" / "unit"
    folder.mkdir(parents=True)
    _scenario(folder, "passes", "redis: {command: [SET, k, v]}")
    _scenario(folder, "fails", "redis: {command: [GET, missing], expect: something}")
    return tmp_path


def _run_all(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "envctl", "--scenarios-dir", "scenarios", "run-all", *args]


def test_on_a_terminal_run_all_shows_a_live_display_then_the_summary(quick: Path) -> None:
    run = run_in_terminal(_run_all(quick), env=envctl_env(), cwd=quick)
    assert run.returncode == 1, run.text  # one failed
    raw, text = run.raw, run.text
    assert HIDE_CURSOR in raw, text  # rich's live display ran...
    assert raw.rindex(SHOW_CURSOR) > raw.rindex(HIDE_CURSOR)  # ...and was stopped
    assert "running passes" in text or "running fails" in text
    assert "run-all 2/2 done  1 passed, 1 failed" in text
    assert "failed fails " in text  # said above the display as it ended
    assert "[0/2] start" not in text  # not the lines of a log
    summary = text[text.rindex("run-all 2/2 done") :]  # after the display's last picture
    assert "  passed  passes " in summary and "  failed  fails " in summary, text
    assert "1 passed, 1 failed in " in summary or "1 failed, 1 passed in " in summary, text


def test_without_a_terminal_run_all_prints_a_line_per_start_and_end(quick: Path) -> None:
    result = subprocess.run(
        _run_all(quick),
        cwd=quick,
        env=envctl_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert sum(line.startswith("[") and " start   " in line for line in lines) == 2
    assert any(line.startswith("[") and "] passed  passes " in line for line in lines)
    assert any(line.startswith("[") and "] failed  fails " in line for line in lines)
    assert "\x1b[" not in result.stderr
    assert "failed  fails" in result.stdout


def test_ctrl_c_stops_the_live_display_cleanly_and_summarises(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios" / "unit"
    folder.mkdir(parents=True)
    (folder / "gate_steps.py").write_text(GATE)
    release = tmp_path / "release"
    for name in ("gated_a", "gated_b", "gated_c"):
        _scenario(
            folder,
            name,
            f'call: {{function: "gate_steps:wait_for", args: {{path: "{release}"}}}}',
        )
    run = run_in_terminal(
        _run_all(tmp_path, "--parallel", "1"),
        env=envctl_env(),
        cwd=tmp_path,
        interrupt_on="running gated_",
        # the display says the interrupt landed: now let the running scenario end
        when={"interrupted: waiting for 1 running scenario": release.touch},
        timeout=60,
    )
    raw, text = run.raw, run.text
    assert run.returncode == 130, text
    assert raw.rindex(SHOW_CURSOR) > raw.rindex(HIDE_CURSOR), text  # the display stopped
    assert "run-all interrupted after " in text
    assert ": 1 of 3 scenarios finished (1 passed); 2 not started" in text, text
    assert text.rstrip().endswith("envctl: interrupted"), text
    started = {name for name in ("gated_a", "gated_b", "gated_c") if f"running {name}" in text}
    assert len(started) == 1, text  # the others never started
