"""``envctl report merge``: the shards of a sharded run-all, merged into one run-all result.

Each shard (``envctl run-all --shard I/N``) writes an ordinary ``result.json`` with a
``shard`` entry: its index, the total, a digest of what the split was computed from, and
every selected scenario's shard. Merging checks that the shards belong together before it
adds anything up:

- all of them were split the same way (same total and digest) — shards computed from
  different scenario trees or different durations would run some scenarios twice and
  others never;
- every shard 1..N is there exactly once (a missing shard is named: its scenarios never
  ran);
- every scenario the split assigned to a shard has that shard's result.

The merged result is a run-all result like any other (``envctl compare`` reads it), plus
``shards``: each shard's run id, counts and seconds. Its ``seconds`` is the longest shard's
(the wall time of shards running side by side); ``scenario_seconds`` is their sum.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envctl.errors import ConfigError
from envctl.report.run_folder import RESULT_FILE

STATUSES = ("passed", "failed", "skipped", "degraded", "error")


@dataclass(frozen=True)
class ShardResult:
    path: Path
    data: dict[str, Any]

    @property
    def shard(self) -> dict[str, Any]:
        shard: dict[str, Any] = self.data["shard"]
        return shard


def read_shard(path: Path) -> ShardResult:
    """A shard's result: ``result.json``, a run folder holding one, or a ``--json`` file."""
    target = path / RESULT_FILE if path.is_dir() else path
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{target}: no such result; pass a run-all result.json or its folder"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ConfigError(f"{target}: not a run-all result: {reason}") from None
    if not isinstance(data, dict) or not isinstance(data.get("scenarios"), dict):
        raise ConfigError(f"{target}: not a run-all result (no 'scenarios' mapping)")
    shard = data.get("shard")
    if not isinstance(shard, dict) or not all(
        k in shard for k in ("index", "total", "digest", "assignment")
    ):
        raise ConfigError(
            f"{target}: not a shard's result: it was not run with `envctl run-all --shard I/N`"
        )
    return ShardResult(target, data)


def merge_results(results: Sequence[ShardResult]) -> dict[str, Any]:
    """One run-all result from all shards; ConfigError names what does not fit."""
    if not results:
        raise ConfigError("report merge: no results given")
    first = results[0]
    total, digest = first.shard["total"], first.shard["digest"]
    by_index: dict[int, ShardResult] = {}
    for result in results:
        shard = result.shard
        if shard["total"] != total or shard["digest"] != digest:
            raise ConfigError(
                f"{result.path}: shard {shard['index']}/{shard['total']} was split differently "
                f"from {first.path} (shard {first.shard['index']}/{total}): the shards saw "
                "different scenarios or durations; run every shard from the same commit and "
                "durations file"
            )
        index = shard["index"]
        if index in by_index:
            raise ConfigError(
                f"{result.path}: shard {index}/{total} is given twice (also {by_index[index].path})"
            )
        by_index[index] = result
    missing = [i for i in range(1, total + 1) if i not in by_index]
    if missing:
        assignment: dict[str, int] = first.shard["assignment"]
        lost = sorted(n for n, i in assignment.items() if i in missing)
        shown = ", ".join(lost[:8]) + (f" and {len(lost) - 8} more" if len(lost) > 8 else "")
        which = ", ".join(f"{i}/{total}" for i in missing)
        raise ConfigError(
            f"report merge: shard {which} missing; its scenarios never ran: {shown or 'none'}"
        )
    scenarios: dict[str, Any] = {}
    shards: dict[str, Any] = {}
    assignment = first.shard["assignment"]
    for index in sorted(by_index):
        result = by_index[index]
        for name, entry in result.data["scenarios"].items():
            expected = assignment.get(name)
            if expected != index:
                raise ConfigError(
                    f"{result.path}: scenario {name!r} ran on shard {index}/{total} but the "
                    f"split gives it to {'no shard' if expected is None else expected}"
                )
            scenarios[name] = {**entry, "shard": index}
        shards[str(index)] = {
            "run_id": result.data.get("run_id"),
            "seconds": result.data.get("seconds"),
            "counts": result.data.get("counts"),
            "source": str(result.path),
        }
    absent = sorted(set(assignment) - set(scenarios))
    if absent:
        raise ConfigError(
            "report merge: no result for "
            + ", ".join(f"{n} (shard {assignment[n]})" for n in absent[:8])
        )
    counts = dict.fromkeys(STATUSES, 0)
    for entry in scenarios.values():
        status = entry.get("status")
        counts[status] = counts.get(status, 0) + 1
    ordered = {name: scenarios[name] for name in sorted(scenarios)}
    seconds = [float(r.data.get("seconds") or 0.0) for r in results]
    return {
        "run_id": f"merged-{by_index[1].data.get('run_id', 'shards')}",
        "profile": first.data.get("profile"),
        "scenarios": ordered,
        "counts": counts,
        "seconds": round(max(seconds), 3),
        "scenario_seconds": round(
            sum(float(e.get("seconds") or 0.0) for e in scenarios.values()), 3
        ),
        "dependency_mode": first.data.get("dependency_mode", "declared"),
        "shards": shards,
        "split": {"total": total, "digest": digest},
    }


def merged_exit_code(merged: dict[str, Any], strict: bool = False) -> int:
    """As ``run-all``: 2 any invalid scenario, 1 any failed (or degraded under strict)."""
    counts = merged["counts"]
    if counts.get("error"):
        return 2
    if counts.get("failed") or (strict and counts.get("degraded")):
        return 1
    return 0
