"""Run a command on a pseudo-terminal of a given size, as a user at a terminal would.

The pty is the child's controlling terminal, so a ``^C`` written to it is a real Ctrl-C
(SIGINT to the foreground process group). What the child wrote comes back with the escape
sequences (:data:`ESCAPE`) still in it and ``\\r\\n`` line ends; :func:`plain` takes both out.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[@-Z\\-_])")
HIDE_CURSOR = "\x1b[?25l"
"""What rich's live display writes first (and undoes when it stops)."""


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    raw: str
    """Everything written to the terminal, escape sequences included."""

    @property
    def text(self) -> str:
        return plain(self.raw)


def plain(raw: str) -> str:
    """Terminal output without escape sequences and carriage returns."""
    return ESCAPE.sub("", raw).replace("\r", "")


def envctl_env(**extra: str) -> dict[str, str]:
    """This environment for a child ``python -m envctl``: this checkout's envctl first, a
    terminal type rich draws on, and the size taken from the pty (no COLUMNS/LINES)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


def run_in_terminal(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    columns: int = 80,
    rows: int = 24,
    timeout: float = 120.0,
    interrupt_on: str | None = None,
    when: Mapping[str, Callable[[], None]] | None = None,
) -> TerminalRun:
    """Run ``argv`` on a ``columns`` x ``rows`` pty until it exits; ``interrupt_on``: type
    Ctrl-C once that text has appeared on the terminal; ``when``: call each function once
    its text has appeared. ``timeout`` bounds the whole run (the child is killed and
    :class:`TimeoutError` raised past it)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [*argv],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=dict(env),
        cwd=cwd,
        preexec_fn=controlling_terminal,  # the pty becomes the child's controlling terminal
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    interrupted = interrupt_on is None
    pending = dict(when or {})
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{argv} still running after {timeout}s")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every process holding the pty has closed it
                break
            if not data:
                break
            chunks.append(data)
            seen = plain(b"".join(chunks).decode(errors="replace"))
            if not interrupted and interrupt_on is not None and interrupt_on in seen:
                os.write(master, b"\x03")  # Ctrl-C, as typed
                interrupted = True
            for text in [t for t in pending if t in seen]:
                pending.pop(text)()
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return TerminalRun(returncode, b"".join(chunks).decode(errors="replace"))
