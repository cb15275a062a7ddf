"""Reverting faults that no process will revert any more (``envctl gc`` / ``envctl down``).

A journal entry belongs to the process that applied it (``owner``: the labels of
:mod:`envctl.owner`). ``gc`` reverts the entries whose owner is provably gone (a run or
``envctl fault --duration`` killed with SIGKILL); ``down`` reverts every entry of the runs
it removes. An entry held on purpose (``envctl fault ACTION`` without ``--duration``) has
no owner: only ``envctl fault revert`` or ``envctl down`` end it.
"""

from __future__ import annotations

from pathlib import Path

from envctl.faults.inject import replay_journal
from envctl.faults.journal import Journal, journals
from envctl.owner import ProcessTable, owner_gone
from envctl.runtime.base import Runtime


def _orphaned(entry: dict[str, object], table: ProcessTable) -> bool:
    owner = entry.get("owner")
    if not isinstance(owner, dict) or not owner:
        return False
    gone, _why = owner_gone(owner, table)
    return gone is True


def revert_orphans(runs_root: Path, runtime: Runtime | None) -> tuple[list[str], list[str]]:
    """Revert the faults whose owner process is gone. Returns (what was reverted, errors)."""
    done: list[str] = []
    errors: list[str] = []
    table = ProcessTable()
    for journal in journals(runs_root):
        entries = journal.entries()
        orphans = {k: e for k, e in entries.items() if _orphaned(e, table)}
        if not orphans:
            continue
        errors += _replay(runtime, journal, set(orphans))
        done += [f"run {journal.run_id}: reverted {e.get('label', k)}" for k, e in orphans.items()]
    return done, errors


def revert_run(
    runs_root: Path, run_id: str, runtime: Runtime | None
) -> tuple[list[str], list[str]]:
    """Revert every fault of one run (``envctl down``, ``envctl fault revert``)."""
    journal = Journal(runs_root / run_id, run_id)
    entries = journal.entries()
    if not entries:
        return [], []
    errors = replay_journal(runtime, journal)
    left = journal.entries()
    done = [
        f"run {run_id}: reverted {e.get('label', k)}" for k, e in entries.items() if k not in left
    ]
    return done, errors


def _replay(runtime: Runtime | None, journal: Journal, keys: set[str]) -> list[str]:
    """Replay only ``keys`` of a journal (the others stay, with their owners)."""
    from envctl.errors import EnvctlError
    from envctl.faults.inject import revert_entry

    errors: list[str] = []
    for key in sorted(keys):
        entries = journal.entries()
        entry = entries.pop(key, None)
        if entry is None:
            continue
        try:
            revert_entry(runtime, entry, entries)
        except EnvctlError as exc:
            errors.append(f"run {journal.run_id}: revert {entry.get('label', key)}: {exc}")
            continue
        journal.remove(key)
    return errors
