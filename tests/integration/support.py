"""Helpers for integration tests: run the CLI as a user would, list envctl's resources."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
    "ENVCTL_IMAGE_MYSQL": "envctl-test/mysql:mariadb-10.11",
}
BASE_IMAGE = "envctl-test/debian-base:bookworm"
MANAGED = "io.envctl.managed=true"
SESSION_LABEL = f"envctl-test.session={uuid.uuid4().hex[:12]}"
"""Put on everything this test process makes (through ENVCTL_LABELS), so leak checks see
only this session's resources even when other runs share the daemon."""


def run_envctl(
    *args: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the envctl CLI in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "envctl", *args],
        env=dict(env),
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def managed_resources(client: Any, run_id: str | None = None) -> list[str]:
    """Names of the envctl-labelled containers, networks and volumes of one run, or of
    this test session when no run is named."""
    labels = [MANAGED, f"io.envctl.run-id={run_id}" if run_id else SESSION_LABEL]
    # sparse: no inspect per container, so one removed meanwhile cannot fail the listing
    found = [
        f"container {c.attrs['Names'][0].lstrip('/')}"
        for c in client.containers.list(all=True, sparse=True, filters={"label": labels})
    ]
    found += [f"network {n.name}" for n in client.networks.list(filters={"label": labels})]
    found += [f"volume {v.name}" for v in client.volumes.list(filters={"label": labels})]
    return found


def up_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"envctl up failed: {result.stderr}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]
