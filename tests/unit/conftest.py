"""Shared fixtures of the unit tests: no Docker, no network, no state outside ``tmp_path``."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.scenario import Scenario, load_scenario
from envctl.tools.mock import reset_mock_state

REPO_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SCENARIOS = REPO_ROOT / "scenarios"

WriteScenario = Callable[..., Path]


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ENVCTL_* variable of the machine running the tests leaks into a test."""
    for key in list(os.environ):
        if key.startswith("ENVCTL_"):
            monkeypatch.delenv(key)
    yield


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace of mock state no other test uses; forgotten afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    reset_mock_state(name)


@pytest.fixture
def shipped_scenarios() -> Path:
    """The repository's own ``scenarios/`` tree."""
    return SHIPPED_SCENARIOS


@pytest.fixture
def write_scenario(tmp_path: Path) -> WriteScenario:
    """Write ``text`` (dedented, leading newline dropped) to ``tmp_path / relpath``.

    Returns the path written. Parent folders are created as needed.
    """

    def write(relpath: str, text: str) -> Path:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load_text(write_scenario: WriteScenario) -> Callable[..., Scenario]:
    """Write a scenario and load it with an explicit environment (empty by default)."""

    def load(text: str, environ: dict[str, str] | None = None, name: str = "s.yaml") -> Scenario:
        return load_scenario(write_scenario(name, text), environ or {})

    return load


@pytest.fixture
def problems_of(write_scenario: WriteScenario) -> Callable[..., list[str]]:
    """Write a broken scenario, load it, return every problem line (the load must fail)."""

    def problems(
        text: str, environ: dict[str, str] | None = None, name: str = "s.yaml"
    ) -> list[str]:
        path = write_scenario(name, text)
        with pytest.raises(ConfigError) as info:
            load_scenario(path, environ or {})
        lines = str(info.value).splitlines()
        assert len(lines) == len(info.value.problems)
        return lines

    return problems
