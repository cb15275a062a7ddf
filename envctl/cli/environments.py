"""The commands about environments: ``up``, ``status``, ``down``, ``gc``, ``health``.

Parse, call the library (:mod:`envctl.engine`, :mod:`envctl.status`, :mod:`envctl.cleanup`,
:mod:`envctl.gc`, :mod:`envctl.health`), print.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from envctl.cli.common import check_run_id as _check_run_id
from envctl.cli.common import emit_json as _emit_json
from envctl.cli.common import load_named as _load
from envctl.cli.common import settings_of as _settings
from envctl.variables import dotted_fields

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from envctl.environment import Environment


@click.command()
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option(
    "--keep-on-failure",
    is_flag=True,
    help="Leave a failed environment up for inspection (remove it with envctl down).",
)
@click.option(
    "--fault-proxy",
    "fault_proxies",
    multiple=True,
    metavar="SERVICE",
    help="Put SERVICE behind a fault proxy, for `envctl fault latency|loss|...` (repeatable).",
)
@click.pass_context
def up(
    ctx: click.Context,
    name: str,
    as_json: bool,
    keep_on_failure: bool,
    fault_proxies: tuple[str, ...],
) -> None:
    """Start a scenario's services, wait until ready, and leave them running."""
    import time

    from envctl.engine import Engine
    from envctl.errors import EnvctlError
    from envctl.progress import progress_for
    from envctl.runtime.docker import DockerRuntime

    settings = _settings(ctx)
    scenario = _load(ctx, name)
    unknown = [s for s in fault_proxies if s not in scenario.external_services]
    if unknown:
        raise click.UsageError(
            f"--fault-proxy {unknown[0]}: no such service in {scenario.name} "
            f"(services: {', '.join(scenario.external_services)})"
        )
    started = time.monotonic()
    env: Environment | None = None
    try:
        with progress_for(f"envctl up {scenario.name}") as progress:
            engine = Engine(settings, lambda: DockerRuntime.connect(settings.environ), progress)
            try:
                env = engine.up(
                    scenario,
                    keep_on_failure=keep_on_failure,
                    detach=True,
                    fault_proxies=fault_proxies,
                )
            except EnvctlError as exc:
                failed = getattr(exc, "environment", None)
                if as_json and failed is not None:
                    _emit_json({**failed.to_dict(), "error": str(exc)})
                raise
        if as_json:
            _emit_json(env.to_dict())
            return
        _print_environment(env, time.monotonic() - started)
    except BaseException as exc:
        if env is not None and not isinstance(exc, EnvctlError):
            # interrupted after `up` finished: it is up, and stays up (say so truthfully)
            exc.add_note(
                f"the environment of run {env.run_id} is up; "
                f"remove it with `envctl down --run-id {env.run_id}`"
            )
        raise


def _print_environment(env: Environment, seconds: float) -> None:
    if not sys.stdout.isatty():  # piped: one plain `service key=value ...` line each, whole
        click.echo(f"{env.scenario.name} is up (run {env.run_id}, {seconds:.1f}s)")
        for name, state in env.services.items():
            fields = " ".join(f"{k}={v}" for k, v in dotted_fields(state.endpoints))
            click.echo(f"{name} type={state.type} status={state.status} {fields}".rstrip())
        click.echo(f"remove with: envctl down --run-id {env.run_id}")
        return
    show_environment(_terminal(), env, seconds)


def _terminal() -> Console:
    from rich.console import Console

    # soft_wrap: a line longer than the terminal continues on the next one, never cut
    return Console(highlight=False, soft_wrap=True)


def _table(*columns: str, title: str | None = None) -> Table:
    """A borderless table whose cells fold instead of being cut with an ellipsis."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def show_reach(console: Console, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """How to reach each service, below its table: one ``key=value`` a line, printed whole
    (nested fields dotted, as a user writes them: ``topics.orders=envctl.3f2a.orders``).

    Connection strings (``bootstrap_servers``, ``dsn``, ``url``, topic names) never go in a
    table column, where a narrow terminal would cut or fold them: here a long one runs on
    past the terminal's edge (soft wrap) and a copy-paste gives it back whole.
    """
    from rich.text import Text

    width = max((len(name) for name, endpoints in rows if endpoints), default=0)
    for name, endpoints in rows:
        for index, (key, value) in enumerate(dotted_fields(endpoints)):
            head = name if index == 0 else ""
            console.print(Text(f"  {head:<{width}}  {key}={value}"), soft_wrap=True)


def show_environment(console: Console, env: Environment, seconds: float) -> None:
    """``up``'s summary on a terminal: short columns in a table, connection strings below."""
    from rich.markup import escape

    name = escape(env.scenario.name)
    console.print(f"[bold]{name}[/] is up (run [bold]{env.run_id}[/], {seconds:.1f}s)")
    table = _table("service", "type", "status", "container")
    for name, state in env.services.items():
        table.add_row(name, state.type, state.status, state.container or "-")
    console.print(table)
    rows = [(name, state.endpoints) for name, state in env.services.items()]
    if any(endpoints for _, endpoints in rows):
        console.print("Reach them at:")
        show_reach(console, rows)
    console.print(f"Remove with: envctl down --run-id {env.run_id}")


def show_status(
    console: Console, runs: Sequence[Mapping[str, Any]], warm: Sequence[Mapping[str, Any]]
) -> None:
    """``status`` on a terminal: warm instances, the services of each run in a table, and
    every connection string whole below it (``RUN_ID SERVICE key=value``)."""
    if warm:
        warm_table = _table(
            "key", "run id", "services", "users", "idle", "removed after", title="warm instances"
        )
        for item in warm:
            users = ", ".join(f"pid {u['pid']} ({u['scenario']})" for u in item["users"])
            warm_table.add_row(
                item["key"],
                item["run_id"],
                ", ".join(item["services"]),
                users or "none",
                "in use" if item["users"] else f"{item['idle']:.0f}s",
                f"{item['ttl']:.0f}s idle",
            )
        console.print(warm_table)

    table = _table("run id", "scenario", "service", "status", "created")
    for run in runs:
        for service, info in run["services"].items():
            table.add_row(run["run_id"], run["scenario"], service, info["status"], run["created"])
    console.print(table)
    rows = [
        (f"{run['run_id']} {service}", info["endpoints"])
        for run in runs
        for service, info in run["services"].items()
    ]
    if any(endpoints for _, endpoints in rows):
        console.print("Reach them at:")
        show_reach(console, rows)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--label",
    "label_filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Only environments carrying this label (repeatable), e.g. ci.job=42 from ENVCTL_LABELS.",
)
@click.option("--owner", metavar="HOST", help="Only environments started on this host.")
@click.pass_context
def status(
    ctx: click.Context, as_json: bool, label_filters: tuple[str, ...], owner: str | None
) -> None:
    """List running environments (read from Docker labels and native process records).

    On a terminal, a table of the services, then every connection string whole below it
    (RUN_ID SERVICE key=value). Piped, each service is one plain line: RUN_ID SCENARIO
    SERVICE status=... key=value ... with every connection string whole. A nested field
    is dotted, as ${services.NAME...} writes it: topics.orders=envctl.3f2a9c1d.orders.
    """
    from envctl.runtime.base import LABEL_OWNER_HOST
    from envctl.runtime.combined import Runtimes
    from envctl.status import environments

    settings = _settings(ctx)
    # Every user's environments (status only reads; `--label` narrows): ENVCTL_LABELS does
    # not scope it, so an environment started another way (a compose export) still shows.
    wanted: dict[str, str] = {}
    for pair in label_filters:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"--label {pair!r}: write KEY=VALUE, e.g. --label ci.job=42")
        wanted[key.strip()] = value.strip()
    if owner:
        wanted[LABEL_OWNER_HOST] = owner
    runtimes = Runtimes.for_settings(settings)
    runs = environments(runtimes, wanted or None)
    warm = _warm_instances(settings, runtimes)
    if runtimes.docker_error is not None and not as_json:
        click.echo(f"(containers not listed: {runtimes.docker_error})", err=True)
    if as_json:
        _emit_json({"environments": runs, "warm": warm})
        return
    if not runs:
        click.echo("no environments")
        return
    if not sys.stdout.isatty():  # piped: plain lines, nothing cut
        for run in runs:
            for service, info in run["services"].items():
                fields = " ".join(f"{k}={v}" for k, v in dotted_fields(info["endpoints"]))
                head = f"{run['run_id']} {run['scenario']} {service} status={info['status']}"
                click.echo(f"{head} {fields}".rstrip())
        return
    show_status(_terminal(), runs, warm)


def _reap_warm(settings: Any, runtimes: Any, dry_run: bool) -> tuple[list[str], list[str]]:
    """Warm instances idle past their TTL and held by no run: removed (or listed)."""
    from envctl.errors import DockerUnavailable
    from envctl.warm import LeaseBook, reap, warm_dir

    try:
        docker = runtimes.docker
    except DockerUnavailable:
        return [], []
    removed, errors = reap(
        docker, LeaseBook(warm_dir(settings)), dry_run=dry_run, labels=settings.extra_labels
    )
    verb = "would remove" if dry_run else "removed"
    return [
        f"{verb} warm instance {i.key} (run {i.run_id}): idle longer than its TTL ({i.ttl:.0f}s)"
        for i in removed
    ], errors


def _warm_instances(settings: Any, runtimes: Any) -> list[dict[str, Any]]:
    """Warm instances (``envctl.warm``) with their users and idle time; [] without Docker."""
    import time

    from envctl.errors import DockerUnavailable
    from envctl.warm import LeaseBook, instances, warm_dir

    try:
        docker = runtimes.docker
    except DockerUnavailable:
        return []
    now = time.time()
    book = LeaseBook(warm_dir(settings))
    return [i.to_dict(now) for i in instances(docker, book, labels=settings.extra_labels)]


def _say_scope(settings: Any) -> None:
    """After "nothing found": say that ENVCTL_LABELS narrowed the search (on stderr)."""
    if settings.extra_labels:
        shown = ",".join(f"{k}={v}" for k, v in settings.extra_labels.items())
        click.echo(
            f"(only those labelled ENVCTL_LABELS={shown}; unset ENVCTL_LABELS to see all)",
            err=True,
        )


@click.command()
@click.option(
    "--scenario",
    "-s",
    "name",
    help="Every run of this scenario (with ENVCTL_LABELS set: those carrying its labels).",
)
@click.option("--run-id", callback=_check_run_id, help="One run (whatever its labels).")
@click.option(
    "--all",
    "everything",
    is_flag=True,
    help="Every envctl-managed resource (with ENVCTL_LABELS set: those carrying its labels).",
)
@click.option(
    "--warm",
    is_flag=True,
    help="Every warm instance no run is using (those in use are kept, and said so).",
)
@click.pass_context
def down(
    ctx: click.Context, name: str | None, run_id: str | None, everything: bool, warm: bool
) -> None:
    """Remove the containers, networks and volumes of environments, and the topics,
    databases and keys their runs kept on external services. Safe to run twice.

    With ENVCTL_LABELS set (as at creation), --all and --scenario touch only resources and
    runs carrying those labels, so on a shared daemon one user's `down --all` leaves the
    others' environments alone; unset ENVCTL_LABELS to remove every user's.
    """
    from envctl.cleanup import remove_recorded
    from envctl.errors import EnvctlError
    from envctl.faults.recover import revert_run
    from envctl.report.run_folder import runs_root
    from envctl.runtime.base import LABEL_RUN_ID, LABEL_SCENARIO
    from envctl.runtime.combined import Runtimes

    chosen = [x for x in (name, run_id, everything or None, warm or None) if x]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --scenario NAME, --run-id ID, --all or --warm")
    settings = _settings(ctx)
    if warm:
        from envctl.warm import LeaseBook, reap, warm_dir

        book = LeaseBook(warm_dir(settings))
        docker = Runtimes.for_settings(settings).docker
        removed, errors = reap(docker, book, everything=True, labels=settings.extra_labels)
        for instance in removed:
            services = sorted({r.service for r in instance.resources if r.service})
            click.echo(f"removed warm instance {instance.key} ({', '.join(services)})")
        for item in _warm_instances(settings, Runtimes.for_settings(settings)):
            pids = ", ".join(str(u["pid"]) for u in item["users"])
            click.echo(f"kept warm instance {item['key']}: in use by pid {pids}")
        if not removed:
            click.echo("no warm instance to remove")
        if errors:
            raise EnvctlError("could not remove: " + "; ".join(errors))
        return
    done, data_errors = remove_recorded(
        settings, run_id=run_id, scenario=name, everything=everything
    )
    for line in done:
        click.echo(line)
    runtime = Runtimes.for_settings(settings)
    # a run id names one run exactly; --scenario and --all stay inside ENVCTL_LABELS
    scope = {} if run_id else dict(settings.extra_labels)
    labels = (
        {**scope, LABEL_SCENARIO: name} if name else {LABEL_RUN_ID: run_id} if run_id else scope
    )
    resources = runtime.list_managed(labels or None)
    for run in sorted({r.run_id for r in resources} | ({run_id} if run_id else set())):
        reverted, fault_errors = revert_run(runs_root(settings), run, runtime)
        for line in reverted:
            click.echo(line)
        data_errors += fault_errors
    if not resources:
        if not done:
            click.echo("nothing to remove")
            if not run_id:
                _say_scope(settings)
        if data_errors:
            raise EnvctlError("could not remove: " + "; ".join(data_errors))
        return
    errors = runtime.remove(resources) + data_errors
    counts = {
        kind: sum(r.kind == kind for r in resources) for kind in ("container", "network", "volume")
    }
    processes = sum(r.kind == "container" and r.id.startswith("native:") for r in resources)
    runs = sorted({r.run_id for r in resources})
    click.echo(
        f"removed {counts['container'] - processes} containers, {counts['network']} networks, "
        f"{counts['volume']} volumes"
        + (f", {processes} processes" if processes else "")
        + f" of run(s) {', '.join(runs)}"
    )
    if errors:
        raise EnvctlError("could not remove: " + "; ".join(errors))


@click.command()
@click.option(
    "--older-than",
    metavar="DURATION",
    help="Also remove anything envctl-managed older than this (90s, 15m, 2h, 7d), whoever owns it "
    "(within ENVCTL_LABELS when set).",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.pass_context
def gc(ctx: click.Context, older_than: str | None, dry_run: bool) -> None:
    """Remove what killed runs left behind: runs whose owner process is provably gone.

    An owner that cannot be checked from here (another machine sharing the daemon, a PID
    namespace not visible from here, an older envctl's labels) keeps its run: say
    --older-than to collect those by age. Environments left up on purpose by `envctl up`
    are kept (remove them with `envctl down`) unless --older-than says otherwise.

    With ENVCTL_LABELS set, only resources carrying those labels are considered.
    """
    from envctl.environment import forget_collected, prune_runs, retention
    from envctl.errors import EnvctlError
    from envctl.faults.recover import revert_orphans
    from envctl.gc import collect_judged, judge, parse_duration
    from envctl.report.run_folder import runs_root
    from envctl.runtime.combined import Runtimes

    settings = _settings(ctx)
    limit = parse_duration(older_than) if older_than else None
    runtime = Runtimes.for_settings(settings)
    errors: list[str] = []
    if not dry_run:
        # faults of killed processes first: their environments may be kept (envctl up)
        reverted, errors = revert_orphans(runs_root(settings), runtime)
        for line in reverted:
            click.echo(line)
    verdicts = judge(runtime.list_managed(settings.extra_labels or None), older_than=limit)
    garbage, remove_errors = collect_judged(runtime, verdicts, dry_run=dry_run)
    errors += remove_errors
    warm_removed = _reap_warm(settings, runtime, dry_run)
    errors += warm_removed[1]
    for line in warm_removed[0]:
        click.echo(line)
    for verdict in verdicts:
        if verdict.reason is None and verdict.kept_because:
            click.echo(
                f"kept run {verdict.run_id} ({verdict.scenario}): {verdict.kept_because}; "
                f"`envctl down --run-id {verdict.run_id}` or `envctl gc --older-than` removes it"
            )
    verb = "would remove" if dry_run else "removed"
    for verdict in garbage:
        kinds = {
            k: sum(r.kind == k for r in verdict.resources)
            for k in ("container", "network", "volume")
        }
        processes = sum(
            r.kind == "container" and r.id.startswith("native:") for r in verdict.resources
        )
        click.echo(
            f"{verb} run {verdict.run_id} ({verdict.scenario}): "
            f"{kinds['container'] - processes} containers, "
            f"{kinds['network']} networks, {kinds['volume']} volumes"
            + (f", {processes} processes" if processes else "")
            + f" — {verdict.reason}"
        )
    if not dry_run and garbage:
        for note in forget_collected(settings, [v.run_id for v in garbage]):
            click.echo(note)
    pruned = prune_runs(settings, dry_run=dry_run)
    if pruned:
        keep, age = retention(settings)
        click.echo(
            f"{'would prune' if dry_run else 'pruned'} {len(pruned)} finished run folder(s) "
            f"under {runs_root(settings)} (older than {age.total_seconds() / 86400:g} days "
            f"or beyond the newest {keep}; ENVCTL_KEEP_RUNS_DAYS / ENVCTL_KEEP_RUNS)"
        )
    if not garbage and not pruned and not warm_removed[0]:
        click.echo("nothing to collect")
    if errors:
        raise EnvctlError("could not remove: " + "; ".join(errors))


@click.command()
@click.option("--scenario", "-s", "name", required=True, help="Scenario name or file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def health(ctx: click.Context, name: str, as_json: bool) -> None:
    """Pre-flight check: can each service be had, how it was checked, probe latency.

    Exit 1 when a required service is unavailable (usable as a CI pre-flight step).
    """
    from envctl.health import check_health
    from envctl.runtime.docker import DockerRuntime

    settings = _settings(ctx)
    scenario = _load(ctx, name)
    results = check_health(scenario, settings, lambda: DockerRuntime.connect(settings.environ))
    if as_json:
        _emit_json({"scenario": scenario.name, "services": [r.to_dict() for r in results]})
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for column in ("service", "mode", "available", "latency", "checked", "error"):
            table.add_column(column)
        for r in results:
            latency = f"{r.latency_ms:.0f} ms" if r.latency_ms is not None else "-"
            mark = "yes" if r.available else ("NO" if r.required else "no (optional)")
            table.add_row(r.service, r.mode, mark, latency, r.check, r.error or "")
        Console(highlight=False, soft_wrap=True).print(table)
    if any(r.required and not r.available for r in results):
        sys.exit(1)
