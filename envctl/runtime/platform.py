"""Platforms (``linux/amd64``) of images and engines, and what a foreign binary looks like.

An image built for another architecture than the engine's (an ``arm64`` image on an
``amd64`` daemon) starts, and its container exits at once with ``exec format error`` —
unless the engine emulates that architecture (Docker Desktop runs ``amd64`` images on Apple
silicon; binfmt/QEMU does the same on Linux). A mismatch alone is therefore not an error:
envctl starts the container and, when it exits with that error, says why in one line::

    service 'app': image 'example/app:1' is built for linux/arm64 but the Docker engine runs
    linux/amd64, and its container exited at once (exec /app: exec format error); use a tag
    built for linux/amd64 (docker pull --platform linux/amd64 example/app:1) or another image
    (the service's image:, or ENVCTL_IMAGE_GENERIC)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ARCHITECTURES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armv8": "arm64",
    "armv7l": "arm",
    "armhf": "arm",
    "i386": "386",
    "i686": "386",
}
"""Kernel (``uname -m``, what ``docker info`` reports) -> OCI architecture names."""

EXEC_FORMAT_ERROR = "exec format error"
"""What runc logs when the kernel cannot run the entrypoint (a foreign architecture)."""


def oci_architecture(name: str) -> str:
    """``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64``; OCI names and unknowns as they are."""
    lowered = name.strip().lower()
    return ARCHITECTURES.get(lowered, lowered)


@dataclass(frozen=True)
class Platform:
    """An OS and CPU architecture in OCI words; an empty architecture means unknown."""

    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os or "linux", self.architecture or "unknown"]
        return "/".join(parts + ([self.variant] if self.variant else []))

    def runs_on(self, engine: Platform) -> bool:
        """Whether binaries of this platform run natively on ``engine`` (unknown: assumed)."""
        if not self.architecture or not engine.architecture:
            return True
        same_os = not self.os or not engine.os or self.os == engine.os
        return same_os and self.architecture == engine.architecture


def foreign_binary_reason(
    image: str,
    image_platform: Platform | None,
    engine: Platform | None,
    log_tail: Sequence[str],
    override_hint: str,
) -> str | None:
    """Why a container of ``image`` that exited could not run, when its log says the kernel
    refused the entrypoint's format (None otherwise): the image's platform against the
    engine's, the log line, and what to do. One line."""
    refused = next((line.strip() for line in log_tail if EXEC_FORMAT_ERROR in line), None)
    if refused is None:
        return None
    known = engine is not None and bool(engine.architecture)
    target = str(engine) if known else "the engine's platform"
    pull = f" (docker pull --platform {target} {image})" if known else ""
    if image_platform is not None and engine is not None and not image_platform.runs_on(engine):
        what = f"image '{image}' is built for {image_platform} but the Docker engine runs {engine}"
    else:
        what = (
            f"image '{image}' holds a program built for another architecture than the Docker "
            f"engine's ({target}), though the image says {image_platform or 'nothing'}"
        )
    return (
        f"{what}, and its container exited at once ({refused}); use a tag built for "
        f"{target}{pull} or another image (the service's image:, or {override_hint})"
    )
