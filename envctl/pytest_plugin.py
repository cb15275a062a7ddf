"""envctl's pytest plugin (entry point ``pytest11``): markers, fixtures, scenario files as tests.

Markers: ``unit``, ``integration``, ``e2e``, ``requires_kafka``, ``requires_postgres``,
``requires_redis``, ``requires_all_services`` and ``envctl_scenario(name, scope=...)``.

Fixtures:

- ``envctl_environment``: a factory, ``env = envctl_environment("orders")``; the
  environment (real services or mocks, per the dependency mode) is up until the test ends.
  ``envctl_module_environment`` / ``envctl_session_environment`` are the same, shared by
  a module / the session (one instance per scenario and mode).
- ``envctl_env``: the environment of the test's ``@pytest.mark.envctl_scenario("name")``
  (``scope="module"`` or ``"session"`` shares it).

An environment hands over ``env.endpoints("kafka")``, ``env.tool("kafka")``, ``env.tools``,
``env.run_id`` and ``env.mode``.

Scenario files: ``pytest scenarios/`` collects every ``scenario_*.yaml`` under the
scenarios directory (or named on the command line) as one test that runs like
``envctl run``. Files elsewhere (e.g. under ``tests/``) are not collected.

Per-test isolation: every environment (and every scenario item) is a namespace of its own
(topics, a database from a pool of template copies, a key prefix) on real services shared
by content within the session, so a function-scoped environment is clean, isolated and
handed out in milliseconds; its namespace is removed in the background after the test.
The shared services are removed at the end of the session — or kept warm for the next
session (and shared with other xdist workers) with ``--envctl-reuse`` / ``ENVCTL_REUSE=1``
/ ``reuse:``.

Options: ``--force-dependency-mode real|mock``, ``--envctl-reuse`` and ``--envctl-strict``
(a degraded run fails). A test whose required service cannot be had (no Docker daemon,
image missing) is skipped with the reason, or fails when ``ENVCTL_REQUIRE_DOCKER=1``. Under
pytest-xdist each worker uses its own namespace (its id is part of every run's namespace).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from envctl.runner.outcome import ScenarioOutcome
    from envctl.runner.run import LiveEnvironment, Runner
    from envctl.scenario.models import Scenario
    from envctl.settings import Settings

MARKERS = {
    "unit": "a unit test: no Docker, mocks only",
    "integration": "an integration test: real services in Docker",
    "e2e": "an end-to-end test across several services and an application",
    "mixed": "a scenario of the mixed category (real and mock services together)",
    "requires_kafka": "needs a real Kafka broker (skipped without Docker unless "
    "ENVCTL_REQUIRE_DOCKER=1)",
    "requires_postgres": "needs a real PostgreSQL server (as requires_kafka)",
    "requires_redis": "needs a real Redis server (as requires_kafka)",
    "requires_all_services": "needs real Kafka, PostgreSQL and Redis (as requires_kafka)",
    "envctl_scenario(name, scope='function', mode=None)": "the scenario whose environment "
    "the envctl_env fixture brings up",
}
ALL_SERVICES = ("kafka", "postgres", "redis")
"""What the ``requires_all_services`` marker needs."""


def requires_markers() -> dict[str, tuple[str, ...]]:
    """``requires_<type>`` for every registered service type, and ``requires_all_services``."""
    from envctl.services.registry import type_names

    markers: dict[str, tuple[str, ...]] = {f"requires_{name}": (name,) for name in type_names()}
    markers["requires_all_services"] = ALL_SERVICES
    return markers


SCENARIO_GLOB = "scenario_*.yaml"
_STATE = pytest.StashKey["_PluginState"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("envctl", "envctl: real dependencies for tests")
    group.addoption(
        "--force-dependency-mode",
        dest="envctl_force_mode",
        metavar="MODE",
        default=None,
        help="real | mock for every scenario and service (wins over ENVCTL_DEPENDENCY_MODE "
        "and the scenario files).",
    )
    group.addoption(
        "--envctl-reuse",
        dest="envctl_reuse",
        action="store_true",
        default=None,
        help="Keep the real services warm after the session for the next one (and take warm "
        "ones left by earlier sessions or other xdist workers); see ENVCTL_REUSE.",
    )
    group.addoption(
        "--envctl-scenarios-dir",
        dest="envctl_scenarios_dir",
        metavar="DIR",
        default=None,
        help="Where the scenario files are (default: the project config's scenarios_dir, "
        "else ./scenarios of the folder pytest runs from); also the ini option "
        "envctl_scenarios_dir, relative to the ini file.",
    )
    parser.addini(
        "envctl_scenarios_dir",
        "envctl: the scenarios folder, relative to this ini file's folder",
        default=None,
    )
    group.addoption(
        "--envctl-strict",
        dest="envctl_strict",
        action="store_true",
        default=False,
        help="A scenario that ran degraded (an optional service replaced by its mock) fails.",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    for name, services in requires_markers().items():
        if name not in MARKERS:
            text = f"needs a real {services[0]} service (as requires_kafka)"
            config.addinivalue_line("markers", f"{name}: {text}")
    force = config.getoption("envctl_force_mode", None)
    if force is not None:
        from envctl.errors import ConfigError
        from envctl.runner.modes import parse_mode

        try:
            force = parse_mode(force, "--force-dependency-mode").value
        except ConfigError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.stash[_STATE] = _PluginState(config, force)


class _PluginState:
    """Settings, runner and shared environments of one pytest process (one xdist worker)."""

    def __init__(self, config: pytest.Config, force: str | None) -> None:
        self.config = config
        self.force = force
        self.strict = bool(config.getoption("envctl_strict", False))
        self._settings: Settings | None = None
        self._runner: Runner | None = None
        self._docker: str | bool | None = False  # False: not checked yet
        worker = getattr(config, "workerinput", {}).get("workerid", "")
        self.worker = str(worker)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from envctl.settings import Settings

            here = Path(str(self.config.invocation_params.dir))
            settings = Settings.load(cwd=here)
            chosen = self.config.getoption("envctl_scenarios_dir", None)
            if chosen:
                settings = settings.with_scenarios_dir(here / str(chosen))
            elif self.config.getini("envctl_scenarios_dir"):
                base = self.config.inipath.parent if self.config.inipath else here
                ini_dir = str(self.config.getini("envctl_scenarios_dir"))
                settings = settings.with_scenarios_dir(base / ini_dir)
            self._settings = settings
        return self._settings

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            from envctl.runner.run import Runner

            # share: every environment of the session is a namespace of its own on
            # instances shared by content, so a function-scoped one costs milliseconds.
            reuse = self.config.getoption("envctl_reuse", None)
            self._runner = Runner(self.settings, share=True, reuse=reuse)
        return self._runner

    def close(self) -> list[str]:
        return self._runner.close() if self._runner is not None else []

    @property
    def require_docker(self) -> bool:
        return self.settings.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false")

    def docker_problem(self) -> str | None:
        """Why Docker cannot be used here, or None when its daemon answers (checked once)."""
        if self._docker is False:
            from envctl.errors import DockerUnavailable
            from envctl.runtime.docker import DockerRuntime

            try:
                DockerRuntime.connect(self.settings.environ)
                self._docker = None
            except DockerUnavailable as exc:
                self._docker = str(exc)
        return self._docker if isinstance(self._docker, str) else None

    def native_problem(self, types: list[str]) -> str | None:
        """Why the native runtime cannot stand in for Docker for these service types (None:
        it can, as ``runtime: auto`` would have it)."""
        from envctl.environment import build_plugin
        from envctl.errors import EnvctlError
        from envctl.scenario.models import Scenario
        from envctl.services.native import native_context

        if self.settings.runtime == "docker":
            return f"runtime: docker ({self.settings.runtime_source})"
        scenario = Scenario.model_validate(
            {"name": "native-check", "external_services": {t: {"type": t} for t in types}}
        )
        for type_name in types:
            plugin = build_plugin(scenario, type_name, "check", self.settings)
            provider = plugin.native(native_context(self.settings, type_name))
            if provider is None:
                return f"type '{type_name}' has no native form"
            try:
                provider.locate()
            except EnvctlError as exc:
                return str(exc)
        return None

    def namespace(self, run_id: str) -> str:
        return f"{self.worker}-{run_id}" if self.worker else run_id

    def unavailable(self, reason: str) -> None:
        """Skip with the reason, or fail under ENVCTL_REQUIRE_DOCKER=1."""
        if self.require_docker:
            pytest.fail(f"{reason} (ENVCTL_REQUIRE_DOCKER=1 makes this a failure)", pytrace=False)
        pytest.skip(f"{reason}; set ENVCTL_REQUIRE_DOCKER=1 to fail instead")


def _close_state(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        for problem in state.close():  # namespaces cleaned, own instances removed
            import warnings

            warnings.warn(f"envctl: {problem}", stacklevel=1)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Here, not only at unconfigure: under pytest-xdist a worker reports "finished" when its
    # sessionfinish ends, and the controller may then end the worker before its unconfigure
    # has removed the instances it started in this session.
    _close_state(session.config)


def pytest_unconfigure(config: pytest.Config) -> None:
    _close_state(config)  # a session that never finished (closing twice is a no-op)


def _state(config: pytest.Config) -> _PluginState:
    return config.stash[_STATE]


# -- requires_* markers ------------------------------------------------------------------------


def pytest_runtest_setup(item: pytest.Item) -> None:
    if isinstance(item, ScenarioItem):
        return
    needed: list[str] = []
    for marker, services in requires_markers().items():
        if item.get_closest_marker(marker) is not None:
            needed.extend(s for s in services if s not in needed)
    if not needed:
        return
    state = _state(item.config)
    if state.force == "mock" or state.settings.environ.get("ENVCTL_DEPENDENCY_MODE") == "mock":
        pytest.skip(f"needs real {', '.join(needed)}; the dependency mode is mock")
    problem = state.docker_problem()
    if problem is not None and state.native_problem(needed) is not None:
        state.unavailable(f"needs real {', '.join(needed)}: {problem}")


# -- environments as fixtures ------------------------------------------------------------------


class EnvironmentPool:
    """Environments opened by fixtures of one scope, closed when that scope ends."""

    def __init__(self, state: _PluginState) -> None:
        self.state = state
        self._stack = contextlib.ExitStack()
        self._open: dict[tuple[str, str | None], LiveEnvironment] = {}

    def get(self, name: str | Path, mode: str | None = None) -> LiveEnvironment:
        from envctl.engine import new_run_id
        from envctl.errors import ConfigError, DockerUnavailable, EnvctlError, ImageNotFound
        from envctl.runner.outcome import ScenarioSkipped
        from envctl.scenario import find_scenario

        key = (str(name), mode)
        if key in self._open:
            return self._open[key]
        state = self.state
        try:
            path = find_scenario(state.settings.scenarios_dir, str(name))
            scenario = state.settings.load_scenario(path)
        except ConfigError as exc:
            pytest.fail(f"envctl: {exc}", pytrace=False)
        run_id = new_run_id()
        try:
            live = self._stack.enter_context(
                state.runner.open_environment(
                    scenario,
                    force_mode=state.force or mode,
                    namespace=state.namespace(run_id),
                    run_id=run_id,
                )
            )
        except ScenarioSkipped as exc:
            pytest.skip(f"scenario '{scenario.name}': {exc}")
        except (DockerUnavailable, ImageNotFound) as exc:
            state.unavailable(f"scenario '{scenario.name}' needs a real service: {exc}")
        except EnvctlError as exc:
            pytest.fail(f"envctl: scenario '{scenario.name}': {exc}", pytrace=False)
        if live.degraded and state.strict:
            pytest.fail(f"degraded (--envctl-strict): {'; '.join(live.degraded)}", pytrace=False)
        self._open[key] = live
        return live

    def close(self) -> None:
        self._stack.close()
        self._open.clear()


EnvironmentFactory = Callable[..., "LiveEnvironment"]


@contextlib.contextmanager
def _pool(config: pytest.Config) -> Iterator[EnvironmentPool]:
    pool = EnvironmentPool(_state(config))
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def envctl_environment(request: pytest.FixtureRequest) -> Iterator[EnvironmentFactory]:
    """``envctl_environment("name", mode=None)``: an environment up until the test ends."""
    with _pool(request.config) as pool:
        yield pool.get


@pytest.fixture(scope="module")
def envctl_module_environment(request: pytest.FixtureRequest) -> Iterator[EnvironmentFactory]:
    """As ``envctl_environment``, shared by the tests of a module."""
    with _pool(request.config) as pool:
        yield pool.get


@pytest.fixture(scope="session")
def envctl_session_environment(request: pytest.FixtureRequest) -> Iterator[EnvironmentFactory]:
    """As ``envctl_environment``, shared by the whole session (per xdist worker)."""
    with _pool(request.config) as pool:
        yield pool.get


@pytest.fixture
def envctl_env(request: pytest.FixtureRequest) -> LiveEnvironment:
    """The environment of the test's ``@pytest.mark.envctl_scenario("name", scope=...)``."""
    marker = request.node.get_closest_marker("envctl_scenario")
    if marker is None or not marker.args:
        pytest.fail(
            "envctl_env needs @pytest.mark.envctl_scenario('NAME') on the test, its class or "
            "its module",
            pytrace=False,
        )
    scope = marker.kwargs.get("scope", "function")
    fixture = {
        "function": "envctl_environment",
        "module": "envctl_module_environment",
        "session": "envctl_session_environment",
    }.get(scope)
    if fixture is None:
        pytest.fail(f"envctl_scenario scope={scope!r}: use function, module or session")
    factory: EnvironmentFactory = request.getfixturevalue(fixture)
    return factory(marker.args[0], mode=marker.kwargs.get("mode"))


@pytest.fixture(scope="session")
def envctl_settings(request: pytest.FixtureRequest) -> Settings:
    """The envctl settings of this session (environment and project config, read once)."""
    return _state(request.config).settings


# -- scenario files as tests -------------------------------------------------------------------


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not file_path.match(SCENARIO_GLOB):
        return None
    config = parent.config
    if not _wanted(file_path, config):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


def _wanted(file_path: Path, config: pytest.Config) -> bool:
    """Named on the command line, or inside a folder named there and inside the scenarios
    directory; never only because a ``testpaths`` folder (e.g. ``tests/``) holds it."""
    resolved = file_path.resolve()
    root = Path(str(config.invocation_params.dir))
    for arg in config.invocation_params.args:
        text = str(arg).split("::")[0]
        if not text or text.startswith("-"):
            continue
        candidate = (root / text).resolve()
        if candidate == resolved:
            return True
        if candidate.is_dir() and resolved.is_relative_to(candidate):
            scenarios_dir = _state(config).settings.scenarios_dir.resolve()
            if resolved.is_relative_to(scenarios_dir):
                return True
    return False


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        from envctl.errors import ConfigError
        from envctl.runner.modes import resolve_modes

        state = _state(self.config)
        try:
            scenario = state.settings.load_scenario(self.path)
        except ConfigError as exc:
            yield ScenarioItem.from_parent(
                self, name=self.path.stem.removeprefix("scenario_"), scenario=None, error=str(exc)
            )
            return
        item = ScenarioItem.from_parent(self, name=scenario.name, scenario=scenario, error=None)
        if scenario.category is not None:
            item.add_marker(scenario.category.value)
        # requires_<type> for the services that will run for real (selectable with -m);
        # the item itself handles a service it cannot have (skip, or fail in CI).
        try:
            modes = resolve_modes(scenario, force=state.force, environ=state.settings.environ)
            real = {scenario.external_services[n].type for n in modes.real_services()}
        except ConfigError:
            real = set()
        for service_type in sorted(real):
            item.add_marker(f"requires_{service_type}")
        yield item


class ScenarioFailed(Exception):
    def __init__(self, outcome: ScenarioOutcome) -> None:
        self.outcome = outcome
        super().__init__(outcome.details())


class ScenarioItem(pytest.Item):
    """One scenario file, run like ``envctl run``."""

    def __init__(self, *, scenario: Scenario | None, error: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.error = error

    def setup(self) -> None:
        # requires_* markers come from the scenario's service types; in real mode they only
        # make sense for services that run for real, which `runtest` decides. Nothing here.
        return None

    def runtest(self) -> None:
        from envctl.errors import ConfigError

        if self.scenario is None:
            raise ConfigError(self.error or "invalid scenario")
        state = _state(self.config)
        outcome = state.runner.run(self.scenario, force_mode=state.force)
        self.user_properties.append(("envctl_run_id", outcome.run_id))
        self.user_properties.append(("envctl_status", outcome.status))
        if outcome.status == "passed":
            return
        if outcome.status == "skipped":
            pytest.skip(f"scenario '{outcome.name}': {outcome.reason}")
        if outcome.status == "degraded":
            if state.strict:
                pytest.fail(f"degraded (--envctl-strict): {outcome.reason}", pytrace=False)
            import warnings

            warnings.warn(f"scenario '{outcome.name}' degraded: {outcome.reason}", stacklevel=1)
            return
        if outcome.status == "error":
            raise ConfigError(outcome.reason or "invalid scenario")
        if outcome.unavailable:
            state.unavailable(f"scenario '{outcome.name}': {outcome.reason}")
        raise ScenarioFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from envctl.errors import ConfigError

        if isinstance(excinfo.value, ScenarioFailed | ConfigError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario: {self.name}"
