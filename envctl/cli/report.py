"""``envctl report``: results across runs — ``merge`` the shards of a sharded run-all,
write the ``durations`` file shards balance by. Thin over :mod:`envctl.report.merge` and
:mod:`envctl.runner.shard`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from envctl.cli.common import output_file_option, settings_of


@click.group("report")
def report_group() -> None:
    """Merge sharded results; write the durations file shards balance by."""


@report_group.command("merge")
@click.argument("results", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_file_option(
    "--json", "json_file", help="Write the merged result (a run-all result.json) here."
)
@output_file_option("--junit", help="Write one JUnit XML for all shards here.")
@click.option("--strict", is_flag=True, help="A degraded scenario counts as failed.")
def merge(
    results: tuple[Path, ...], json_file: Path | None, junit: Path | None, strict: bool
) -> None:
    """Merge the results of `run-all --shard I/N` (result.json files or run folders).

    Exit as run-all: 0 all passed, 1 any failed, 2 any invalid scenario or a shard missing.
    """
    from envctl.export.actions import append_summary, summary_markdown, summary_path
    from envctl.report.junit import write_junit
    from envctl.report.merge import merge_results, merged_exit_code, read_shard
    from envctl.report.results import write_results
    from envctl.runner.outcome import ScenarioOutcome

    merged = merge_results([read_shard(path) for path in results])
    for name, entry in merged["scenarios"].items():
        click.echo(
            f"{entry['status']:>8}  {name}  {float(entry.get('seconds') or 0):.2f}s"
            f"  [shard {entry['shard']}]"
        )
    counts = ", ".join(f"{n} {k}" for k, n in merged["counts"].items() if n)
    click.echo(
        f"{counts or 'no scenarios'} across {merged['split']['total']} shards; "
        f"longest shard {merged['seconds']:.2f}s, scenarios {merged['scenario_seconds']:.2f}s"
    )
    summary = summary_path(os.environ)
    if summary is not None:  # in GitHub Actions: a table in the job summary
        append_summary(summary, summary_markdown(merged, title="envctl (all shards)"))
    if json_file is not None:
        write_results(json_file, merged)
    if junit is not None:
        outcomes = [
            ScenarioOutcome(
                name=name,
                status=str(entry.get("status", "error")),
                seconds=float(entry.get("seconds") or 0.0),
                reason=entry.get("reason"),
                run_id=str(entry.get("run_id") or ""),
                category=entry.get("category"),
                mode_label=str(entry.get("dependency_mode") or ""),
            )
            for name, entry in merged["scenarios"].items()
        ]
        write_junit(junit, outcomes, strict=strict)
    sys.exit(merged_exit_code(merged, strict))


@report_group.command("durations")
@output_file_option(
    "-o", "--output", help="Write here (default: print). Commit it as envctl-durations.json."
)
@click.pass_context
def durations(ctx: click.Context, output: Path | None) -> None:
    """Mean seconds per scenario over this machine's recent run-all results, as JSON.

    Committed as envctl-durations.json next to envctl.yaml, it is what every shard of a
    sharded run-all balances by (all shards must read the same durations).
    """
    from envctl.report.results import write_results
    from envctl.report.run_folder import runs_root
    from envctl.runner.shard import recorded_durations

    data: dict[str, Any] = {
        name: round(seconds, 3)
        for name, seconds in sorted(recorded_durations(runs_root(settings_of(ctx))).items())
    }
    if output is None:
        click.echo(json.dumps(data, indent=2))
    else:
        write_results(output, data)
        click.echo(f"wrote {len(data)} durations to {output}", err=True)


@click.command()
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: a free one).",
)
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 60),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes of the page (each probes every service).",
)
@click.option("--open", "open_it", is_flag=True, help="Open the page in the default browser.")
@click.pass_context
def dashboard(ctx: click.Context, port: int, interval: float, open_it: bool) -> None:
    """Serve a live page (127.0.0.1 only): environments and their services' health probed
    live, scenarios running now with their current step, recent results. Ctrl-C stops it."""
    from envctl.report.dashboard import DashboardState, serve
    from envctl.report.run_folder import runs_root

    settings = settings_of(ctx)
    state = DashboardState(settings, runs_root(settings))

    def announce(url: str) -> None:
        click.echo(f"envctl dashboard: {url} (Ctrl-C stops it)", err=True)
        if open_it:
            import webbrowser

            webbrowser.open(url)

    try:
        server = serve(state, port=port, interval=interval, ready=announce)
    except OSError as exc:
        raise click.UsageError(
            f"--port {port}: cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
        ) from None
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
