"""Scenario files: models, loading, discovery."""

from __future__ import annotations

from envctl.scenario.discovery import find_scenario, list_scenarios, scenario_files
from envctl.scenario.loader import load_scenario
from envctl.scenario.models import Category, Scenario
from envctl.scenario.spec import DependencyMode, ServiceMode

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
