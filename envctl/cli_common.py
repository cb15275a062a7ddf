"""What every CLI command module shares: the settings of this invocation, JSON output,
and finding a scenario by name. Kept apart from ``cli.py`` so command modules need not
import the group that registers them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario
    from envctl.settings import Settings


def settings_of(ctx: click.Context) -> Settings:
    """The settings of this invocation, read once from the global options and environment."""
    from envctl.settings import Settings

    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = Settings.load(
            scenarios_dir=obj.get("scenarios_dir"), profile=obj.get("profile")
        )
    settings: Settings = obj["settings"]
    return settings


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def load_named(ctx: click.Context, name: str, profile: str | None = None) -> Scenario:
    """The scenario called ``name`` (or at that path), as the global options say;
    ``profile`` (a command's own option) wins over ``--profile`` / ``ENVCTL_PROFILE``."""
    from envctl.scenario import find_scenario

    settings = settings_of(ctx)
    if profile is not None:
        settings = replace(settings, profile=profile)
    path = find_scenario(settings.scenarios_dir, name)
    return settings.load_scenario(relative(path, settings.cwd))


def relative(path: Path, cwd: Path) -> Path:
    """``path`` relative to ``cwd`` when it lies below it (shorter messages)."""
    try:
        return path.resolve().relative_to(cwd)
    except ValueError:
        return path
