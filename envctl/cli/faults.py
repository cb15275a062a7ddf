"""``envctl fault``: inject one fault into a kept or ``up`` environment, by hand."""

from __future__ import annotations

import threading
from typing import Any

import click

from envctl.cli.common import check_run_id as _check_run_id
from envctl.cli.common import emit_json
from envctl.cli.common import settings_of as _settings
from envctl.faults.kinds import FAULT_KINDS  # standard library only, for start-up speed

FAULT_WAIT_LIMIT = 24 * 3600.0
"""The longest --duration accepted (seconds): a day; a longer one is refused, not cut."""


def _check_duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    """click callback: ``--duration`` read and bounded (more than 0, at most a day) before
    any file or Docker call; a value out of bounds is one line, exit 2."""
    from envctl.durations import parse_duration

    if value is None:
        return None
    return parse_duration(value, where="--duration", positive=True, maximum=FAULT_WAIT_LIMIT)


@click.command("fault")
@click.argument("action", type=click.Choice([*FAULT_KINDS, "revert"]))
@click.option(
    "--run-id", required=True, callback=_check_run_id, help="The run (envctl up or a kept run)."
)
@click.option("--service", "-S", help="The service to fault (revert: default all).")
@click.option(
    "--duration",
    callback=_check_duration,
    help="Revert after this long (2.5s, 500ms, 1m; at most 1d), waiting here; Ctrl-C reverts "
    "early. Without it the fault stays until `envctl fault revert` or `envctl down`.",
)
@click.option("--delay", help="latency: added delay (200ms).")
@click.option("--jitter", help="latency: +/- variation (50ms).")
@click.option("--percent", type=float, help="loss: share of connections dropped (%).")
@click.option("--kbps", type=float, help="bandwidth: kilobytes per second.")
@click.option("--cpus", type=float, help="cpu: CPUs the service may use (0.5).")
@click.option("--memory", help="memory: limit (64m).")
@click.option(
    "--from", "side", type=click.Choice(["host", "network", "both"]), help="partition: from where."
)
@click.option("--signal", "sig", help="kill: the signal (default SIGKILL).")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
def fault(
    ctx: click.Context, action: str, run_id: str, service: str | None, **options: Any
) -> None:
    """Inject a fault into service SERVICE of run RUN_ID (or revert its faults).

    ACTION is one of kill, stop, start, restart, pause, cpu, memory, partition, latency,
    loss, bandwidth, reset, timeout, or revert. Latency, loss, bandwidth, reset, timeout and
    partition --from host need the service behind a fault proxy (`envctl up --fault-proxy`).
    """
    from pydantic import ValidationError

    from envctl.environment import environment_from_record, one_record
    from envctl.errors import ConfigError, EnvctlError
    from envctl.faults.inject import FaultInjector
    from envctl.faults.journal import Journal
    from envctl.faults.models import FaultSpec
    from envctl.faults.recover import revert_run
    from envctl.report.audit import AuditLog
    from envctl.report.run_folder import runs_root
    from envctl.runner.faulting import environment_targets
    from envctl.runtime.docker import DockerRuntime

    settings = _settings(ctx)
    record = one_record(settings, run_id=run_id, scenario=None)
    env = environment_from_record(record, settings, lambda: DockerRuntime.connect(settings.environ))
    as_json = options.pop("as_json")
    if action == "revert":
        done, errors = revert_run(runs_root(settings), run_id, env.runtime)
        _report({"reverted": done, "errors": errors}, as_json, done or ["nothing to revert"])
        if errors:
            raise EnvctlError("; ".join(errors))
        return
    if service is None:
        raise click.UsageError(f"{action} needs --service NAME")
    if service not in env.services:
        import difflib

        close = difflib.get_close_matches(service, list(env.services), n=1)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"run {run_id} has no service '{service}'{hint} (services: {', '.join(env.services)})"
        )
    body: dict[str, Any] = {"kind": action, "service": service}
    names = {"side": "from", "sig": "signal"}
    for key, value in options.items():
        if value is not None:
            body[names.get(key, key)] = value
    try:
        spec = FaultSpec.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            (f"--{'.'.join(map(str, e['loc']))}: " if e["loc"] else "")
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ConfigError(f"envctl fault {action}: {problems}") from None
    with AuditLog(record.run_dir, run_id) as audit:
        injector = FaultInjector(
            env.runtime,
            environment_targets(env, [service]),
            Journal(record.run_dir, run_id),
            audit.event,
        )
        key = injector.next_key(spec)
        injector.apply(key, spec, "envctl fault")
        if spec.duration is None and spec.kind not in ("restart", "start"):
            injector.journal.update(key, owner={})  # held on purpose: gc leaves it
            _report(
                {"applied": key, "held": True},
                as_json,
                [
                    f"{spec.label}: applied; revert with `envctl fault revert --run-id {run_id}` "
                    "(or `envctl down`)"
                ],
            )
            return
        try:
            if spec.duration is not None:
                # The fault's duration is the wait itself; Ctrl-C / SIGTERM end it early.
                threading.Event().wait(spec.duration)
        finally:
            error = injector.revert(key, "duration ended" if spec.duration else "restart")
        if error:
            raise EnvctlError(error)
        _report(
            {"applied": key, "reverted": True}, as_json, [f"{spec.label}: applied and reverted"]
        )


def _report(data: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        emit_json(data)
        return
    for line in lines:
        click.echo(line)
