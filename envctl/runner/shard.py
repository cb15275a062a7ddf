"""Split the selected scenarios into N shards: deterministic, balanced, stable.

``envctl run-all --shard I/N`` runs shard I (1-based, as Playwright and Jest count) of N.
Every process that computes the split from the same inputs gets the same answer, so N
machines that never talk to each other (a GitHub Actions matrix, a Kubernetes Indexed Job)
together run every scenario exactly once.

The split is *consistent hashing with bounded loads* (Mirrokni, Thorup, Zadimoghaddam 2018)
over rendezvous (highest-random-weight) hashing:

- each scenario ranks the shards by ``sha256(scenario, shard)``; that ranking depends on
  nothing else, so it does not change when scenarios are added or removed;
- scenarios are placed heaviest first (their weight is the duration recorded for them in
  earlier runs; without any history every weight is 1, i.e. the split balances counts), each
  on the first shard of its ranking whose load stays within ``(1 + SLACK)`` times the mean
  load (a shard always takes a scenario when it is still empty, so one very long scenario
  fits somewhere).

The capacity bound keeps shards balanced (no shard exceeds ``(1 + SLACK) * mean`` plus
one scenario); the fixed rankings keep the split stable: adding a scenario moves only the
few that the new one displaces, where a plain greedy "longest first onto the lightest
shard" reshuffles most of them. Both properties are checked by property tests
(``tests/unit/runner/test_shard.py``).

Scenarios without a recorded duration weigh the median of the recorded ones.

Where the durations come from matters: every shard must compute the same split, so they
must all read the same durations. :func:`load_durations` takes, in order, ``--durations
FILE`` (``{"scenario": seconds}``), the committed file ``envctl-durations.json`` of the
project (written by ``envctl report durations``, as pytest-split commits its
``.test_durations``), or counts; the machine-local history only when asked for
(``--durations history``), because shards on different machines have different histories.
Each shard records a digest of its inputs in its result, and ``envctl report merge``
refuses shards that split differently.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from envctl.errors import ConfigError

SLACK = 0.25
"""A shard may carry up to 25 % more than the mean load before a scenario looks further."""

SHARD_ENV = "ENVCTL_SHARD"
"""``I/N``: the shard to run, as ``--shard``."""
INDEX_ENV = "JOB_COMPLETION_INDEX"
"""Kubernetes Indexed Jobs give each pod its 0-based index here ..."""
TOTAL_ENV = "ENVCTL_SHARD_TOTAL"
"""... and the job says how many shards there are here (its ``completions``)."""

HISTORY_RUNS = 20
"""How many recent run-all results the durations are averaged over."""

_SHARD_RE = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")
MAX_SHARDS = 1024


@dataclass(frozen=True)
class ShardSpec:
    """Shard ``index`` (1-based) of ``total``."""

    index: int
    total: int

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"

    @property
    def label(self) -> str:
        """For file and run names: ``shard-2-of-4``."""
        return f"shard-{self.index}-of-{self.total}"


def parse_shard(text: str, source: str = "--shard") -> ShardSpec:
    """``"2/4"`` -> ShardSpec(2, 4); anything else is a one-line ConfigError."""
    match = _SHARD_RE.match(text)
    if match is None:
        raise ConfigError(
            f"{source}: {text[:40]!r} is not a shard; write I/N with 1 <= I <= N, e.g. 2/4"
        )
    index, total = int(match.group(1)), int(match.group(2))
    if not 1 <= total <= MAX_SHARDS:
        raise ConfigError(f"{source}: {total} shards; choose between 1 and {MAX_SHARDS}")
    if not 1 <= index <= total:
        raise ConfigError(
            f"{source}: shard {index} of {total} does not exist; shards are numbered 1..{total}"
        )
    return ShardSpec(index, total)


def shard_from_environment(environ: Mapping[str, str]) -> ShardSpec | None:
    """``ENVCTL_SHARD=I/N``, or a Kubernetes ``JOB_COMPLETION_INDEX`` (0-based) plus
    ``ENVCTL_SHARD_TOTAL``; None when neither is set."""
    text = environ.get(SHARD_ENV, "").strip()
    if text:
        return parse_shard(text, SHARD_ENV)
    index = environ.get(INDEX_ENV, "").strip()
    total = environ.get(TOTAL_ENV, "").strip()
    if not index and not total:
        return None
    if not index or not total:
        missing = INDEX_ENV if not index else TOTAL_ENV
        raise ConfigError(
            f"{missing} is not set: an Indexed Job shard needs both {INDEX_ENV} "
            f"(0-based, set by Kubernetes) and {TOTAL_ENV} (the number of shards)"
        )
    if not index.isdigit():
        raise ConfigError(f"{INDEX_ENV}: {index[:40]!r} is not a number")
    return parse_shard(f"{int(index) + 1}/{total}", f"{INDEX_ENV}+{TOTAL_ENV}")


def _rank(name: str, total: int) -> list[int]:
    """Shards 0..total-1 in the order ``name`` prefers them (rendezvous hashing)."""

    def score(shard: int) -> bytes:
        return hashlib.sha256(f"{name}\0{shard}".encode("utf-8", "surrogatepass")).digest()

    return sorted(range(total), key=score, reverse=True)


def weights(names: Iterable[str], durations: Mapping[str, float]) -> dict[str, float]:
    """Each scenario's weight: its recorded duration, the median for new ones, 1 without
    any history (the split then balances counts)."""
    chosen = list(names)
    known = [
        d for n in chosen if (d := durations.get(n)) is not None and math.isfinite(d) and d > 0
    ]
    if not known:
        return dict.fromkeys(chosen, 1.0)
    fallback = statistics.median(known)
    out: dict[str, float] = {}
    for name in chosen:
        value = durations.get(name)
        out[name] = value if value is not None and math.isfinite(value) and value > 0 else fallback
    return out


def assign(
    names: Sequence[str], total: int, durations: Mapping[str, float] | None = None
) -> dict[str, int]:
    """Scenario -> shard (0-based) for all of ``names``; see the module docstring."""
    if total < 1:
        raise ValueError("total must be at least 1")
    unique = sorted(set(names))
    weight = weights(unique, durations or {})
    capacity = (1.0 + SLACK) * sum(weight.values()) / total
    loads = [0.0] * total
    placed: dict[str, int] = {}
    for name in sorted(unique, key=lambda n: (-weight[n], n)):
        ranking = _rank(name, total)
        target = next(
            (s for s in ranking if loads[s] == 0.0 or loads[s] + weight[name] <= capacity),
            None,
        )
        if target is None:  # every shard is full: the least loaded one, ties by ranking
            target = min(ranking, key=lambda s: loads[s])
        loads[target] += weight[name]
        placed[name] = target
    return placed


def select(
    names: Sequence[str], shard: ShardSpec, durations: Mapping[str, float] | None = None
) -> list[str]:
    """The names of ``names`` (in their order) that shard ``shard`` runs."""
    placed = assign(names, shard.total, durations)
    return [n for n in names if placed[n] == shard.index - 1]


def recorded_durations(runs_root: Path, last: int = HISTORY_RUNS) -> dict[str, float]:
    """Mean seconds per scenario over the last ``last`` run-all results under ``runs_root``
    (``<run-id>/result.json``). Unreadable results are skipped: the history only steers the
    balance, never the correctness of the split."""
    try:
        results = [p for p in runs_root.glob("*/result.json") if p.is_file()]
    except OSError:
        return {}
    results.sort(key=lambda p: _mtime(p), reverse=True)
    sums: dict[str, list[float]] = {}
    for path in results[:last]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        scenarios = data.get("scenarios") if isinstance(data, dict) else None
        if not isinstance(scenarios, dict):
            continue
        for name, entry in scenarios.items():
            if not isinstance(entry, dict) or entry.get("status") in ("error", "skipped"):
                continue
            seconds = entry.get("seconds")
            if isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0:
                sums.setdefault(str(name), []).append(float(seconds))
    return {name: sum(values) / len(values) for name, values in sums.items()}


DURATIONS_FILE = "envctl-durations.json"
"""The project's committed durations (next to ``envctl.yaml``, or in the working folder)."""
HISTORY = "history"


def load_durations(source: str | None, project_root: Path, runs_root: Path) -> dict[str, float]:
    """The durations a split is balanced by: ``source`` is a JSON file, ``history`` (this
    machine's recorded run-all results), or None (the project's ``envctl-durations.json``
    when it exists, else none: the split balances counts)."""
    if source == HISTORY:
        return recorded_durations(runs_root)
    if source is None:
        default = project_root / DURATIONS_FILE
        if not default.is_file():
            return {}
        path = default
    else:
        path = Path(source)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"--durations: {path} does not exist; write it with `envctl report durations -o "
            f"{path}` or pass --durations history"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: cannot read durations: {reason}") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: durations must be a JSON object {{"scenario": seconds}}')
    out: dict[str, float] = {}
    for name, value in data.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(
                f"{path}: {str(name)[:60]}: {str(value)[:40]} is not a duration in seconds "
                "(a finite number >= 0)"
            )
        out[str(name)] = float(value)
    return out


def split_digest(names: Iterable[str], total: int, durations: Mapping[str, float]) -> str:
    """What the split depends on, hashed: shards with equal digests split identically."""
    chosen = sorted(set(names))
    payload = json.dumps(
        {"names": chosen, "total": total, "weights": weights(chosen, durations)},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
