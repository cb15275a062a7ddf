"""Showing services come up: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any


class LineProgress:
    """One line per change, for logs and CI: ``[kafka] ready 2.1s``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()

    def update(self, service: str, status: str, detail: str = "") -> None:
        with self._lock:
            text = f"[{service}] {status}" + (f" {detail}" if detail else "")
            print(text, file=self._stream, flush=True)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class TerminalProgress:
    """A rich live table: one row per service with its status and elapsed time."""

    def __init__(self, title: str) -> None:
        from rich.console import Console
        from rich.live import Live

        self._title = title
        self._rows: dict[str, tuple[str, str, float]] = {}
        self._lock = threading.Lock()
        self._console = Console(stderr=True)
        self._live = Live(
            self._render(), console=self._console, refresh_per_second=8, transient=False
        )

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self._title, title_justify="left", box=None, pad_edge=False)
        table.add_column("service", style="bold")
        table.add_column("status")
        table.add_column("elapsed", justify="right")
        table.add_column("detail", overflow="fold")
        now = time.monotonic()
        colours = {"ready": "green", "failed": "red", "waiting": "yellow"}
        for name, (status, detail, since) in self._rows.items():
            colour = colours.get(status, "cyan" if status != "pending" else "dim")
            if status.startswith(("not started", "stopped")):
                colour = "red"
            finished = status == "ready" or status == "failed"
            elapsed = "" if status == "pending" or finished else f"{now - since:.1f}s"
            table.add_row(name, f"[{colour}]{status}[/]", elapsed, detail)
        return table

    def update(self, service: str, status: str, detail: str = "") -> None:
        with self._lock:
            since = self._rows.get(service, ("", "", time.monotonic()))[2]
            if self._rows.get(service, ("pending",))[0] == "pending" and status != "pending":
                since = time.monotonic()
            if status in ("ready", "failed"):
                detail = detail or self._rows.get(service, ("", "", 0))[1]
            self._rows[service] = (status, detail, since)
            self._live.update(self._render())

    def __enter__(self) -> TerminalProgress:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.update(self._render())
        self._live.stop()


def progress_for(title: str, stream: IO[str] | None = None) -> LineProgress | TerminalProgress:
    """A live table on a terminal, plain lines when stderr is not one."""
    target = stream or sys.stderr
    if target.isatty():
        return TerminalProgress(title)
    return LineProgress(target)
