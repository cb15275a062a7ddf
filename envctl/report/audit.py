"""The audit log of a run: one JSON object per line in ``.envctl/runs/<run-id>/audit.jsonl``.

Every decision (mode and why, image, ports, factory), every phase with its timing, every
step with its inputs, outputs and result, and every error is one event. Containers' logs
are captured into ``logs/<service>.log`` beside it. A run can be replayed from its log.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from envctl.errors import StateDirUnwritable
from envctl.report.run_folder import AUDIT_FILE, LOGS_DIR, existing_run_dir


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": __import__("base64").b64encode(value).decode("ascii")}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def public(endpoints: Mapping[str, Any]) -> dict[str, Any]:
    """Endpoints without secret fields (keys starting with ``_``)."""
    return {k: v for k, v in endpoints.items() if not str(k).startswith("_")}


class AuditLog:
    """Appends events to one run's audit log. Thread-safe; each event is flushed at once."""

    def __init__(self, directory: Path, run_id: str) -> None:
        self.directory = directory
        self.run_id = run_id
        self.path = directory / AUDIT_FILE
        self.problem: str | None = None
        """Why events stopped being written (a full disk mid-run); None while all is well."""
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise StateDirUnwritable(
                f"cannot write the run's audit log under {directory} "
                f"({exc.strerror or exc}); set ENVCTL_STATE_DIR to a writable folder"
            ) from None
        self._lock = threading.Lock()
        self._began = time.monotonic()

    def event(self, event: str, /, **fields: Any) -> dict[str, Any]:
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "t": round(time.monotonic() - self._began, 4),
            "run_id": self.run_id,
            "event": event,
            **jsonable(fields),
        }
        line = json.dumps(record, sort_keys=False, default=str)
        with self._lock:
            if not self._file.closed and self.problem is None:
                try:
                    self._file.write(line + "\n")
                    self._file.flush()
                except OSError as exc:  # e.g. the disk filled up mid-run: the run goes on
                    self.problem = f"the audit log {self.path} is incomplete: {exc.strerror or exc}"
        return record

    def write_log(self, service: str, text: str) -> Path:
        """Store a container's log as ``logs/<service>.log``."""
        folder = self.directory / LOGS_DIR
        folder.mkdir(exist_ok=True)
        path = folder / f"{service}.log"
        path.write_text(text, encoding="utf-8")
        return path

    def close(self) -> None:
        with self._lock:
            try:
                self._file.close()
            except OSError as exc:  # the last buffered write failed
                self.problem = self.problem or f"the audit log {self.path} is incomplete: {exc}"

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class RecordedRun:
    """A run read back from its directory."""

    run_id: str
    directory: Path
    events: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") == kind]

    def first(self, kind: str) -> dict[str, Any] | None:
        found = self.of_kind(kind)
        return found[0] if found else None

    def logs(self) -> dict[str, Path]:
        folder = self.directory / LOGS_DIR
        return {p.stem: p for p in sorted(folder.glob("*.log"))} if folder.is_dir() else {}


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a killed run


def read_run(root: Path, run_id: str) -> RecordedRun:
    directory = existing_run_dir(root, run_id)
    audit = directory / AUDIT_FILE
    events = list(read_events(audit)) if audit.is_file() else []
    return RecordedRun(run_id, directory, events)
