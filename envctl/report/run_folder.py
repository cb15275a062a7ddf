"""A run's folder, in one place: where envctl keeps state, and what one run's folder holds.

The state folder is ``ENVCTL_STATE_DIR``, else ``.envctl`` next to the project config
(``envctl.yaml``), else in the working directory. Every run (``envctl run``, ``run-all``,
``up``, ``envctl.up``) has a folder ``<state>/runs/<run-id>/``::

    audit.jsonl            the audit log (envctl.report.audit)
    environment.json       the run's record: how to reach and remove what it made
                           (envctl.environment)
    result.json            envctl run-all: every scenario's outcome (envctl.report.results)
    logs/<service>.log     containers' logs, captured when the run ends
    snapshots/<name>/      snapshots of the services' data (envctl.snapshot.store)
    diff.json, diff.txt    the scenario's snapshot "before" -> "after" diff
    shared/<key>/          envctl run-all: the audit log and logs of a shared instance

Only the file names and the lookup live here; the modules named above read and write them.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from envctl.errors import ConfigError, StateDirUnwritable

if TYPE_CHECKING:
    from envctl.settings import Settings

STATE_DIR_ENV = "ENVCTL_STATE_DIR"
STATE_DIR_NAME = ".envctl"
RUNS_DIR = "runs"
DEFAULT_RUNS_PATH = f"{STATE_DIR_NAME}/{RUNS_DIR}"
"""The runs folder relative to a project without ``ENVCTL_STATE_DIR`` (CI uploads it)."""

AUDIT_FILE = "audit.jsonl"
RECORD_FILE = "environment.json"
RESULT_FILE = "result.json"
LOGS_DIR = "logs"
SNAPSHOTS_DIR = "snapshots"
DIFF_JSON = "diff.json"
DIFF_TEXT = "diff.txt"
SHARED_DIR = "shared"


RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""What a run id may be (envctl makes 8 hex digits): it names a folder, so never a path."""


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is a valid run id; else a :class:`ConfigError` saying what a run
    id looks like. Called before any file system or Docker call that uses a run id."""
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        shown = (
            repr(run_id[:40] + "…")
            if isinstance(run_id, str) and len(run_id) > 40
            else (repr(run_id))
        )
        raise ConfigError(
            f"{shown} is not a run id: run ids are 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (see envctl status)"
        )
    return run_id


def state_dir(settings: Settings) -> Path:
    """The state folder: ``ENVCTL_STATE_DIR``, else ``.envctl`` by the project config or cwd."""
    explicit = settings.environ.get(STATE_DIR_ENV)
    if explicit:
        path = Path(explicit)
        return path if path.is_absolute() else settings.cwd / path
    config = settings.project_config_path
    return (config.parent if config is not None else settings.cwd) / STATE_DIR_NAME


def runs_root(settings: Settings) -> Path:
    """Where run folders go: ``<state>/runs``."""
    return state_dir(settings) / RUNS_DIR


def run_dir_for(settings: Settings, run_id: str) -> Path:
    """The folder of run ``run_id`` (which need not exist yet)."""
    return runs_root(settings) / check_run_id(run_id)


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` and make (and remove) a file in it: :class:`StateDirUnwritable` when
    that fails (a read-only or unreachable state folder). Checked before anything starts
    where the run's folder is written only at the end (``envctl up``'s record)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".envctl-check-"):
            pass
    except OSError as exc:
        raise StateDirUnwritable(
            f"cannot write under {folder} ({exc.strerror or exc}); "
            f"set {STATE_DIR_ENV} to a writable folder"
        ) from None


def existing_run_dir(root: Path, run_id: str) -> Path:
    """The folder of a recorded run under ``root``; an unknown run id is a config error
    naming the recent ones."""
    path = root / check_run_id(run_id)
    if not path.is_dir():
        known = (
            sorted((p.name for p in root.iterdir() if p.is_dir()), reverse=True)[:5]
            if root.is_dir()
            else []
        )
        hint = f" (recent: {', '.join(known)})" if known else ""
        raise ConfigError(f"no recorded run '{run_id}' under {root}{hint}")
    return path
