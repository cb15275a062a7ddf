"""Writing a file the user named (``--json PATH``, ``--junit PATH``, ``-o PATH``).

As a user expects of a CLI: a symlink is written through (the link stays, its target gets
the text), a character device such as ``/dev/stdout`` or ``/dev/null`` is written to, never
replaced; a regular file is replaced whole (written beside it, then renamed, so a reader
never sees half of it). A directory, a FIFO or socket, an empty path, a path under a file or
a full device is one :class:`~envctl.errors.ConfigError` line saying what to do.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from envctl.errors import ConfigError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def output_target(path: Path | str) -> tuple[Path, bool]:
    """Where writing ``path`` lands, and whether it is a device written through.

    Raises :class:`ConfigError` when the path cannot be written as an output file. Cheap:
    commands call it before long work so a bad ``--json`` fails at once.
    """
    text = str(path)
    if not text:
        raise ConfigError("the output path is empty; give a file name")
    if "\x00" in text:
        raise ConfigError("the output path contains a NUL character")
    try:
        target = Path(os.path.realpath(text))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{text}: cannot resolve the output path ({exc})") from None
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except NotADirectoryError:
        blocker = next((p for p in target.parents if p.is_file()), target.parent)
        raise ConfigError(f"{text}: {blocker} is not a directory; give a path to a file") from None
    except OSError as exc:
        raise ConfigError(f"{text}: cannot write here ({_reason(exc)})") from None
    if mode is not None and stat.S_ISDIR(mode):
        raise ConfigError(f"{text} is a directory; give a file name")
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        raise ConfigError(f"{text} is a FIFO or socket; give a regular file")
    device = mode is not None and not stat.S_ISREG(mode)
    if not device:
        parent = target.parent
        existing = parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ConfigError(f"{text}: {existing} is not a directory; give a path to a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise ConfigError(f"{text}: {existing} is not writable; choose another path")
    return target, device


def write_output(path: Path | str, data: str | bytes) -> Path:
    """Write ``data`` to the file the user named (see the module docstring); returns where
    it landed. Every failure is one :class:`ConfigError` line."""
    target, device = output_target(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if device:
        try:
            with open(target, "wb") as out:
                out.write(payload)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write ({_reason(exc)})") from None
        return target
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as out:
            out.write(payload)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write ({_reason(exc)}); choose another path") from None
    return target
