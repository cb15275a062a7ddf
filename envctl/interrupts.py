"""Sections that a Ctrl-C or SIGTERM must not cut in half.

A signal that lands while envctl is creating a network or removing what a run started would
leave half a state behind: the daemon finishes creating a network whose creator was
interrupted before it learnt of it, or cleanup stops after the containers and leaves the
network and the run record. :func:`shielded` holds such a signal until the section is done
and then delivers it, so the usual unwinding (cleanup in ``finally`` blocks, exit 130/143)
follows. Sections shielded this way are short and bounded by their own timeouts, so an
interrupt is still honoured within a second or two.

Signals reach only the main thread; elsewhere (and where handlers cannot be set) the
section simply runs.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)

REMOVED_NOTE = "everything started was removed"
"""Added to an interrupt (KeyboardInterrupt, SIGTERM) once cleanup removed what it started:
the CLI says it only when it is true."""


@contextmanager
def shielded() -> Iterator[None]:
    """Run the block to its end; a SIGINT/SIGTERM arriving meanwhile is delivered after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        held.append(signum)

    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    if any(handler is None for handler in previous.values()):  # set outside Python: leave it
        yield
        return
    for sig in SIGNALS:
        signal.signal(sig, hold)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if held:
            signal.raise_signal(held[0])
