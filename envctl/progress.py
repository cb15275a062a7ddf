"""Showing progress: services coming up (`up`) and scenarios running (`run-all`) — a live
display on a terminal, plain lines otherwise."""

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


# -- run-all: scenarios running, done/total, outcomes so far -----------------------------------


class ScenarioTally:
    """What a run-all has done so far, from its progress events (told from worker threads)."""

    def __init__(self) -> None:
        self.began = time.monotonic()
        self.total = 0
        self.done = 0
        self.running: dict[str, float] = {}
        """Scenario -> when it started (monotonic)."""
        self.counts: dict[str, int] = {}
        """Outcome status -> scenarios that ended so."""
        self.stopping = False
        """Interrupted: those running are being waited for, no other starts."""
        self._lock = threading.Lock()

    def record(self, event: str, name: str, done: int, total: int, outcome: Any) -> None:
        with self._lock:
            self.total = total
            self.done = max(self.done, done)
            if event == "start":
                self.running[name] = time.monotonic()
            elif event == "stop":
                self.stopping = True
            else:
                self.running.pop(name, None)
                status = str(getattr(outcome, "status", "ended"))
                self.counts[status] = self.counts.get(status, 0) + 1

    def now_running(self) -> list[tuple[str, float]]:
        """``(scenario, when it started)`` of those running now, longest-running first."""
        with self._lock:
            return sorted(self.running.items(), key=lambda item: item[1])

    def statuses(self) -> list[tuple[str, int]]:
        """``[("passed", 2), ("failed", 1)]``: the outcomes so far, passed and failed first."""
        with self._lock:
            counts = dict(self.counts)
        order = ["passed", "failed", *sorted(set(counts) - {"passed", "failed"})]
        return [(status, counts[status]) for status in order if counts.get(status)]

    def outcomes(self) -> str:
        """``2 passed, 1 failed`` ('' before the first scenario ends)."""
        return ", ".join(f"{n} {status}" for status, n in self.statuses())

    def waiting(self) -> str:
        """What an interrupted run-all waits for before it stops."""
        running = [name for name, _ in self.now_running()]
        if not running:
            return "interrupted: cleaning up"
        return (
            f"interrupted: waiting for {len(running)} running scenario"
            f"{'s' if len(running) != 1 else ''} to end ({', '.join(running)}); no other starts"
        )

    def interrupted(self) -> str:
        """The summary of an interrupted run-all: finished, running, never started."""
        with self._lock:
            running, done, total = sorted(self.running), self.done, self.total
        counts = self.outcomes() or "none ended"
        text = (
            f"run-all interrupted after {time.monotonic() - self.began:.1f}s: {done} of "
            f"{total} scenarios finished ({counts})"
        )
        if running:
            text += f"; running: {', '.join(running)}"
        left = total - done - len(running)
        if left > 0:
            text += f"; {left} not started"
        return text


class ScenarioLines:
    """One line per scenario start and end, for logs and CI: ``[3/12] passed  smoke 0.35s``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lock = threading.Lock()
        self.tally = ScenarioTally()

    def __call__(self, event: str, name: str, done: int, total: int, outcome: Any) -> None:
        self.tally.record(event, name, done, total, outcome)
        if event == "start":
            text = f"[{done}/{total}] start   {name}"
        elif event == "stop":
            text = self.tally.waiting()
        else:
            text = f"[{done}/{total}] {outcome.status:<7} {name} {outcome.seconds:.2f}s"
        with self._lock:
            print(text, file=self._stream, flush=True)

    def __enter__(self) -> ScenarioLines:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is not None and not issubclass(kind, Exception):  # Ctrl-C, SIGTERM
            with self._lock:
                print(self.tally.interrupted(), file=self._stream, flush=True)


class ScenarioLive:
    """A live display on a terminal (stderr): done/total with a bar, outcomes so far, and
    the scenarios running now with their time; a scenario that does not pass is also
    printed above it as it ends. Stopped cleanly however the run-all ends (the cursor comes
    back, the last picture stays), and an interrupt leaves a one-line summary."""

    RUNNING_SHOWN = 8
    COLOURS = {"passed": "green", "failed": "red", "error": "red"}

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.tally = ScenarioTally()
        self._console = console or Console(stderr=True, highlight=False)
        self._live = Live(
            console=self._console,
            get_renderable=self._render,
            refresh_per_second=4,
            transient=False,
        )

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        tally = self.tally
        now = time.monotonic()
        running = tally.now_running()
        head = Text.assemble(
            ("run-all ", "bold"),
            f"{tally.done}/{tally.total or '?'} done",
            "  ",
            *self._counts(),
            f"  {now - tally.began:.1f}s",
        )
        bar = Table.grid()  # a grid row ends the bar's line (a bare ProgressBar does not)
        bar.add_row(ProgressBar(total=max(tally.total, 1), completed=tally.done, width=40))
        rows = Table.grid(padding=(0, 2))
        rows.add_column(no_wrap=True)
        rows.add_column(justify="right")
        for name, since in running[: self.RUNNING_SHOWN]:
            label = Text.assemble("  ", ("running", "cyan"), f" {name}")
            rows.add_row(label, f"{now - since:.1f}s")
        if len(running) > self.RUNNING_SHOWN:
            rows.add_row(f"  ... and {len(running) - self.RUNNING_SHOWN} more", "")
        if tally.stopping:
            return Group(head, bar, rows, Text(tally.waiting(), style="yellow"))
        return Group(head, bar, rows)

    def _counts(self) -> list[tuple[str, str] | str]:
        parts: list[tuple[str, str] | str] = []
        for status, n in self.tally.statuses():
            parts.extend([", "] if parts else [])
            parts.append((f"{n} {status}", self.COLOURS.get(status, "yellow")))
        return parts

    def __call__(self, event: str, name: str, done: int, total: int, outcome: Any) -> None:
        self.tally.record(event, name, done, total, outcome)
        if event != "start" and outcome is not None and outcome.status != "passed":
            from rich.text import Text

            colour = self.COLOURS.get(outcome.status, "yellow")
            line = Text.assemble((outcome.status, colour), f" {name} {outcome.seconds:.2f}s")
            self._console.print(line)
        self._live.refresh()

    def __enter__(self) -> ScenarioLive:
        self._live.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self._live.stop()  # the last picture stays; the cursor is shown again
        if kind is not None and not issubclass(kind, Exception):  # Ctrl-C, SIGTERM
            self._console.print(self.tally.interrupted(), markup=False, soft_wrap=True)


def scenario_progress_for(stream: IO[str] | None = None) -> ScenarioLines | ScenarioLive:
    """run-all's progress: a live display on a terminal, a line per start and end otherwise."""
    target = stream or sys.stderr
    if target.isatty():
        return ScenarioLive()
    return ScenarioLines(target)
