"""Scenario files: models, loading, discovery.

Names are imported lazily: service plugins import ``envctl.scenario.spec`` while the
scenario models import the plugins, and a lazy package breaks that cycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envctl._lazy import lazy_exports

if TYPE_CHECKING:
    from envctl.scenario.discovery import find_scenario, list_scenarios, scenario_files
    from envctl.scenario.loader import load_scenario
    from envctl.scenario.models import Category, Scenario
    from envctl.scenario.modes import DependencyMode, ServiceMode

_EXPORTS = {
    "Category": "envctl.scenario.models",
    "DependencyMode": "envctl.scenario.modes",
    "Scenario": "envctl.scenario.models",
    "ServiceMode": "envctl.scenario.modes",
    "find_scenario": "envctl.scenario.discovery",
    "list_scenarios": "envctl.scenario.discovery",
    "load_scenario": "envctl.scenario.loader",
    "scenario_files": "envctl.scenario.discovery",
}

__all__ = [
    "Category",
    "DependencyMode",
    "Scenario",
    "ServiceMode",
    "find_scenario",
    "list_scenarios",
    "load_scenario",
    "scenario_files",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)
