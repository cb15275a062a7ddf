"""Fixtures of the runner's unit tests: a scenarios tree in tmp_path, mock mode, no Docker."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.runner import Runner
from envctl.settings import Settings


def _no_docker() -> object:
    raise AssertionError("mock mode must not touch Docker")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "scenarios").mkdir(exist_ok=True)
    return Settings.load(environ={}, cwd=tmp_path)


@pytest.fixture
def runner(settings: Settings, tmp_path: Path) -> Runner:
    """A runner whose runtime fails the test if anything asks for Docker."""
    return Runner(settings, runtime_factory=_no_docker, runs_root=tmp_path / "runs")  # type: ignore[arg-type]


@pytest.fixture
def scenario_file(tmp_path: Path) -> Callable[[str, str], Path]:
    import textwrap

    def write(relpath: str, text: str) -> Path:
        path = tmp_path / "scenarios" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write
