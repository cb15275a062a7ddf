"""``envctl topics`` and ``envctl snapshot save|restore|diff|list``: a run's data, from outside.

Commands only: find the run from its record (``--run-id`` or ``--scenario``), call the
library (:mod:`envctl.inspection`, :mod:`envctl.snapshot`), print. Registered by
:mod:`envctl.cli`.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from envctl.cli.common import check_run_id as _check_run_id
from envctl.cli.common import emit_json as _emit
from envctl.cli.common import settings_of as _settings

if TYPE_CHECKING:
    from envctl.environment import Environment


def _environment(ctx: click.Context, run_id: str | None, scenario: str | None) -> Environment:
    from envctl.environment import environment_from_record, one_record
    from envctl.runtime.combined import Runtimes

    settings = _settings(ctx)
    record = one_record(settings, run_id=run_id, scenario=scenario)
    return environment_from_record(record, settings, lambda: Runtimes.for_settings(settings))


def _size(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{count} B"


def _run_options(func: Any) -> Any:
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)
    func = click.option("--scenario", "-s", "scenario", help="The run of this scenario.")(func)
    func = click.option("--run-id", callback=_check_run_id, help="The run (see envctl status).")(
        func
    )
    return func


# -- envctl topics ------------------------------------------------------------------------------


@click.command()
@_run_options
@click.option("--service", "services", multiple=True, help="Only this Kafka service (repeatable).")
@click.option(
    "--last", "-n", default=5, show_default=True, help="How many of the newest messages to show."
)
@click.pass_context
def topics(
    ctx: click.Context,
    run_id: str | None,
    scenario: str | None,
    as_json: bool,
    services: tuple[str, ...],
    last: int,
) -> None:
    """A run's Kafka topics (kept or up): partitions, message counts, newest messages."""
    from envctl.inspection import kafka_topics

    env = _environment(ctx, run_id, scenario)
    data = kafka_topics(env, services=list(services) or None, last=last, settings=_settings(ctx))
    if as_json:
        _emit({"run_id": env.run_id, "scenario": env.scenario.name, "services": data})
        return
    if not data:
        click.echo(f"run {env.run_id} ({env.scenario.name}) has no Kafka service")
        return
    for service, info in data.items():
        click.echo(
            f"run {env.run_id} ({env.scenario.name}), service {service} "
            f"at {info['bootstrap_servers']}"
        )
        if not info["topics"]:
            click.echo("  no topics")
        for topic in info["topics"]:
            parts = topic["partitions"]
            click.echo(
                f"  {topic['topic']} -> {topic['physical']}: {len(parts)} partition"
                f"{'s' if len(parts) != 1 else ''}, {topic['messages']} messages"
            )
            for number, part in parts.items():
                click.echo(
                    f"    partition {number}: offsets {part['start']}..{part['end']} "
                    f"({part['messages']} messages)"
                )
            for message in topic["last"]:
                click.echo(f"    {_format_message(message)}")


def _format_message(message: dict[str, Any]) -> str:
    stamp = message.get("timestamp")
    when = (
        datetime.fromtimestamp(stamp / 1000, UTC).isoformat(timespec="milliseconds")
        if stamp
        else "-"
    )
    text = (
        f"[{message['partition']}]@{message['offset']} {when} "
        f"key={_decoded(message['key'])} value={_decoded(message['value'])}"
    )
    if message["headers"]:
        headers = ", ".join(f"{k}={_decoded(v)}" for k, v in message["headers"])
        text += f" headers: {headers}"
    return text


def _decoded(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return f"<{len(value['base64']) * 3 // 4} bytes>"
    try:
        return json.dumps(json.loads(value), ensure_ascii=False)
    except (ValueError, TypeError):
        return json.dumps(value, ensure_ascii=False)


# -- envctl snapshot ----------------------------------------------------------------------------


@click.group()
def snapshot() -> None:
    """Save, restore, compare and list snapshots of a running environment's data.

    Snapshots live under .envctl/runs/<run-id>/snapshots/<name>/ as readable files
    (JSON, JSON Lines, SQL) with a manifest.
    """


@snapshot.command("save")
@click.argument("name")
@_run_options
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.option(
    "--max-messages", type=click.IntRange(min=1), help="Kafka: newest messages kept per partition."
)
@click.option("--force", is_flag=True, help="Overwrite a snapshot of the same name.")
@click.pass_context
def save_command(
    ctx: click.Context,
    name: str,
    run_id: str | None,
    scenario: str | None,
    as_json: bool,
    services: tuple[str, ...],
    max_messages: int | None,
    force: bool,
) -> None:
    """Save snapshot NAME of a running environment."""
    from envctl import snapshot as snapshots

    env = _environment(ctx, run_id, scenario)
    manifest = snapshots.save(
        env,
        name,
        services=list(services) or None,
        max_messages=max_messages,
        overwrite=force,
        settings=_settings(ctx),
    )
    if as_json:
        _emit(manifest)
        return
    parts = [
        f"{service} ({_details(info)}, {_size(info['bytes'])})"
        for service, info in manifest["services"].items()
    ]
    click.echo(
        f"saved snapshot '{name}' of run {env.run_id} in {manifest['seconds']:.2f}s: "
        f"{'; '.join(parts)}"
    )
    assert env.run_dir is not None
    click.echo(f"  in {env.run_dir / 'snapshots' / name}")
    for service, info in manifest["services"].items():
        if info["truncated"]:
            cut = ", ".join(info["details"].get("truncated_partitions", []))
            click.echo(
                f"  {service}: truncated to the newest {info['details'].get('max_messages')} "
                f"messages per partition in {cut}; such a snapshot cannot be restored"
            )
        for note in info["notes"]:
            click.echo(f"  note: {note}")
    for service, why in manifest["skipped"].items():
        click.echo(f"  skipped {service}: {why}")


def _details(info: dict[str, Any]) -> str:
    from envctl.services.registry import plugin_for

    return plugin_for(info["type"]).snapshot_summary(info["details"])


@snapshot.command("restore")
@click.argument("name")
@_run_options
@click.option("--service", "services", multiple=True, help="Only this service (repeatable).")
@click.pass_context
def restore_command(
    ctx: click.Context,
    name: str,
    run_id: str | None,
    scenario: str | None,
    as_json: bool,
    services: tuple[str, ...],
) -> None:
    """Bring a running environment's data back to snapshot NAME."""
    from envctl import snapshot as snapshots

    env = _environment(ctx, run_id, scenario)
    started = time.monotonic()
    notes = snapshots.restore(env, name, services=list(services) or None, settings=_settings(ctx))
    seconds = time.monotonic() - started
    if as_json:
        _emit(
            {"run_id": env.run_id, "snapshot": name, "seconds": round(seconds, 3), "notes": notes}
        )
        return
    click.echo(f"restored run {env.run_id} to snapshot '{name}' in {seconds:.2f}s")
    for note in notes:
        click.echo(f"  note: {note}")


@snapshot.command("diff")
@click.argument("first")
@click.argument("second", required=False)
@_run_options
@click.pass_context
def diff_command(
    ctx: click.Context,
    first: str,
    second: str | None,
    run_id: str | None,
    scenario: str | None,
    as_json: bool,
) -> None:
    """What changed from snapshot FIRST to SECOND (default: to the state now)."""
    from envctl import snapshot as snapshots

    env = _environment(ctx, run_id, scenario)
    result = snapshots.diff(env, first, second, settings=_settings(ctx))
    if as_json:
        _emit(result)
        return
    click.echo(snapshots.format_diff(result))


@snapshot.command("list")
@_run_options
@click.pass_context
def list_command(
    ctx: click.Context, run_id: str | None, scenario: str | None, as_json: bool
) -> None:
    """The snapshots of a run."""
    from envctl import snapshot as snapshots

    env = _environment(ctx, run_id, scenario)
    manifests = snapshots.list_snapshots(env)
    if as_json:
        _emit({"run_id": env.run_id, "snapshots": manifests})
        return
    if not manifests:
        click.echo(f"run {env.run_id} has no snapshots")
        return
    for manifest in manifests:
        services = ", ".join(manifest["services"])
        flag = " (truncated)" if manifest.get("truncated") else ""
        click.echo(
            f"{manifest['name']:<20} {manifest['created']}  {_size(manifest['bytes']):>9}  "
            f"{services}{flag}"
        )
