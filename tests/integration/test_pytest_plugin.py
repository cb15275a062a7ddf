"""envctl's pytest plugin, exercised with pytester: scenario files as tests, fixtures,
markers, skip-or-fail without Docker, pytest-xdist."""

# Each inner pytest runs in its own process (runpytest_subprocess), as pytest runs for a
# user: in-process pytester runs drop the modules they imported between runs, and the
# service registry's cached classes then no longer match the re-imported models.

from __future__ import annotations

import textwrap

import pytest
from support import NATIVE_DIR, TEST_IMAGES, native_resources

pytest_plugins = ["pytester"]

MOCK_OK = """
name: {name}
external_services:
  kafka: {{type: kafka, topics: [t]}}
steps:
  - publish: {{topic: t, key: a, value: {{n: 1}}}}
  - expect_message: {{topic: t, match: {{value.n: 1}}, within: 2}}
"""
MOCK_FAIL = """
name: fails
external_services:
  kafka: {type: kafka, topics: [t]}
steps:
  - expect_message: {topic: t, match: {value.n: 2}, within: 0.2}
"""
REAL_KAFKA = """
name: realk
dependency_mode: real
external_services:
  kafka: {type: kafka, topics: [t]}
steps:
  - publish: {topic: t, value: 1}
"""
FIXTURE_TESTS = """
import pytest

def test_factory_mock(envctl_environment):
    env = envctl_environment("realk", mode="mock")
    assert env.mode == "mock" and env.endpoints("kafka") == {}
    bus = env.tool("kafka")
    bus.publish("t", {"x": 1})
    assert [m.value for m in bus.consume("t", count=1, timeout=1)] == [{"x": 1}]

@pytest.mark.requires_kafka
def test_factory_real(envctl_environment):
    env = envctl_environment("realk")
    assert env.mode == "real"
    assert env.endpoints("kafka")["bootstrap_servers"].startswith("127.0.0.1:")
    bus = env.tool("kafka")
    bus.publish("t", "hello", key="k")
    assert [m.value for m in bus.consume("t", count=1, timeout=10)] == ["hello"]

@pytest.mark.envctl_scenario("realk", scope="module", mode="mock")
def test_marker_one(envctl_env):
    pytest.shared_run = envctl_env.run_id

@pytest.mark.envctl_scenario("realk", scope="module", mode="mock")
def test_marker_two(envctl_env):
    assert envctl_env.run_id == pytest.shared_run
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for key, value in TEST_IMAGES.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(pytester.path / ".state"))
    monkeypatch.delenv("ENVCTL_DEPENDENCY_MODE", raising=False)
    monkeypatch.delenv("ENVCTL_REQUIRE_DOCKER", raising=False)
    files = {
        "scenarios/unit/scenario_ok.yaml": MOCK_OK.format(name="ok"),
        "scenarios/unit/scenario_fails.yaml": MOCK_FAIL,
        "scenarios/integration/scenario_realk.yaml": REAL_KAFKA,
        # Under tests/: never collected as a scenario (only as data).
        "tests/data/scenario_hidden.yaml": MOCK_FAIL,
        "tests/test_fixtures.py": FIXTURE_TESTS,
    }
    for rel, text in files.items():
        path = pytester.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    return pytester


def test_scenario_files_are_tests(project: pytest.Pytester, no_leaks: None) -> None:
    result = project.runpytest_subprocess("scenarios", "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*scenario_fails.yaml::fails FAILED*",
            "*step 0 (expect_message, *scenario_fails.yaml:5) failed: service 'kafka', topic 't'*",
        ]
    )
    mock_only = project.runpytest_subprocess("scenarios", "-m", "unit")
    mock_only.assert_outcomes(passed=1, failed=1, deselected=1)
    forced = project.runpytest_subprocess(
        "scenarios/integration", "--force-dependency-mode", "mock"
    )
    forced.assert_outcomes(passed=1)


def test_tests_dir_does_not_collect_scenarios(project: pytest.Pytester, no_leaks: None) -> None:
    result = project.runpytest_subprocess()  # testpaths = tests: the fixtures module only
    result.assert_outcomes(passed=4)
    result = project.runpytest_subprocess("tests", "--co", "-q")
    assert "scenario_hidden" not in result.stdout.str()


def test_requires_marker_skips_in_mock_mode(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("tests", "--force-dependency-mode", "mock", "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*needs real kafka; the dependency mode is mock*"])


def test_invalid_mode_option_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("tests", "--force-dependency-mode", "fake")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*valid: real, mock*"])


def test_without_docker_skip_or_fail(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("ENVCTL_RUNTIME", "docker")  # auto would fall back to native servers
    skipped = project.runpytest_subprocess("tests", "scenarios/integration", "-rs")
    skipped.assert_outcomes(passed=3, skipped=2)
    skipped.stdout.fnmatch_lines(["*cannot reach the Docker daemon*ENVCTL_REQUIRE_DOCKER=1*"])
    monkeypatch.setenv("ENVCTL_REQUIRE_DOCKER", "1")
    failed = project.runpytest_subprocess("tests", "scenarios/integration")
    failed.assert_outcomes(passed=3, failed=1, errors=1)  # the marker fails in setup
    failed.stdout.fnmatch_lines(["*ENVCTL_REQUIRE_DOCKER=1 makes this a failure*"])


def test_without_docker_native_servers_stand_in(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("ENVCTL_NATIVE_DIR", str(NATIVE_DIR))
    monkeypatch.delenv("ENVCTL_RUNTIME", raising=False)
    result = project.runpytest_subprocess("tests", "scenarios/integration", "-rs")
    result.assert_outcomes(passed=5)  # the real Kafka ones too, on the native broker
    assert native_resources() == []


def test_under_xdist_each_worker_has_its_own_namespace(
    project: pytest.Pytester, no_leaks: None
) -> None:
    pytest.importorskip("xdist")
    project.makepyfile(
        test_workers="""
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_isolated(envctl_environment, n, worker_id):
            env = envctl_environment("realk", mode="mock")
            bus = env.tool("kafka")
            bus.publish("t", {"n": n, "worker": worker_id})
            # Each environment sees only its own message: nothing leaks between workers.
            got = bus.consume("t", count=5, timeout=0.2)
            assert [m.value["n"] for m in got] == [n]
        """
    )
    result = project.runpytest_subprocess("-n", "2", "test_workers.py", "scenarios")
    result.assert_outcomes(passed=6, failed=1)
