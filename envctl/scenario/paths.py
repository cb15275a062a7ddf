"""Where files a scenario names may be: inside the project, unless the project allows more.

A scenario's ``extends:`` and ``compose: {file}`` are read by envctl and problems in them
are printed. So that no scenario can make envctl read (and echo) a file such as
``/etc/shadow``, such paths must resolve (symlinks followed) under one of the allowed roots:
the scenario tree, the project root (the folder of ``envctl.yaml``, else the working
directory) and the folders the project config lists under ``allowed_paths:``. Seed files
stay stricter: under the scenario tree only (:mod:`envctl.seed.paths`).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
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


__all__ = ["YAML_SUFFIXES", "path_problem", "project_roots"]
