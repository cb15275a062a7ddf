"""Docker and the native runtime behind the one :class:`~envctl.runtime.base.Runtime` seam.

Commands that look at what envctl made (``status``, ``down``, ``gc``, cleanup) see the
union of both: native processes are listed from their records, containers from Docker's
labels. Docker is reached only when something needs it; a missing daemon then hides only
containers (``docker_error`` says why), never native processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from envctl.errors import DockerUnavailable
from envctl.runtime.base import LABEL_DETACHED, ContainerHandle, ContainerSpec, ManagedResource
from envctl.runtime.native import ID_PREFIX, NativeProcess, NativeRuntime, ProcessSpec

if TYPE_CHECKING:
    from envctl.runtime.base import Runtime
    from envctl.runtime.platform import Platform
    from envctl.settings import Settings


class Runtimes:
    """A Runtime whose containers run in Docker and whose processes run natively."""

    def __init__(self, native: NativeRuntime, docker_factory: Callable[[], Runtime]) -> None:
        self.native = native
        self._docker_factory = docker_factory
        self._docker: Runtime | None = None
        self.docker_error: DockerUnavailable | None = None
        self.docker_used = False
        """A container, network or volume was made in Docker by this instance."""

    @classmethod
    def for_settings(
        cls, settings: Settings, docker_factory: Callable[[], Runtime] | None = None
    ) -> Runtimes:
        if docker_factory is None:

            def docker_factory() -> Runtime:
                from envctl.runtime.docker import DockerRuntime

                return DockerRuntime.connect(settings.environ)

        return cls(NativeRuntime.for_environ(settings.environ), docker_factory)

    # -- Docker, reached once --------------------------------------------------------------
    @property
    def docker(self) -> Runtime:
        """The Docker runtime; raises :class:`DockerUnavailable` (every time) without one."""
        if self._docker is None:
            if self.docker_error is not None:
                raise self.docker_error
            try:
                self._docker = self._docker_factory()
            except DockerUnavailable as exc:
                self.docker_error = exc
                raise
        return self._docker

    def docker_available(self) -> tuple[bool, str]:
        try:
            return True, self.docker.describe()
        except DockerUnavailable as exc:
            return False, str(exc)

    # -- the seam ---------------------------------------------------------------------------
    def describe(self) -> str:
        where = self._docker.describe() if self._docker is not None else "not connected"
        return f"docker: {where}; native: {self.native.describe()}"

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        self.docker.create_network(name, labels)
        self.docker_used = True

    def create_volume(self, name: str, labels: Mapping[str, str]) -> None:
        if labels.get(LABEL_DETACHED) == "true" and not self.docker_used:
            self.native.create_marker(name, labels)  # a run of native processes only
            return
        self.docker.create_volume(name, labels)
        self.docker_used = True

    def image_status(self, image: str) -> tuple[bool, str]:
        return self.docker.image_status(image)

    def ensure_image(self, image: str, override_hint: str) -> None:
        self.docker.ensure_image(image, override_hint)

    def image_id(self, image: str) -> str:
        return self.docker.image_id(image)

    def image_platform(self, image: str) -> Platform:
        return self.docker.image_platform(image)

    def engine_platform(self) -> Platform:
        return self.docker.engine_platform()

    def run_container(self, spec: ContainerSpec) -> ContainerHandle:
        self.docker_used = True
        return self.docker.run_container(spec)

    def run_process(self, spec: ProcessSpec) -> NativeProcess:
        return self.native.run_process(spec)

    def container(self, name: str) -> ContainerHandle | None:
        found = self.native.container(name)
        if found is not None:
            return found
        return self.docker.container(name)

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        found = self.native.list_managed(labels)
        try:
            docker = self.docker
        except DockerUnavailable:
            return found
        return docker.list_managed(labels) + found

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        native = [r for r in resources if r.id.startswith(ID_PREFIX)]
        others = [r for r in resources if not r.id.startswith(ID_PREFIX)]
        errors: list[str] = []
        if others:
            errors += self.docker.remove(others)
        # processes after containers: a container may hold a connection to a process
        errors += self.native.remove(native)
        return errors
