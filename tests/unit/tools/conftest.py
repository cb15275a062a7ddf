"""Fixtures of the tools' unit tests: fresh mock state per test, no broker, no server."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from envctl.scenario import Scenario
from envctl.tools.errors import RequiresRegistryWarning

UNREACHABLE_KAFKA = "127.0.0.1:1"
UNREACHABLE_DSN = "postgresql://envctl:secret@127.0.0.1:1/envctl"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


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
