"""Platforms of images and engines, and the one line a foreign binary fails with."""

from __future__ import annotations

import pytest

from envctl.runtime.platform import Platform, foreign_binary_reason, oci_architecture

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


@pytest.mark.parametrize(
    ("kernel", "oci"),
    [("x86_64", "amd64"), ("aarch64", "arm64"), ("armv7l", "arm"), ("amd64", "amd64"), ("", "")],
)
def test_kernel_architectures_become_oci_names(kernel: str, oci: str) -> None:
    assert oci_architecture(kernel) == oci


def test_runs_on_compares_os_and_architecture_and_assumes_unknowns_run() -> None:
    assert not ARM64.runs_on(AMD64)
    assert Platform("linux", "amd64", "v3").runs_on(AMD64)
    assert not Platform("windows", "amd64").runs_on(AMD64)
    assert Platform("", "").runs_on(AMD64)
    assert ARM64.runs_on(Platform("linux", ""))
    assert str(ARM64) == "linux/arm64/v8"


def test_foreign_binary_names_both_platforms_the_log_line_and_what_to_do() -> None:
    reason = foreign_binary_reason(
        "example/app:1", ARM64, AMD64, ["exec /app: exec format error"], "ENVCTL_IMAGE_GENERIC"
    )
    assert reason == (
        "image 'example/app:1' is built for linux/arm64/v8 but the Docker engine runs "
        "linux/amd64, and its container exited at once (exec /app: exec format error); use a "
        "tag built for linux/amd64 (docker pull --platform linux/amd64 example/app:1) or "
        "another image (the service's image:, or ENVCTL_IMAGE_GENERIC)"
    )


def test_a_mislabelled_image_is_named_as_such() -> None:
    old_runc = "standard_init_linux.go:228: exec user process caused: exec format error"
    reason = foreign_binary_reason("x:1", AMD64, AMD64, [old_runc], "H")
    assert reason is not None
    assert "holds a program built for another architecture than the Docker engine's" in reason
    assert "though the image says linux/amd64" in reason


def test_an_exit_without_exec_format_error_is_not_blamed_on_the_architecture() -> None:
    assert foreign_binary_reason("x:1", ARM64, AMD64, ["segfault"], "H") is None
