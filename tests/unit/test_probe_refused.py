"""A probe that the service refuses ends the readiness wait at once (no waiting out the timeout)."""

from __future__ import annotations

from typing import Any

import pytest

from envctl.engine import NotReady, probe_until_ready
from envctl.services.base import ProbeFailed, ProbeRefused, ServiceHandle


class _Plugin:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.attempts = 0

    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        self.attempts += 1
        raise self.error


def test_refused_probe_ends_the_wait_at_once() -> None:
    plugin: Any = _Plugin(ProbeRefused("access denied for user 'app'"))
    with pytest.raises(NotReady) as caught:
        probe_until_ready(plugin, ServiceHandle("db", {}), timeout=60)
    assert plugin.attempts == 1  # not retried until the 60 s timeout
    assert "refused" in caught.value.reason
    assert "access denied for user 'app'" in caught.value.reason


def test_failed_probe_is_retried() -> None:
    plugin: Any = _Plugin(ProbeFailed("connection refused"))
    with pytest.raises(NotReady) as caught:
        probe_until_ready(plugin, ServiceHandle("db", {}), timeout=0.3)
    assert plugin.attempts > 1
    assert "connection refused" in caught.value.reason
