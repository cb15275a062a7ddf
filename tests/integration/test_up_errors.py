"""Every way `envctl up` can fail: one line, no traceback, non-zero exit, nothing left behind."""

from __future__ import annotations

import json
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import run_envctl


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    return folder


def write(folder: Path, name: str, body: str) -> None:
    (folder / f"scenario_{name}.yaml").write_text(
        f"name: {name}\ndependency_mode: real\n" + textwrap.dedent(body)
    )


def assert_one_line_error(stderr: str, *fragments: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("envctl: error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr, stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_docker_unreachable(test_env: dict[str, str], no_leaks: None) -> None:
    # runtime docker: with auto, a missing daemon falls back to the native runtime
    env = {**test_env, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "ENVCTL_RUNTIME": "docker"}
    result = run_envctl("up", "--scenario", "kafka_real_basic", env=env)
    assert result.returncode == 1
    assert_one_line_error(
        result.stderr,
        "cannot reach the Docker daemon at unix:///nonexistent/docker.sock (from DOCKER_HOST)",
        "set DOCKER_HOST",
    )


def test_image_missing_names_image_and_override(test_env: dict[str, str], no_leaks: None) -> None:
    env = {
        **test_env,
        "ENVCTL_IMAGE_KAFKA": "envctl-test/no-such-image:1",
        "ENVCTL_RUNTIME": "docker",
    }
    result = run_envctl("up", "--scenario", "kafka_real_basic", env=env)
    assert result.returncode == 1
    assert_one_line_error(
        result.stderr,
        "image 'envctl-test/no-such-image:1' is not present locally",
        "ENVCTL_IMAGE_KAFKA",
    )
    assert "[kafka] failed" in result.stderr


def test_pinned_port_taken(
    test_env: dict[str, str], scenarios: Path, held_port: int, no_leaks: None
) -> None:
    write(
        scenarios,
        "pinned",
        f"""
        external_services:
          kafka:
            type: kafka
            ports: ["{held_port}:9092"]
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "pinned", env=test_env)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, f"127.0.0.1:{held_port}", "already in use")


def test_readiness_timeout_reports_probe_and_logs(
    test_env: dict[str, str], scenarios: Path, no_leaks: None
) -> None:
    # The broker listens on another port than the one published: it runs, never answers.
    write(
        scenarios,
        "deaf",
        """
        external_services:
          kafka:
            type: kafka
            env: {LISTENER_URL: "tcp://0.0.0.0:9999"}
        timeout_profiles:
          kafka: {health_check: 3}
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "deaf", env=test_env)
    assert result.returncode == 1
    line = assert_one_line_error(
        result.stderr,
        "service 'kafka' was not ready after 3.",
        "last probe: metadata request",
        "timeout_profiles.kafka.health_check",
        "last log lines:",
    )
    assert "tansu" in line  # the broker's own start-up line


def test_container_that_exits_fails_fast(
    test_env: dict[str, str], scenarios: Path, no_leaks: None
) -> None:
    write(
        scenarios,
        "crash",
        """
        external_services:
          kafka:
            type: kafka
            env: {STORAGE_ENGINE: "nonsense://"}
        timeout_profiles:
          kafka: {health_check: 60}
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "crash", env=test_env)
    assert result.returncode == 1
    line = assert_one_line_error(result.stderr, "container exited with code")
    waited = float(line.split("not ready after ")[1].split("s")[0])
    assert waited < 30, line


def test_invalid_scenario_exit_2(test_env: dict[str, str], scenarios: Path, no_leaks: None) -> None:
    write(
        scenarios,
        "broken",
        """
        external_services:
          kafka:
            type: kafka
            topcs: [orders]
          app:
            type: kafka
            depends_on: [kafak]
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "broken", env=test_env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    typo = "external_services.kafka.topcs: unknown key — did you mean 'topics'?"
    assert f"scenario_broken.yaml:7: {typo}" in result.stderr
    undefined = "service 'app' depends on 'kafak', which is not defined — did you mean 'kafka'?"
    assert f"external_services.app.depends_on[0]: {undefined}" in result.stderr


def test_failed_dependency_stops_dependents_and_cleans_up(
    test_env: dict[str, str], scenarios: Path, docker_client: Any, no_leaks: None
) -> None:
    write(
        scenarios,
        "chain",
        """
        external_services:
          first:
            type: kafka
            env: {LISTENER_URL: "tcp://0.0.0.0:9999"}
          second:
            type: kafka
            depends_on: [first]
        timeout_profiles:
          first: {health_check: 2}
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "chain", env=test_env)
    assert result.returncode == 1
    assert_one_line_error(result.stderr, "service 'first' was not ready")
    assert "[second] not started: 'first' failed" in result.stderr
    assert "[second] starting" not in result.stderr


def test_topic_creation_timeout_is_one_line_naming_the_advertised_address(
    test_env: dict[str, str], scenarios: Path, no_leaks: None
) -> None:
    """Issue 10 §4: a broker advertising an address the host cannot reach ended `run` in a
    raw TimeoutError traceback from the Kafka setup, with no outcome and nothing on --json."""
    write(
        scenarios,
        "unreachable_advertised",
        """
        external_services:
          kafka:
            type: kafka
            env: {ADVERTISED_LISTENER_URL: "tcp://127.0.0.1:1"}
            topics: [{name: orders}]
        timeout_profiles:
          kafka: {setup: 3}
        steps:
          - sleep: 0
        """,
    )
    args = ("--scenarios-dir", str(scenarios), "run", "-s", "unreachable_advertised")
    result = run_envctl(*args, env=test_env)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    line = next(x for x in result.stdout.splitlines() if "creating topic 'orders'" in x)
    assert "service 'kafka'" in line and "timed out after 3s" in line
    assert "advertises tcp://127.0.0.1:1" in line and "ADVERTISED_LISTENER_URL" in line
    data = json.loads(run_envctl(*args, "--json", env=test_env).stdout)
    assert data["status"] == "failed"
    assert "creating topic 'orders'" in data["reason"]


def test_a_bind_mount_of_the_host_root_is_refused_and_nothing_runs(
    test_env: dict[str, str], scenarios: Path, docker_client: Any, no_leaks: None
) -> None:
    """Issue 10 §3c: `volumes: ["/:/host"]` validated and ran, and the container wrote to
    the host. Host paths stay inside the project unless envctl.yaml allows more."""
    from support import BASE_IMAGE

    write(
        scenarios,
        "host_root",
        f"""
        external_services:
          app:
            type: generic
            image: {BASE_IMAGE}
            command: [sleep, infinity]
            volumes: ["/:/host"]
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "host_root", env=test_env)
    assert result.returncode == 2, result.stderr
    assert_one_line_error(result.stderr, "volume '/:/host'", "is outside the project")
    left = docker_client.containers.list(
        all=True, filters={"label": ["io.envctl.scenario=host_root"]}
    )
    assert left == []


def _foreign_image(client: Any, tag: str, architecture: str) -> None:
    """Load (no registry) an image whose entrypoint is an aarch64 ELF header and whose config
    says ``architecture``: the kernel of this amd64 engine refuses to run it."""
    import hashlib
    import io
    import struct
    import tarfile

    def tar(files: dict[str, tuple[bytes, int]]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as archive:
            for name, (data, mode) in files.items():
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), mode
                archive.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    elf = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian
    elf += struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    layer = tar({"app": (elf, 0o755)})
    diff_id = f"sha256:{hashlib.sha256(layer).hexdigest()}"
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Entrypoint": ["/app"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": ["layer/layer.tar"]}]
    archive = tar(
        {
            config_name: (config, 0o644),
            "layer/layer.tar": (layer, 0o644),
            "manifest.json": (json.dumps(manifest).encode(), 0o644),
        }
    )
    client.images.load(archive)


@pytest.fixture
def foreign_images(docker_client: Any) -> Iterator[dict[str, str]]:
    """``arm64``: an image built for arm64; ``mislabelled``: one that says amd64 but holds an
    arm64 program. Both removed afterwards."""
    import uuid

    if docker_client.info().get("Architecture") != "x86_64":
        pytest.skip("the foreign images are made for an amd64 engine")
    suffix = uuid.uuid4().hex[:8]
    images = {
        "arm64": f"envctl-test/foreign-arm64:{suffix}",
        "mislabelled": f"envctl-test/foreign-mislabelled:{suffix}",
    }
    _foreign_image(docker_client, images["arm64"], "arm64")
    _foreign_image(docker_client, images["mislabelled"], "amd64")
    yield images
    for image in images.values():
        docker_client.images.remove(image, force=True)


@pytest.mark.parametrize("kind", ["arm64", "mislabelled"])
def test_an_image_for_another_architecture_fails_at_once_naming_it(
    kind: str,
    test_env: dict[str, str],
    scenarios: Path,
    foreign_images: dict[str, str],
    no_leaks: None,
) -> None:
    """Issue 10 §4: an arm64 image on an amd64 engine exits at once with `exec format
    error`; envctl waited out the health check and blamed the timeout."""
    image = foreign_images[kind]
    write(
        scenarios,
        "foreign",
        f"""
        external_services:
          app:
            type: generic
            image: {image}
            probe: {{tcp: 8080}}
        timeout_profiles:
          app: {{health_check: 120}}
        """,
    )
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "foreign", env=test_env)
    assert result.returncode == 1, result.stderr
    line = assert_one_line_error(
        result.stderr,
        f"service 'app': image '{image}'",
        "exec format error",
        f"use a tag built for linux/amd64 (docker pull --platform linux/amd64 {image})",
        "ENVCTL_IMAGE_GENERIC",
    )
    assert "not ready after" not in line  # not blamed on the health check
    if kind == "arm64":
        assert "is built for linux/arm64 but the Docker engine runs linux/amd64" in line
        assert "it runs only if the engine emulates it" in result.stderr  # said before start
    else:
        assert "built for another architecture than the Docker engine's (linux/amd64)" in line
