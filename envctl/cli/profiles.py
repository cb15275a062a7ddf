"""``envctl profile list|show``: environment profiles.

Parse, call the library (:mod:`envctl.profiles`), print.
"""

from __future__ import annotations

import click

from envctl.cli.common import load_named as _load
from envctl.cli.common import settings_of as _settings


@click.group("profile")
def profile_group() -> None:
    """Environment profiles: overlays chosen with --profile / ENVCTL_PROFILE."""


@profile_group.command("list")
@click.option("--scenario", "-s", "name", help="Also the profiles this scenario defines.")
@click.pass_context
def profile_list(ctx: click.Context, name: str | None) -> None:
    """List the profiles a scenario (or every scenario) can use."""
    from envctl.profiles import BUILTIN_PROFILES, known_profiles

    settings = _settings(ctx)
    project = dict(settings.project_profiles)
    own = dict(_load(ctx, name, profile="").profiles) if name is not None else {}
    for profile_name, where in sorted(known_profiles({"profiles": own}, project).items()):
        definition = own.get(profile_name) or project.get(profile_name)
        description = BUILTIN_PROFILES.get(profile_name) or (
            definition.description if definition is not None else ""
        )
        click.echo(f"{profile_name:<16} {where:<24} {description}".rstrip())


@profile_group.command("show")
@click.argument("profile")
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.pass_context
def profile_show(ctx: click.Context, profile: str, name: str) -> None:
    """Print what PROFILE changes in a scenario, one `key.path: old -> new` per line.

    PROFILE may list several, comma-separated (applied in order).
    """
    from envctl.profiles import apply_profile, profile_changes, scenario_data, validated

    settings = _settings(ctx)
    scenario = _load(ctx, name, profile="")
    before = scenario_data(scenario)
    after = apply_profile(before, profile, dict(settings.project_profiles), settings.environ)
    validated(after, scenario)  # the result must still be a valid scenario
    changes = profile_changes(before, after)
    for line in changes:
        click.echo(line)
    if not changes:
        click.echo(f"profile '{profile}' changes nothing in {scenario.name}", err=True)
