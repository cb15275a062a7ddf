"""Fixtures of the tools' unit tests: fresh mock state per test, no broker, no server."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from envctl.scenario import Scenario
from envctl.tools.errors import RequiresRegistryWarning
from envctl.tools.mock import reset_mock_state

UNREACHABLE_KAFKA = "127.0.0.1:1"
UNREACHABLE_DSN = "postgresql://envctl:secret@127.0.0.1:1/envctl"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def namespace() -> Iterator[str]:
    """A namespace of mock state no other test uses; forgotten afterwards."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    reset_mock_state(name)


@pytest.fixture
def scenario() -> Callable[..., Scenario]:
    """A scenario model from a dict of services (and other top-level fields)."""

    def build(services: dict[str, Any], **fields: Any) -> Scenario:
        return Scenario.model_validate({"name": "tools", "external_services": services, **fields})

    return build


def quietly(factory: Callable[[], Any]) -> Any:
    """Build a real tool directly without its RequiresRegistryWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RequiresRegistryWarning)
        return factory()
