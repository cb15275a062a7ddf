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


@pytest.mark.parametrize(
    ("reason", "refused"),
    [
        ('FATAL:  password authentication failed for user "app"', True),
        ('FATAL:  database "shop" does not exist', True),
        ('FATAL:  role "app" does not exist', True),
        ("connection refused", False),
        ("the database system is starting up", False),
    ],
)
def test_postgres_names_a_refused_login_as_refused(
    reason: str, refused: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """Issue 10 §4: a wrong POSTGRES_PASSWORD waited the full health_check (60 s); the probe
    must tell a login the server refused (final) from a server not answering yet (retried)."""
    import psycopg

    from envctl.scenario.timeouts import PhaseTimeouts
    from envctl.services.base import ServiceContext
    from envctl.services.registry import plugin_for

    def connect(*_args: Any, **_kwargs: Any) -> Any:
        raise psycopg.OperationalError(reason)

    monkeypatch.setattr(psycopg, "connect", connect)
    plugin_class = plugin_for("postgres")
    context = ServiceContext("ab12cd34", "s", "db", "db", PhaseTimeouts(), scenario_dir=tmp_path)
    plugin = plugin_class(plugin_class.spec_model.model_validate({"type": "postgres"}), context)
    handle = ServiceHandle("db", {"dsn": "postgresql://app@127.0.0.1:1/shop"})
    with pytest.raises(ProbeFailed) as caught:
        plugin.probe(handle, 1.0)
    assert isinstance(caught.value, ProbeRefused) is refused, caught.value
    assert reason.split(":", 1)[-1].strip() in str(caught.value)
