"""``envctl ci github``: a GitHub Actions workflow that runs a project's scenarios.

Two jobs at least:

- ``unit``: the selected scenarios against envctl's in-memory doubles
  (``--force-dependency-mode mock``): no containers, seconds.
- the integration job(s), by strategy:

  ``envctl`` (default): one ``integration`` job installs envctl and runs the scenarios;
  envctl starts every service on the runner's Docker, in dependency order, and removes
  them afterwards — exactly what happens on a laptop.

  ``services``: one job per scenario that needs containers. Its docker-mode services become
  the job's ``services:`` (GitHub starts them before the first step and waits for their
  health checks); the job sets ``ENVCTL_<SERVICE>_URL`` for each and ``ENVCTL_PROFILE``
  with the built-in ``external`` profile, so envctl attaches to them in external mode,
  probes them with their real protocol and creates topics and databases, but never starts
  or stops them. A service that cannot be a job service (it depends on another one — job
  services all start at once —, sets a command, mounts host paths, has an exec or log
  probe, publishes no port) stays with envctl inside the job, and a warning names it.

The result is data (:func:`github_workflow`) rendered by :func:`render_workflow`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from envctl.export.health import HealthCheck
from envctl.export.standalone import StandaloneService, standalone_services
from envctl.export.yamltext import render_yaml
from envctl.report.run_folder import DEFAULT_RUNS_PATH
from envctl.scenario.models import Category, Scenario
from envctl.scenario.modes import DependencyMode, ServiceMode
from envctl.settings import Settings

CHECKOUT = "actions/checkout@v5"
SETUP_PYTHON = "actions/setup-python@v6"
UPLOAD_ARTIFACT = "actions/upload-artifact@v6"
DOWNLOAD_ARTIFACT = "actions/download-artifact@v7"
SHARD_RESULTS = "envctl-shards"
"""Where each shard job writes its result, and the merge job collects them."""
MAX_SHARDS = 256
"""GitHub Actions runs at most 256 jobs per matrix."""
EXTERNAL_PROFILE = "external"
"""The built-in profile that attaches to services whose ``ENVCTL_<SERVICE>_URL`` is set."""
DEFAULT_INSTALL = "pip install envctl"
DEFAULT_PYTHON = "3.11"


class Strategy(StrEnum):
    ENVCTL = "envctl"
    """envctl starts the services on the runner's Docker."""
    SERVICES = "services"
    """GitHub starts them as job services; envctl attaches in external mode."""


@dataclass(frozen=True)
class Selection:
    """Which scenarios a workflow runs: named ones, one category, or all."""

    scenarios: tuple[str, ...] = ()
    category: str | None = None
    everything: bool = False

    def __post_init__(self) -> None:
        chosen = sum([bool(self.scenarios), self.category is not None, self.everything])
        if chosen != 1:
            raise ValueError("choose exactly one of scenarios, category or everything")


@dataclass(frozen=True)
class WorkflowOptions:
    strategy: Strategy = Strategy.ENVCTL
    install: str = DEFAULT_INSTALL
    """The shell command that installs envctl (and what the scenarios need)."""
    python: str = DEFAULT_PYTHON
    profile: str | None = None
    """Sets ``ENVCTL_PROFILE`` for the integration jobs (e.g. ``ci``)."""
    branch: str = "main"
    """Pushes to this branch run the workflow (pull requests always do)."""
    name: str = "envctl scenarios"
    shards: int = 1
    """> 1: the integration job is a matrix of this many ``run-all --shard I/N`` jobs and a
    ``report`` job merges their results (strategy ``envctl`` only)."""


@dataclass
class Workflow:
    data: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def github_workflow(
    scenarios: Sequence[Scenario],
    selection: Selection,
    options: WorkflowOptions | None = None,
    settings: Settings | None = None,
) -> Workflow:
    """The workflow that runs ``scenarios`` (already chosen by ``selection``)."""
    options = options or WorkflowOptions()
    warnings: list[str] = []
    jobs: dict[str, Any] = {"unit": _unit_job(scenarios, selection, options)}
    if options.shards > 1:
        jobs.update(_sharded_jobs(selection, options))
    elif options.strategy == Strategy.ENVCTL:
        jobs["integration"] = _envctl_job(scenarios, selection, options)
    else:
        jobs.update(_services_jobs(scenarios, selection, options, settings, warnings))
    data: dict[str, Any] = {
        "name": options.name,
        "on": {
            "push": {"branches": [options.branch]},
            "pull_request": None,
            "workflow_dispatch": None,
        },
        "permissions": {"contents": "read"},
        "jobs": jobs,
    }
    return Workflow(data, warnings)


def render_workflow(workflow: Workflow, command: str = "") -> str:
    """The workflow file's text; ``command`` (how it was made) goes into its header."""
    made_by = f"`{command}`" if command else "envctl ci github"
    header = f"Generated by {made_by}.\nRegenerate it instead of editing it by hand."
    return render_yaml(workflow.data, header)


# -- jobs ---------------------------------------------------------------------------------------


def _setup_steps(options: WorkflowOptions) -> list[dict[str, Any]]:
    return [
        {"uses": CHECKOUT},
        {"uses": SETUP_PYTHON, "with": {"python-version": options.python}},
        {"name": "Install envctl", "run": options.install},
    ]


def _bundle_step(job_id: str) -> dict[str, Any]:
    """On failure, the failure bundles and run-all reports on their own (small, open
    offline: download and double-click)."""
    return {
        "name": "Keep the failure bundles and reports",
        "if": "failure()",
        "uses": UPLOAD_ARTIFACT,
        "with": {
            "name": f"envctl-bundles-{job_id}",
            "path": f"{DEFAULT_RUNS_PATH}/*/bundle.html\n{DEFAULT_RUNS_PATH}/*/report.html",
            "if-no-files-found": "ignore",
        },
    }


def _upload_step(job_id: str) -> dict[str, Any]:
    return {
        "name": "Keep the run records",
        "if": "always()",
        "uses": UPLOAD_ARTIFACT,
        "with": {
            "name": f"envctl-runs-{job_id}",
            "path": DEFAULT_RUNS_PATH,
            "if-no-files-found": "ignore",
        },
    }


def _unit_job(
    scenarios: Sequence[Scenario], selection: Selection, options: WorkflowOptions
) -> dict[str, Any]:
    mock = "--force-dependency-mode mock"
    if selection.everything:
        commands = [("Unit scenarios (mocks)", f"envctl run-all --category unit {mock}")]
    elif selection.category is not None:
        commands = [
            (
                f"{selection.category.capitalize()} scenarios against mocks",
                f"envctl run-all --category {selection.category} {mock}",
            )
        ]
    else:
        commands = [
            (f"{name} (mocks)", f"envctl run --scenario {name} {mock}")
            for name in selection.scenarios
        ]
    steps = _setup_steps(options) + [{"name": title, "run": run} for title, run in commands]
    steps += [_upload_step("unit"), _bundle_step("unit")]
    return {
        "name": "unit (mocks, no services)",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": 15,
        "steps": steps,
    }


def _envctl_job(
    scenarios: Sequence[Scenario], selection: Selection, options: WorkflowOptions
) -> dict[str, Any]:
    if selection.everything:
        categories = sorted(
            {s.category.value for s in scenarios if s.category is not None} - {Category.UNIT.value}
        ) or [Category.INTEGRATION.value]
        commands = [
            (f"{c.capitalize()} scenarios", f"envctl run-all --category {c}") for c in categories
        ]
    elif selection.category is not None:
        commands = [
            (
                f"{selection.category.capitalize()} scenarios",
                f"envctl run-all --category {selection.category}",
            )
        ]
    else:
        commands = [(name, f"envctl run --scenario {name}") for name in selection.scenarios]
    job: dict[str, Any] = {
        "name": "integration (envctl starts the services)",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": 30,
    }
    if options.profile:
        job["env"] = {"ENVCTL_PROFILE": options.profile}
    steps = _setup_steps(options) + [{"name": title, "run": run} for title, run in commands]
    steps += [_upload_step("integration"), _bundle_step("integration")]
    job["steps"] = steps
    return job


def _sharded_jobs(selection: Selection, options: WorkflowOptions) -> dict[str, Any]:
    """A matrix job running one shard each, and a ``report`` job merging them.

    Every shard job computes the same split (see :mod:`envctl.runner.shard`): the same
    commit, and the project's committed ``envctl-durations.json`` when there is one.
    """
    total = options.shards
    if options.strategy != Strategy.ENVCTL:
        raise ValueError("shards need the envctl strategy")
    if selection.scenarios:
        raise ValueError("shards need --category or --all")
    category = f" --category {selection.category}" if selection.category is not None else ""
    result = f"{SHARD_RESULTS}/shard-${{{{ matrix.shard }}}}.json"
    job: dict[str, Any] = {
        "name": f"integration shard ${{{{ matrix.shard }}}}/{total}",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": 30,
        "strategy": {"fail-fast": False, "matrix": {"shard": list(range(1, total + 1))}},
    }
    if options.profile:
        job["env"] = {"ENVCTL_PROFILE": options.profile}
    job["steps"] = [
        *_setup_steps(options),
        {
            "name": f"Shard ${{{{ matrix.shard }}}} of {total}",
            "run": f"envctl run-all{category} --shard ${{{{ matrix.shard }}}}/{total} "
            f"--json {result}",
        },
        {
            "name": "Keep the shard's result",
            "if": "always()",
            "uses": UPLOAD_ARTIFACT,
            "with": {
                "name": "envctl-shard-${{ matrix.shard }}",
                "path": result,
                "if-no-files-found": "ignore",
            },
        },
        _upload_step("integration-${{ matrix.shard }}"),
        _bundle_step("integration-${{ matrix.shard }}"),
    ]
    report: dict[str, Any] = {
        "name": "report (all shards merged)",
        "needs": ["integration"],
        "if": "always()",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": 10,
        "steps": [
            *_setup_steps(options),
            {
                "name": "Collect the shards' results",
                "uses": DOWNLOAD_ARTIFACT,
                "with": {
                    "pattern": "envctl-shard-*",
                    "path": SHARD_RESULTS,
                    "merge-multiple": True,
                },
            },
            {
                "name": "Merge (a missing shard fails here, named)",
                "run": f"envctl report merge {SHARD_RESULTS}/*.json --json envctl-result.json "
                "--junit envctl-junit.xml",
            },
            {
                "name": "Keep the merged report",
                "if": "always()",
                "uses": UPLOAD_ARTIFACT,
                "with": {
                    "name": "envctl-report",
                    "path": "envctl-result.json\nenvctl-junit.xml",
                    "if-no-files-found": "ignore",
                },
            },
        ],
    }
    return {"integration": job, "report": report}


def _needs_containers(scenario: Scenario) -> bool:
    return scenario.dependency_mode == DependencyMode.REAL and any(
        spec.mode == ServiceMode.DOCKER for spec in scenario.external_services.values()
    )


def _services_jobs(
    scenarios: Sequence[Scenario],
    selection: Selection,
    options: WorkflowOptions,
    settings: Settings | None,
    warnings: list[str],
) -> dict[str, Any]:
    chosen = [s for s in scenarios if not (selection.everything and s.category == Category.UNIT)]
    jobs: dict[str, Any] = {}
    without = [s for s in chosen if not _needs_containers(s)]
    if without:
        job: dict[str, Any] = {
            "name": "integration (no containers)",
            "runs-on": "ubuntu-latest",
            "timeout-minutes": 30,
        }
        if options.profile:
            job["env"] = {"ENVCTL_PROFILE": options.profile}
        job["steps"] = [
            *_setup_steps(options),
            *({"name": s.name, "run": f"envctl run --scenario {s.name}"} for s in without),
            _upload_step("integration"),
            _bundle_step("integration"),
        ]
        jobs["integration"] = job
    for scenario in chosen:
        if not _needs_containers(scenario):
            continue
        job_id = _job_id(f"integration-{scenario.name}", jobs)
        jobs[job_id] = _scenario_services_job(scenario, job_id, options, settings, warnings)
    return jobs


def _scenario_services_job(
    scenario: Scenario,
    job_id: str,
    options: WorkflowOptions,
    settings: Settings | None,
    warnings: list[str],
) -> dict[str, Any]:
    described = standalone_services(scenario, settings)
    services: dict[str, Any] = {}
    env: dict[str, str] = {}
    profiles = [p for p in (options.profile, EXTERNAL_PROFILE) if p]
    env["ENVCTL_PROFILE"] = ",".join(profiles)
    kept: list[StandaloneService] = []
    for name, service in described.items():
        if service.limits:
            kept.append(service)
            continue
        services[name] = _job_service(service)
        assert service.external_url is not None
        env[service.env_var] = service.external_url
    for service in kept:
        reasons = list(service.limits)
        outside = [dep for dep in service.depends_on if dep in services]
        if outside:
            one = len(outside) == 1
            reasons.append(
                f"{', '.join(outside)} {'runs as a job service' if one else 'run as job services'}"
                f", outside envctl's network, so it cannot reach {'it' if one else 'them'} "
                "by service name"
            )
        warnings.append(
            f"scenario '{scenario.name}': service '{service.name}' cannot be a job service "
            f"and stays with envctl inside the job: {'; '.join(reasons)}. "
            "--strategy envctl starts every service in dependency order"
        )
    job: dict[str, Any] = {
        "name": f"integration: {scenario.name} (job services)",
        "runs-on": "ubuntu-latest",
        "timeout-minutes": 30,
    }
    if services:
        job["services"] = services
    job["env"] = env
    job["steps"] = [
        *_setup_steps(options),
        {"name": scenario.name, "run": f"envctl run --scenario {scenario.name}"},
        _upload_step(job_id),
        _bundle_step(job_id),
    ]
    return job


def _job_service(service: StandaloneService) -> dict[str, Any]:
    entry: dict[str, Any] = {"image": service.image}
    if service.env:
        entry["env"] = dict(service.env)
    entry["ports"] = [p.compose() for p in service.ports]
    if isinstance(service.health, HealthCheck):
        options = service.health.docker_options()
        if options:
            entry["options"] = options
    return entry


def _job_id(wanted: str, taken: dict[str, Any]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", wanted).strip("-") or "integration"
    candidate, index = base, 2
    while candidate in taken or candidate == "unit":
        candidate, index = f"{base}-{index}", index + 1
    return candidate


# -- choosing scenarios ---------------------------------------------------------------------------


def select_scenarios(settings: Settings, selection: Selection) -> list[Scenario]:
    """Load the scenarios a selection names, from the settings' scenarios dir.

    Raises :class:`~envctl.errors.ConfigError` for an unknown name or an invalid file, and
    when a category holds no scenario.
    """
    from envctl.errors import ConfigError
    from envctl.scenario import find_scenario, load_scenario
    from envctl.scenario.discovery import list_scenarios

    root = settings.scenarios_dir
    # The project's file and bind-mount policy (allowed_paths, allow_docker_socket).
    policy: dict[str, Any] = {
        "allowed_roots": settings.allowed_roots,
        "allow_docker_socket": settings.allow_docker_socket,
    }
    if selection.scenarios:
        return [
            load_scenario(find_scenario(root, name), settings.environ, root=root, **policy)
            for name in selection.scenarios
        ]
    loaded = [
        load_scenario(ref.path, settings.environ, root=root, **policy)
        for ref in list_scenarios(root)
    ]
    if selection.category is None:
        return loaded
    chosen = [
        s for s in loaded if s.category is not None and s.category.value == selection.category
    ]
    if not chosen:
        found = sorted({s.category.value for s in loaded if s.category is not None})
        raise ConfigError(
            f"no scenario of category '{selection.category}' under {root} "
            f"(categories found: {', '.join(found) or 'none'})"
        )
    return chosen
