"""The commands that run scenarios and read recorded runs: ``run``, ``run-all``, ``replay``,
``logs``, ``compare``, ``check-protocols``. Thin: parse, call :mod:`envctl.runner` /
:mod:`envctl.report` / :mod:`envctl.report.compare`, print.

Registered on the ``envctl`` group by :mod:`envctl.cli`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from envctl.cli.common import check_output as _check_output
from envctl.cli.common import check_run_id as _check_run_id
from envctl.cli.common import emit_json as _emit
from envctl.cli.common import load_named as _load
from envctl.cli.common import settings_of as _settings

if TYPE_CHECKING:
    from envctl.runner import Runner, ScenarioOutcome

MODE_HELP = (
    "real | mock for every service; wins over ENVCTL_DEPENDENCY_MODE and the scenario's "
    "dependency_mode."
)


def _runner(
    ctx: click.Context,
    progress: Any = None,
    trace: str | None = None,
    reuse: bool | None = None,
    share: bool = False,
    keep_on_failure: bool = False,
) -> Runner:
    from envctl.runner import Runner

    return Runner(
        _settings(ctx),
        progress=progress,
        trace=trace,
        reuse=reuse,
        share=share,
        keep_on_failure=keep_on_failure,
    )


KEEP_HELP = (
    "A run that fails keeps everything it started (containers, topics, databases, keys), "
    "whatever cleanup_after says, and prints how to reach and remove it."
)


TRACE_HELP = (
    "When to write the failure bundle (bundle.html in the run folder): retain-on-failure "
    "(default), on (every run) or off; also ENVCTL_TRACE."
)
REUSE_HELP = (
    "Take the real services from a warm instance kept by an earlier run (or leave one for "
    "the next), each run in its own namespace; --no-reuse never does. Default: "
    "ENVCTL_REUSE, else the scenario's or project config's reuse:, else off."
)


def _check_mode(value: str | None) -> str | None:
    if value is None:
        return None
    from envctl.runner.modes import parse_mode

    return parse_mode(value, "--force-dependency-mode").value


_MARK = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip", "pending": "    "}


def _print_outcome(outcome: ScenarioOutcome) -> None:
    err = sys.stderr
    for step in outcome.steps:
        click.echo(f"  {_MARK.get(step.status, '    ')} {step.label} {step.seconds:.2f}s", file=err)
        if step.status == "failed":
            click.echo(f"       {step.error}", file=err)
    for item in outcome.expectations:
        mark = "ok  " if item["status"] == "passed" else "FAIL"
        click.echo(f"  {mark} expected {item['what']}", file=err)
        if item["status"] != "passed":
            click.echo(f"       {item.get('error', '')}", file=err)
    phases = " ".join(f"{k} {v:.2f}s" for k, v in outcome.phases.items())
    line = f"{outcome.name}: {outcome.status} in {outcome.seconds:.2f}s"
    line += f" ({outcome.mode_label}{'; ' + phases if phases else ''}; run {outcome.run_id})"
    click.echo(line)
    if outcome.reason and outcome.status != "passed":
        click.echo(f"  {outcome.reason}")
    if outcome.bundle:
        click.echo(f"  failure bundle: {outcome.bundle}")
    if outcome.kept:  # what cleanup_after kept, how to reach it and how to remove it
        for kept_line in outcome.kept.splitlines():
            click.echo(f"  {kept_line}")
    for warning in outcome.warnings:
        click.echo(f"  warning: {warning}", file=err)
    if outcome.run_dir:
        click.echo(f"  audit log: {outcome.run_dir}/audit.jsonl", file=err)


def _exit_for(outcome: ScenarioOutcome, strict: bool) -> int:
    if outcome.status == "error":
        return 2
    if outcome.status == "failed" or (strict and outcome.status == "degraded"):
        return 1
    return 0


@click.command()
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.option("--force-dependency-mode", "force_mode", metavar="MODE", help=MODE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as one JSON object.")
@click.option("--strict", is_flag=True, help="A degraded run (fallback to a mock) fails.")
@click.option("--trace", type=click.Choice(["retain-on-failure", "on", "off"]), help=TRACE_HELP)
@click.option("--reuse/--no-reuse", default=None, help=REUSE_HELP)
@click.option("--keep-on-failure", is_flag=True, help=KEEP_HELP)
@click.pass_context
def run(
    ctx: click.Context,
    name: str,
    force_mode: str | None,
    as_json: bool,
    strict: bool,
    trace: str | None,
    reuse: bool | None,
    keep_on_failure: bool,
) -> None:
    """Run a scenario: start its services (real) or mocks, run the steps, check `expected`.

    Exit 0 passed (also skipped or degraded), 1 failed, 2 invalid scenario or option.
    """
    from envctl.errors import ConfigError
    from envctl.progress import LineProgress

    force = _check_mode(force_mode)
    scenario = _load(ctx, name, warn_now=as_json)  # else the printed outcome says them
    progress = None if as_json else LineProgress()
    runner = _runner(ctx, progress, trace, reuse=reuse, keep_on_failure=keep_on_failure)
    try:
        outcome = runner.run(scenario, force_mode=force)
        if outcome.status == "error":
            raise ConfigError(outcome.reason or "invalid scenario")
        if as_json:
            _emit(outcome.to_dict())
        else:
            _print_outcome(outcome)
    finally:
        for problem in runner.close():  # a namespace's cleanup, after the result is out
            click.echo(f"envctl: warning: {problem}", err=True)
    sys.exit(_exit_for(outcome, strict))


@click.command("run-all")
@click.option(
    "--category",
    type=click.Choice(["unit", "integration", "mixed"]),
    help="Only the scenarios of this category.",
)
@click.option(
    "--parallel",
    type=click.IntRange(1, 64),
    default=None,
    help="Scenarios at a time (default: 4 per CPU, at most 16; each in its own namespace).",
)
@click.option("--reuse/--no-reuse", default=None, help=REUSE_HELP)
@click.option(
    "--junit",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_check_output,
    help="Write JUnit XML.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_check_output,
    help="Write JSON.",
)
@click.option("--strict", is_flag=True, help="A degraded scenario counts as failed.")
@click.option("--force-dependency-mode", "force_mode", metavar="MODE", help=MODE_HELP)
@click.option(
    "--no-share",
    is_flag=True,
    help="Start every scenario's own services (default: identical ones are shared).",
)
@click.option(
    "--shard",
    metavar="I/N",
    help="Run only shard I of N (1-based) of the selected scenarios; also ENVCTL_SHARD, or "
    "JOB_COMPLETION_INDEX (0-based) with ENVCTL_SHARD_TOTAL. See docs/scaling.md.",
)
@click.option(
    "--durations",
    metavar="FILE|history",
    help="Balance shards by these durations (JSON {scenario: seconds}) or by this machine's "
    "run history; default: the project's envctl-durations.json if present, else counts.",
)
@click.option("--trace", type=click.Choice(["retain-on-failure", "on", "off"]), help=TRACE_HELP)
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_check_output,
    help="Also write the HTML report here (always written as report.html in the run folder).",
)
@click.option(
    "--keep-on-failure",
    is_flag=True,
    help=KEEP_HELP + " Each scenario then starts its own services (as --no-share).",
)
@click.pass_context
def run_all(
    ctx: click.Context,
    category: str | None,
    parallel: int | None,
    reuse: bool | None,
    junit: Path | None,
    json_file: Path | None,
    strict: bool,
    force_mode: str | None,
    no_share: bool,
    shard: str | None,
    durations: str | None,
    trace: str | None,
    html_file: Path | None,
    keep_on_failure: bool,
) -> None:
    """Run every scenario (or a category); scenarios needing identical services share them.

    Progress on stderr: on a terminal a live display (scenarios running now, done/total,
    outcomes so far), else a line as each scenario starts and ends. Ctrl-C starts no other
    scenario, waits for those running to end and clean up, and says what finished.

    Exit 0 all passed (or skipped/degraded), 1 any failed (or degraded with --strict),
    2 any invalid scenario, 130 interrupted. Writes .envctl/runs/<run-id>/result.json.
    """
    from envctl.export import actions
    from envctl.progress import scenario_progress_for
    from envctl.report.junit import write_junit
    from envctl.report.results import write_results
    from envctl.runner.run_all import run_all as run_all_scenarios

    force = _check_mode(force_mode)
    runner = _runner(ctx, trace=trace, reuse=reuse, keep_on_failure=keep_on_failure)
    if keep_on_failure:
        no_share = True  # a failed scenario's own services are what is kept
    try:
        spec, weights = _shard_options(ctx, runner, shard, durations)
        with scenario_progress_for() as progress:
            result = run_all_scenarios(
                runner,
                category=category,
                parallel=parallel,
                force_mode=force,
                share=not no_share,
                shard=spec,
                durations=weights,
                progress=progress,
            )
    finally:
        for problem in runner.close():
            click.echo(f"envctl: warning: {problem}", err=True)
    if result.shard is not None:
        click.echo(
            f"shard {result.shard['index']}/{result.shard['total']}: {len(result.outcomes)} of "
            f"{len(result.shard['assignment'])} scenarios (balanced by "
            f"{result.shard['balanced_by']})",
            err=True,
        )
    for outcome in result.outcomes:
        status = outcome.status
        if status == "degraded" and strict:
            status = "degraded (fails: --strict)"
        shared = f" [shared {outcome.shared_with}]" if outcome.shared_with else ""
        click.echo(f"{status:>8}  {outcome.name}  {outcome.seconds:.2f}s{shared}")
        if outcome.reason and outcome.status != "passed":
            for line in outcome.reason.splitlines():
                click.echo(f"          {line}")
        if outcome.bundle:
            click.echo(f"          failure bundle: {outcome.bundle}")
        if outcome.kept:
            for kept_line in outcome.kept.splitlines():
                click.echo(f"          {kept_line}")
        for warning in outcome.warnings:
            click.echo(f"          warning: {warning}", err=True)
    counts = result.counts()
    summary = ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    click.echo(f"{summary or 'no scenarios'} in {result.seconds:.2f}s (run {result.run_id})")
    click.echo(f"results: {result.directory}/result.json", err=True)
    click.echo(f"report: {result.directory}/report.html", err=True)
    if html_file is not None:
        from envctl.runner.run_all import write_html_report

        try:
            write_html_report(result, runner.runs_root, html_file)
        except OSError as exc:
            raise click.UsageError(
                f"--html {html_file}: cannot write: {exc.strerror or exc}"
            ) from None
    summary_file = actions.summary_path(os.environ)
    if summary_file is not None:  # in GitHub Actions: a table in the job summary
        actions.append_summary(summary_file, actions.summary_markdown(result.to_dict()))
    if junit is not None:
        write_junit(junit, result.outcomes, strict=strict)
    if json_file is not None:
        data = result.to_dict()
        data["outcomes"] = {o.name: o.to_dict() for o in result.outcomes}
        write_results(json_file, data)
    sys.exit(result.exit_code(strict))


def _shard_options(
    ctx: click.Context, runner: Runner, shard: str | None, durations: str | None
) -> tuple[Any, dict[str, float]]:
    from envctl.runner.shard import load_durations, parse_shard, shard_from_environment

    settings = _settings(ctx)
    spec = parse_shard(shard) if shard is not None else shard_from_environment(settings.environ)
    if spec is None:
        if durations is not None:
            raise click.UsageError("--durations needs --shard (or ENVCTL_SHARD)")
        return None, {}
    root = (
        settings.project_config_path.parent
        if settings.project_config_path is not None
        else Path.cwd()
    )
    return spec, load_durations(durations, root, runner.runs_root)


@click.command()
@click.argument("run_id", callback=_check_run_id)
@click.option("--force-dependency-mode", "force_mode", metavar="MODE", help=MODE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.pass_context
def replay(ctx: click.Context, run_id: str, force_mode: str | None, as_json: bool) -> None:
    """Re-run a recorded run's steps on a fresh environment; show where the outcome differs.

    Exit 0 when the outcome is the recorded one, 1 when it differs, 2 when the run is unknown.
    """
    from envctl.runner.replay import replay as replay_run

    force = _check_mode(force_mode)
    result = replay_run(_runner(ctx), run_id, force_mode=force)
    if as_json:
        _emit(result.to_dict())
    else:
        _print_outcome(result.outcome)
        if result.same:
            click.echo(f"same outcome as run {run_id}")
        else:
            click.echo(f"differs from run {run_id}:")
            for difference in result.differences:
                click.echo(f"  {difference}")
    sys.exit(0 if result.same else 1)


@click.command()
@click.argument("run_id", callback=_check_run_id)
@click.option("--service", help="Only this service's log.")
@click.pass_context
def logs(ctx: click.Context, run_id: str, service: str | None) -> None:
    """Show the container logs captured for a run (and where its audit log is)."""
    from envctl.errors import ConfigError
    from envctl.report.audit import read_run
    from envctl.report.run_folder import SHARED_DIR

    runner = _runner(ctx)
    recorded = read_run(runner.runs_root, run_id)
    found = recorded.logs()
    for shared in sorted((recorded.directory / SHARED_DIR).glob("*")):
        for name, path in sorted(read_run(shared.parent, shared.name).logs().items()):
            found.setdefault(name, path)
    real = any(e.get("dependency_mode") == "real" for e in recorded.of_kind("decision.service"))
    why_none = (
        "the run ended before its containers' logs were saved, or started none (see its audit log)"
        if real
        else "mock mode starts no container"
    )
    if service is not None:
        if service not in found:
            known = ", ".join(sorted(found)) or f"none ({why_none})"
            raise ConfigError(f"run {run_id} captured no log of '{service}'; captured: {known}")
        found = {service: found[service]}
    click.echo(f"# run {run_id}: audit log {recorded.directory / 'audit.jsonl'}", err=True)
    if not found:
        click.echo(f"no container logs captured ({why_none})", err=True)
    for name, path in found.items():
        if service is None:
            click.echo(f"==> {name} ({path}) <==")
        click.echo(path.read_text(encoding="utf-8", errors="replace"), nl=False)


@click.command("check-protocols")
@click.option("--json", "as_json", is_flag=True, help="Print the divergences as JSON.")
def check_protocols(as_json: bool) -> None:
    """Compare the real and mock tools of every service type; exit 1 when their APIs differ."""
    from envctl.tools.registry import check_protocols as check

    divergences = check()
    if as_json:
        _emit([d.to_dict() if hasattr(d, "to_dict") else str(d) for d in divergences])
    elif divergences:
        for divergence in divergences:
            click.echo(str(divergence))
    else:
        click.echo("real and mock tools agree")
    sys.exit(1 if divergences else 0)


@click.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when a scenario that passed in RUN_A does not pass in RUN_B.",
)
@click.pass_context
def compare_command(
    ctx: click.Context, run_a: str, run_b: str, as_json: bool, fail_on_regression: bool
) -> None:
    """Compare two recorded runs: status and time of every scenario.

    RUN_A and RUN_B are run ids under .envctl/runs (the state folder: ENVCTL_STATE_DIR),
    run directories, or result.json files.
    """
    import json

    from envctl.report.compare import compare, format_comparison, load_run
    from envctl.report.run_folder import runs_root

    settings = _settings(ctx)
    root = runs_root(settings)
    a = load_run(run_a, root)
    b = load_run(run_b, root)
    comparison = compare(a, b)
    if as_json:
        click.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        click.echo(format_comparison(comparison))
    if fail_on_regression and comparison.regressions:
        names = ", ".join(s.name for s in comparison.regressions)
        click.echo(f"envctl: regressions: {names}", err=True)
        sys.exit(1)


@click.command()
@click.argument("run_id", callback=_check_run_id)
@click.option("--open", "open_it", is_flag=True, help="Open it in the default browser.")
@click.pass_context
def show(ctx: click.Context, run_id: str, open_it: bool) -> None:
    """Where a run's failure bundle (or a run-all's HTML report) is; --open opens it.

    A run that has no bundle yet (it passed) gets one written now from its record.
    """
    from envctl.report.bundle import BUNDLE_FILE, write_bundle
    from envctl.report.html_report import REPORT_FILE
    from envctl.report.run_folder import AUDIT_FILE, existing_run_dir, runs_root

    folder = existing_run_dir(runs_root(_settings(ctx)), run_id)
    report = folder / REPORT_FILE
    bundle = folder / BUNDLE_FILE
    if report.is_file():
        target = report
    elif bundle.is_file():
        target = bundle
    elif (folder / AUDIT_FILE).is_file():
        target = write_bundle(folder)
    else:
        raise click.UsageError(f"run {run_id} has no record to show (no {AUDIT_FILE})")
    click.echo(str(target))
    if open_it:
        import webbrowser

        if not webbrowser.open(target.resolve().as_uri()):
            click.echo("envctl: no browser found; open the file above", err=True)
