"""The revert journal: every active fault, with what it takes to revert it, on disk.

``.envctl/runs/<run-id>/faults.json`` holds the faults a process has applied and not yet
reverted, each with everything its revert needs (container, networks, previous limits,
proxy). It is written before a fault is applied and the entry removed once it is reverted,
so a process killed with SIGKILL mid-fault leaves a journal that ``envctl gc`` and
``envctl down`` (or a later ``envctl fault``) replay: nothing stays paused, disconnected,
limited or proxied with a fault.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from envctl.errors import EnvctlError
from envctl.owner import owner_labels

JOURNAL_FILE = "faults.json"


class Journal:
    """The active faults of one run, by key. Thread-safe; every change is on disk at once."""

    def __init__(self, run_dir: Path, run_id: str) -> None:
        self.path = run_dir / JOURNAL_FILE
        self.run_id = run_id
        self._lock = threading.Lock()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"run_id": self.run_id, "active": {}}
        except (OSError, ValueError) as exc:
            raise EnvctlError(f"cannot read the fault journal {self.path}: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("active"), dict):
            raise EnvctlError(f"{self.path} is not an envctl fault journal; remove it")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        from envctl.environment import write_json_atomic

        if not data["active"]:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        write_json_atomic(self.path, data)

    def entries(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return dict(self._read()["active"])

    def add(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            data = self._read()
            data["active"][key] = {**entry, "owner": owner_labels()}
            self._write(data)

    def update(self, key: str, **fields: Any) -> None:
        with self._lock:
            data = self._read()
            if key in data["active"]:
                data["active"][key].update(fields)
                self._write(data)

    def remove(self, key: str) -> None:
        with self._lock:
            data = self._read()
            if data["active"].pop(key, None) is not None or not data["active"]:
                self._write(data)


def journals(runs_root: Path) -> Iterator[Journal]:
    """Every run under ``runs_root`` that has active faults."""
    if not runs_root.is_dir():
        return
    for path in sorted(runs_root.glob(f"*/{JOURNAL_FILE}")):
        yield Journal(path.parent, path.parent.name)
