"""DOCKER_HOST naming another machine: refused before any connection, with what to do."""

from __future__ import annotations

import pytest

from envctl.errors import DockerUnavailable
from envctl.runtime.docker import DockerRuntime, remote_engine_host


@pytest.mark.parametrize(
    ("docker_host", "remote"),
    [
        (None, None),
        ("unix:///var/run/docker.sock", None),
        ("tcp://127.0.0.1:2375", None),  # a dind sidecar in the same pod
        ("tcp://127.0.0.2:2375", None),
        ("tcp://[::1]:2375", None),
        ("ssh://ci@localhost", None),
        ("tcp://docker:2375", "docker"),  # GitLab's dind service: another container
        ("ssh://ci@Engine.Example:2222", "engine.example"),
        ("https://engine.example:2376", "engine.example"),
    ],
)
def test_remote_engine_host(docker_host: str | None, remote: str | None) -> None:
    assert remote_engine_host(docker_host) == remote


def test_a_remote_engine_is_refused_before_connecting() -> None:
    # engine.invalid cannot resolve: reaching it at all would be a different error
    with pytest.raises(DockerUnavailable) as err:
        DockerRuntime.connect({"DOCKER_HOST": "ssh://ci@engine.invalid"})
    message = str(err.value)
    assert "is an engine on another machine (engine.invalid)" in message
    assert "ssh engine.invalid envctl run-all" in message
    assert "ENVCTL_REMOTE_ENGINE=forwarded" in message
    assert "\n" not in message
