"""Seeding the in-memory doubles: a mock run starts from the same data as a real one.

The seed files are read and checked by the same code the real services use
(:mod:`envctl.seed`); only the last step differs: records go through the mock tools'
own interfaces (execute, set/hset) instead of a producer, psycopg or redis-py — each
type's ``seed_mock`` hook (``seed_double`` in ``envctl/services/<type>/mock.py``); Kafka
records are stored as the producer would send them (no correlation id or content type added).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envctl.scenario.models import Scenario
from envctl.scenario.spec import DependencyMode
from envctl.seed.paths import resolve_seed_path
from envctl.services.registry import plugin_for


def seed_mocks(
    scenario: Scenario,
    tools: Mapping[str, Any],
    modes: Mapping[str, DependencyMode],
    tree: Path | None,
) -> int:
    """Load every mock-mode service's seed files into its double; returns how many files."""
    base = scenario.source.parent if scenario.source is not None else None
    loaded = 0
    for name, spec in scenario.external_services.items():
        tool = tools.get(name)
        if tool is None or modes.get(name) != DependencyMode.MOCK:
            continue
        for seed in getattr(spec, "seed", []) or []:
            path = resolve_seed_path(seed.from_, base, tree, name)
            plugin_for(spec.type).seed_mock(tool, seed, path, name)
            loaded += 1
    return loaded
