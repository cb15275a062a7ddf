"""Integration tests: a real Docker daemon, real clients, images built locally.

Without a reachable daemon these tests are skipped with the reason — unless
ENVCTL_REQUIRE_DOCKER=1 (CI), where they fail instead. The images come from
``scripts/build-test-images`` and reach envctl through ``ENVCTL_IMAGE_<TYPE>``, the same
override users have.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import (
    BASE_IMAGE,
    NATIVE_DIR,
    SESSION_LABEL,
    TEST_IMAGES,
    managed_resources,
    remove_with_volumes,
)


def _require_docker() -> bool:
    return os.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false")


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """The Docker SDK client; skip (or fail under ENVCTL_REQUIRE_DOCKER=1) without a daemon."""
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        reason = f"Docker daemon not reachable ({exc})"
        if _require_docker():
            pytest.fail(f"{reason}; ENVCTL_REQUIRE_DOCKER=1 makes this a failure")
        pytest.skip(f"{reason}; set ENVCTL_REQUIRE_DOCKER=1 to fail instead of skipping")
    missing = []
    for image in [*TEST_IMAGES.values(), BASE_IMAGE]:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        pytest.fail(f"test images missing: {', '.join(missing)}; run scripts/build-test-images")
    return client


@pytest.fixture(autouse=True)
def _needs_docker(docker_client: Any) -> None:
    """Every test in this folder needs the daemon."""


@pytest.fixture
def test_env(tmp_path: Path) -> dict[str, str]:
    """Environment for envctl subprocesses: local test images, a private working dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(TEST_IMAGES)
    env["ENVCTL_REQUIRE_DOCKER"] = os.environ.get("ENVCTL_REQUIRE_DOCKER", "")
    env["ENVCTL_LABELS"] = SESSION_LABEL
    env["ENVCTL_NATIVE_DIR"] = str(NATIVE_DIR)
    return env


@pytest.fixture(scope="session", autouse=True)
def _native_dir() -> Iterator[None]:
    """The session's native dir goes at the end (only its cache is left in it by then)."""
    import shutil

    yield
    shutil.rmtree(NATIVE_DIR, ignore_errors=True)


@pytest.fixture
def no_leaks(docker_client: Any) -> Iterator[None]:
    """Fail the test if it leaves any envctl-labelled resource it did not find there."""
    before = set(managed_resources(docker_client))
    yield
    leaked = sorted(set(managed_resources(docker_client)) - before)
    assert not leaked, f"leaked resources: {leaked}"


@pytest.fixture
def kcat_env(tmp_path: Path) -> dict[str, str]:
    """Environment for Debian's kcat, linked against a librdkafka that speaks to Tansu.

    Debian bookworm's librdkafka 2.0.2 fails the ApiVersions exchange with Tansu 0.6
    ("Read underflow"); the librdkafka that confluent-kafka's wheel bundles does not. The
    kcat binary is still Debian's, only its librdkafka is swapped.
    """
    import confluent_kafka

    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    bundled = sorted(libs.glob("librdkafka*.so*"))
    env = dict(os.environ)
    if bundled:
        link_dir = tmp_path / "rdkafka"
        link_dir.mkdir()
        (link_dir / "librdkafka.so.1").symlink_to(bundled[0])
        env["LD_LIBRARY_PATH"] = str(link_dir)
    return env


@pytest.fixture(scope="session")
def shared_servers(docker_client: Any) -> Iterator[dict[str, str]]:
    """A Kafka-compatible broker, a PostgreSQL and a Redis started here, outside envctl (as a
    team's shared servers would be): the addresses for ``ENVCTL_<SERVICE>_URL``. Removed at
    the end of the session; they carry no envctl label."""
    import socket
    import time
    import uuid

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    tag = uuid.uuid4().hex[:8]
    ports = {"kafka": free_port(), "postgres": free_port(), "redis": free_port()}
    specs = {
        "kafka": (
            TEST_IMAGES["ENVCTL_IMAGE_KAFKA"],
            9092,
            {
                "LISTENER_URL": "tcp://0.0.0.0:9092",
                "ADVERTISED_LISTENER_URL": f"tcp://127.0.0.1:{ports['kafka']}",
                "STORAGE_ENGINE": "memory://tansu/",
            },
        ),
        "postgres": (TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"], 5432, {"POSTGRES_PASSWORD": "shared"}),
        "redis": (TEST_IMAGES["ENVCTL_IMAGE_REDIS"], 6379, {}),
    }
    containers = []
    try:
        for kind, (image, port, environment) in specs.items():
            containers.append(
                docker_client.containers.run(
                    image,
                    name=f"envctl-test-shared-{kind}-{tag}",
                    environment=environment,
                    ports={f"{port}/tcp": ("127.0.0.1", ports[kind])},
                    labels={"envctl-test.shared": "true"},
                    detach=True,
                )
            )
        urls = {
            "kafka": f"127.0.0.1:{ports['kafka']}",
            "postgres": f"postgresql://postgres:shared@127.0.0.1:{ports['postgres']}/postgres",
            "redis": f"redis://127.0.0.1:{ports['redis']}/0",
        }
        _wait_for_shared(urls, time.monotonic() + 60)
        yield urls
    finally:
        for container in containers:
            remove_with_volumes(docker_client, container)


def _wait_for_shared(urls: dict[str, str], deadline: float) -> None:
    import time

    import psycopg
    import redis
    from confluent_kafka.admin import AdminClient

    checks = {
        "kafka": lambda: (
            AdminClient({"bootstrap.servers": urls["kafka"]}).list_topics(timeout=2).brokers
        ),
        "postgres": lambda: psycopg.connect(urls["postgres"], connect_timeout=2).close() or True,
        "redis": lambda: redis.Redis.from_url(urls["redis"], socket_timeout=2).ping(),
    }
    for kind, check in checks.items():
        while True:
            try:
                if check():
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the shared {kind} started for the tests did not come up")
            time.sleep(0.2)
