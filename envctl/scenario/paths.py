"""Where files a scenario names may be: inside the project, unless the project allows more.

A scenario's ``extends:`` and ``compose: {file}`` are read by envctl and problems in them
are printed. So that no scenario can make envctl read (and echo) a file such as
``/etc/shadow``, such paths must resolve (symlinks followed) under one of the allowed roots:
the scenario tree, the project root (the folder of ``envctl.yaml``, else the working
directory) and the folders the project config lists under ``allowed_paths:``. Seed files
stay stricter: under the scenario tree only (:mod:`envctl.seed.paths`).

Host paths a container bind-mounts follow the same roots (:class:`BindMountPolicy`): a
scenario, a compose file it takes services from or a ``${VAR}`` cannot hand a container
``/`` or ``/etc``; and the Docker socket (or a folder holding it) is mounted only when the
project config says ``allow_docker_socket: true`` — never on a scenario's word. The policy is
checked when a scenario is loaded (``envctl validate``) and again before a container starts.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

YAML_SUFFIXES = (".yaml", ".yml")


def path_problem(
    relative: str,
    base_dir: Path,
    allowed: Sequence[Path],
    *,
    what: str,
    yaml_only: bool = True,
) -> str | None:
    """Why ``relative`` (from ``base_dir``) is not a file envctl may read; None when it is."""
    if "\x00" in relative:
        return f"{what} path contains a NUL character"
    if yaml_only and not relative.lower().endswith(YAML_SUFFIXES):
        return f"{what} '{relative}' is not a YAML file (name a .yaml or .yml file)"
    try:
        target = (base_dir / relative).resolve()
    except (OSError, RuntimeError, ValueError):
        return f"{what} '{relative}' cannot be resolved (a symlink loop?)"
    roots = [r.resolve() for r in allowed]
    if not any(target.is_relative_to(r) for r in roots):
        shown = ", ".join(str(r) for r in dict.fromkeys(roots))
        return (
            f"{what} '{relative}' is outside the project ({shown}); move it inside, or "
            "allow its folder with allowed_paths: in envctl.yaml"
        )
    try:
        mode = os.stat(target).st_mode
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return f"{what} '{relative[:60]}…' has a name longer than the file system allows"
        if exc.errno == errno.ELOOP:
            return f"{what} '{relative}' is a symlink loop"
        return f"{what} '{relative}' does not exist (looked for {target})"
    if not stat.S_ISREG(mode):
        return f"{what} '{relative}' is not a regular file"
    return None


def project_roots(
    project_config: Path | None, cwd: Path, allowed_paths: Sequence[str] = ()
) -> tuple[Path, ...]:
    """The roots scenario files may read from, besides their own scenario tree."""
    root = project_config.parent if project_config is not None else cwd
    extra = [(root / p) for p in allowed_paths]
    return (root, *extra)


@dataclass(frozen=True)
class BindMountPolicy:
    """Where a container's bind-mounted host paths may be.

    ``roots``: the scenario tree, the scenario file's folder, the project root and the
    project config's ``allowed_paths``. ``allow_docker_socket``: the project config's key of
    that name (a scenario file cannot set it).
    """

    roots: tuple[Path, ...]
    allow_docker_socket: bool = False

    def problem(self, source: Path) -> str | None:
        """Why the container may not mount the host path ``source`` (absolute); None if it may.

        >>> BindMountPolicy((Path("/srv/project"),)).problem(Path("/"))  # doctest: +ELLIPSIS
        'host path / is outside the project (/srv/project); bind mounts stay inside it ...'
        """
        try:
            resolved = source.expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            return f"host path {source} cannot be resolved (a symlink loop?)"
        if is_docker_socket(resolved):
            if self.allow_docker_socket:
                return None
            return (
                f"mounts the Docker socket ({resolved}), which gives the container control of "
                "the host's Docker; allow it with allow_docker_socket: true in envctl.yaml"
            )
        roots = list(dict.fromkeys(r.resolve() for r in self.roots))
        if any(resolved.is_relative_to(r) for r in roots):
            return None
        shown = ", ".join(str(r) for r in roots) or "none known"
        return (
            f"host path {resolved} is outside the project ({shown}); bind mounts stay inside "
            "it — move the files in, use a named volume, or allow the folder with "
            "allowed_paths: in envctl.yaml"
        )


def is_docker_socket(path: Path) -> bool:
    """The Docker daemon's socket (or a folder holding it, such as /var/run or /)."""
    if path.name == "docker.sock":
        return True
    try:
        if stat.S_ISSOCK(path.stat().st_mode) and "docker" in path.name:
            return True
        return path.is_dir() and (path / "docker.sock").exists()
    except OSError:
        return False


__all__ = ["YAML_SUFFIXES", "BindMountPolicy", "is_docker_socket", "path_problem", "project_roots"]
