"""Helpers for integration tests: run the CLI as a user would, list envctl's resources."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
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
NATIVE_DIR = Path(tempfile.gettempdir()) / f"envctl-test-native-{SESSION_LABEL[-12:]}"
"""ENVCTL_NATIVE_DIR of this test process: where its native processes keep their records and
homes (and the cached PostgreSQL cluster, in ``cache/``)."""


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
    return found + native_resources(run_id)


def native_resources(run_id: str | None = None) -> list[str]:
    """This session's native processes (``container NAME``, a record while its process or home
    may live), markers (``volume NAME``), and any home left without a record (``data dir``).
    A live process or a leftover data dir is a leak, as a container is."""
    if not NATIVE_DIR.is_dir():
        return []
    key, _, value = SESSION_LABEL.partition("=")
    found = []
    recorded = set()
    for path in sorted(NATIVE_DIR.glob("*.json")):
        record = json.loads(path.read_text())
        recorded.add(record["name"])
        labels = record.get("labels", {})
        if labels.get("io.envctl.managed") != "true":
            continue
        if (labels.get("io.envctl.run-id") != run_id) if run_id else (labels.get(key) != value):
            continue
        kind = "container" if record["kind"] == "container" else "volume"
        found.append(f"{kind} {record['name']}")
    for home in sorted(p for p in NATIVE_DIR.iterdir() if p.is_dir() and p.name != "cache"):
        if home.name not in recorded and (run_id is None or home.name.endswith(run_id)):
            found.append(f"data dir {home}")
    return found


def remove_with_volumes(client: Any, container: Any) -> None:
    """Remove a container a test started itself (not through envctl), with its anonymous
    volumes, and assert none is left. The postgres, redis and mysql test images declare a
    ``VOLUME``: ``remove(force=True)`` without ``v=True`` leaves an unlabelled volume behind
    that no envctl label finds (issue 10 §7)."""
    import docker.errors

    container.reload()
    anonymous = [m["Name"] for m in container.attrs.get("Mounts", []) if m.get("Type") == "volume"]
    container.remove(force=True, v=True)
    left = []
    for name in anonymous:
        try:
            client.volumes.get(name)
        except docker.errors.NotFound:
            continue
        left.append(name)
    assert not left, f"anonymous volumes of {container.name} left behind: {left}"


def pid_alive(pid: int) -> bool:
    """The process runs (a zombie waiting for its parent to reap it does not)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def up_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, f"envctl up failed: {result.stderr}"
    return json.loads(result.stdout)  # type: ignore[no-any-return]
