"""cleanup_after, for real: what ``envctl.cleanup.finish(env, passed)`` leaves behind for each
policy — topics, consumer groups, databases, keys, containers, volumes — and that
``envctl down --run-id`` removes whatever was kept, external services included."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_support import (
    commit,
    databases,
    envctl_in,
    groups,
    keys,
    produce,
    topics,
    unique,
    write_tree,
)
from support import BASE_IMAGE, managed_resources

from envctl.cleanup import KeptReport, finish
from envctl.engine import Engine
from envctl.environment import Environment
from envctl.runtime.docker import DockerRuntime
from envctl.scenario import load_scenario
from envctl.settings import Settings


@pytest.fixture(params=["docker", "native"])
def test_env(test_env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """Each test of this module runs under both runtimes (ENVCTL_RUNTIME)."""
    return {**test_env, "ENVCTL_RUNTIME": request.param}


pytestmark = pytest.mark.docker

KAFKA = """
  kafka:
    type: kafka
    {mode}
    topics: [orders]
    seed: [{{topic: orders, from: data/orders.jsonl}}]
    {override_kafka}"""
POSTGRES = """
  db:
    type: postgres
    {mode}
    {override_db}"""
REDIS = """
  cache:
    type: redis
    {mode}
    seed: [{{from: data/keys.yaml}}]
    {override_cache}"""
DATA = {
    "data/orders.jsonl": '{"key": "1", "value": {"id": 1}}\n',
    "data/keys.yaml": "- {key: 'user:1', value: alice}\n",
}


class Runs:
    """Brings scenarios up in this process (as the runner does) and downs them at the end."""

    def __init__(self, tmp_path: Path, environ: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.scenarios = tmp_path / "scenarios"
        self.environ = {**environ, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
        self.started: list[str] = []

    def up(
        self,
        policy: str,
        services: tuple[str, ...] = ("kafka",),
        *,
        overrides: dict[str, str] | None = None,
        external: bool = False,
        extra: str = "",
    ) -> Environment:
        name = unique("cleanup")
        blocks = {"kafka": KAFKA, "db": POSTGRES, "cache": REDIS}
        fill = {f"override_{s}": (overrides or {}).get(s, "") for s in ("kafka", "db", "cache")}
        mode = "mode: external" if external else ""
        text = f"name: {name}\ndependency_mode: real\ncleanup_after: {policy}\nexternal_services:"
        text += "".join(blocks[s].format(mode=mode, **fill) for s in services) + extra + "\n"
        write_tree(self.scenarios, {f"scenario_{name}.yaml": text, **DATA})
        settings = Settings.load(environ=self.environ, cwd=self.tmp_path)
        scenario = load_scenario(
            self.scenarios / f"scenario_{name}.yaml", self.environ, root=self.scenarios
        )
        engine = Engine(settings, lambda: DockerRuntime.connect(self.environ))
        env = engine.up(scenario)
        self.started.append(env.run_id)
        return env

    def finish(self, env: Environment, passed: bool) -> KeptReport:
        return finish(env, passed, settings=Settings.load(environ=self.environ, cwd=self.tmp_path))

    def down(self, run_id: str) -> str:
        result = envctl_in(self.scenarios, "down", "--run-id", run_id, env=self.environ)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def record(self, run_id: str) -> dict[str, Any] | None:
        path = self.tmp_path / "state" / "runs" / run_id / "environment.json"
        return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def runs(tmp_path: Path, test_env: dict[str, str], no_leaks: None) -> Iterator[Runs]:
    made = Runs(tmp_path, test_env)
    yield made
    for run_id in made.started:
        made.down(run_id)


def containers(docker_client: Any, run_id: str) -> set[str]:
    found = managed_resources(docker_client, run_id)
    return {r.split()[1] for r in found if r.startswith("container ")}


def kept_kinds(report: KeptReport) -> set[tuple[str, str]]:
    return {(k.service, k.kind) for k in report.kept}


def test_true_removes_everything(runs: Runs, docker_client: Any) -> None:
    env = runs.up("true", ("kafka", "cache"))
    report = runs.finish(env, passed=False)
    assert report.kept == [] and report.errors == []
    assert managed_resources(docker_client, env.run_id) == []
    assert runs.record(env.run_id) is None
    assert str(report) == f"run {env.run_id} ({env.scenario.name}) failed: everything removed"


def test_false_keeps_everything_with_how_to_reach_it(runs: Runs, docker_client: Any) -> None:
    env = runs.up("false", ("kafka", "db", "cache"))
    kafka, db, cache = (env.endpoints(s) for s in ("kafka", "db", "cache"))
    commit(
        kafka["bootstrap_servers"], env.namespace.group("billing"), kafka["topics"]["orders"], 0, 1
    )
    report = runs.finish(env, passed=True)
    assert report.errors == []
    assert kept_kinds(report) == {
        ("kafka", "topics"),
        ("kafka", "consumer_groups"),
        ("kafka", "containers"),
        ("db", "databases"),
        ("db", "containers"),
        ("cache", "databases"),
        ("cache", "containers"),
    }
    assert len(containers(docker_client, env.run_id)) == 3
    resources = managed_resources(docker_client, env.run_id)
    if env.network is not None:  # docker; native processes share no network
        assert f"network {env.network}" in resources
    assert f"volume envctl-{env.scenario.name}-detached-{env.run_id}" in resources  # gc keeps it
    assert kafka["topics"]["orders"] in topics(kafka["bootstrap_servers"])
    assert env.namespace.group("billing") in groups(kafka["bootstrap_servers"])
    assert db["database"] in databases(db["dsn"])
    assert keys(cache["url"], "envctl:*") == {cache["key_prefix"] + "user:1"}
    text = str(report)
    assert f"psql '{db['dsn']}'" in text
    assert f"redis-cli -u '{cache['url']}' --scan --pattern '{cache['key_prefix']}*'" in text
    assert f"bootstrap {kafka['bootstrap_servers']}" in text
    assert text.endswith(f"remove with: envctl down --run-id {env.run_id}")
    record = runs.record(env.run_id)
    assert record is not None and {k["kind"] for k in record["kept"]} >= {"topics", "databases"}
    runs.down(env.run_id)
    assert managed_resources(docker_client, env.run_id) == []
    assert runs.record(env.run_id) is None


def test_the_kept_topics_hint_lists_them_with_kcat_as_installed(runs: Runs) -> None:
    """The kcat command the report suggests for kept topics works against the local broker
    (container and native) with the system's kcat as it is: no librdkafka swapped in."""
    if shutil.which("kcat") is None:
        reason = "kcat is not installed (apt-get install kcat)"
        if os.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false"):
            pytest.fail(reason)
        pytest.skip(reason)
    env = runs.up("false")
    report = runs.finish(env, passed=True)
    (kept,) = [k for k in report.kept if k.kind == "topics"]
    command = kept.reach[kept.reach.index("kcat ") :].split(";")[0].rstrip(")")
    assert f"-b {env.endpoints('kafka')['bootstrap_servers']} -L" in command, kept.reach
    plain = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    listed = subprocess.run(
        shlex.split(command), env=plain, capture_output=True, text=True, timeout=60, check=False
    )
    assert listed.returncode == 0, listed.stderr
    assert f'topic "{env.endpoints("kafka")["topics"]["orders"]}"' in listed.stdout, listed.stdout


@pytest.mark.parametrize("passed", [True, False])
def test_on_success_removes_only_when_the_run_passed(
    runs: Runs, docker_client: Any, passed: bool
) -> None:
    env = runs.up("on_success")
    report = runs.finish(env, passed=passed)
    if passed:
        assert report.kept == []
        assert managed_resources(docker_client, env.run_id) == []
    else:
        assert kept_kinds(report) == {
            ("kafka", "topics"),
            ("kafka", "consumer_groups"),
            ("kafka", "containers"),
        }
        assert containers(docker_client, env.run_id) == {env.services["kafka"].container}


def test_kept_topics_keep_their_container_while_groups_and_other_services_go(
    runs: Runs, docker_client: Any
) -> None:
    env = runs.up("{containers: true, topics: false}", ("kafka", "cache"))
    servers = env.endpoints("kafka")["bootstrap_servers"]
    orders = env.endpoints("kafka")["topics"]["orders"]
    commit(servers, env.namespace.group("billing"), orders, 0, 1)
    report = runs.finish(env, passed=False)
    assert report.errors == []
    assert kept_kinds(report) == {("kafka", "topics"), ("kafka", "containers")}
    (container,) = [k for k in report.kept if k.kind == "containers"]
    assert container.note == "container kept: its topics are kept and live in it"
    assert containers(docker_client, env.run_id) == {env.services["kafka"].container}
    assert orders in topics(servers)
    assert env.namespace.group("billing") not in groups(servers)


def test_kept_container_with_its_topics_removed(runs: Runs, docker_client: Any) -> None:
    env = runs.up("{containers: false, topics: true, consumer_groups: false}")
    servers = env.endpoints("kafka")["bootstrap_servers"]
    orders = env.endpoints("kafka")["topics"]["orders"]
    group = env.namespace.group("billing")
    commit(servers, group, orders, 0, 1)
    produce(servers, "not-the-runs", b"x")  # brokers drop offsets of deleted topics only
    commit(servers, group, "not-the-runs", 0, 1)
    report = runs.finish(env, passed=True)
    assert kept_kinds(report) == {("kafka", "consumer_groups"), ("kafka", "containers")}
    (kept_groups,) = [k for k in report.kept if k.kind == "consumer_groups"]
    assert kept_groups.note == "brokers drop committed offsets of deleted topics"
    assert containers(docker_client, env.run_id) == {env.services["kafka"].container}
    assert orders not in topics(servers) and "not-the-runs" in topics(servers)
    assert group in groups(servers)


def test_a_service_overrides_the_scenario(runs: Runs, docker_client: Any) -> None:
    env = runs.up("true", ("kafka", "cache"), overrides={"cache": "cleanup_after: false"})
    report = runs.finish(env, passed=True)
    assert kept_kinds(report) == {("cache", "databases"), ("cache", "containers")}
    assert containers(docker_client, env.run_id) == {env.services["cache"].container}
    cache = env.endpoints("cache")
    assert keys(cache["url"], cache["key_prefix"] + "*") == {cache["key_prefix"] + "user:1"}


def test_kept_volumes_outlive_their_container(
    runs: Runs, docker_client: Any, test_env: dict[str, str]
) -> None:
    if test_env["ENVCTL_RUNTIME"] == "native":
        pytest.skip("volumes belong to generic containers, which have no native form")
    extra = f"""
  box:
    type: generic
    image: {BASE_IMAGE}
    command: [sleep, infinity]
    volumes: ['data:/data']"""
    env = runs.up("{volumes: false}", ("kafka",), extra=extra)
    report = runs.finish(env, passed=True)
    volume = f"envctl-{env.scenario.name}-box-data-{env.run_id}"
    assert [(k.service, k.kind, k.names) for k in report.kept] == [("box", "volumes", [volume])]
    resources = managed_resources(docker_client, env.run_id)
    assert not [r for r in resources if r.startswith("container ")]
    assert f"volume {volume}" in resources
    assert f"volume envctl-{env.scenario.name}-detached-{env.run_id}" in resources


def test_kept_data_on_external_services_is_removed_by_down(
    runs: Runs, shared_servers: dict[str, str]
) -> None:
    runs.environ.update(
        {
            "ENVCTL_KAFKA_URL": shared_servers["kafka"],
            "ENVCTL_DB_URL": shared_servers["postgres"],
            "ENVCTL_CACHE_URL": shared_servers["redis"],
        }
    )
    env = runs.up("{topics: false, databases: true}", ("kafka", "db", "cache"), external=True)
    servers = shared_servers["kafka"]
    orders = env.endpoints("kafka")["topics"]["orders"]
    commit(servers, env.namespace.group("billing"), orders, 0, 1)
    database = env.endpoints("db")["database"]
    assert database in databases(shared_servers["postgres"])
    report = runs.finish(env, passed=False)
    assert report.errors == []
    assert kept_kinds(report) == {("kafka", "topics")}
    assert orders in topics(servers)
    assert env.namespace.group("billing") not in groups(servers)
    assert database not in databases(shared_servers["postgres"])
    assert keys(shared_servers["redis"], env.namespace.key_prefix + "*") == set()
    # the record remembers the kept topics; down removes them from the shared broker
    assert runs.record(env.run_id) is not None
    output = runs.down(env.run_id)
    assert f"removed topics, consumer_groups of run {env.run_id} on external service 'kafka'" in (
        output
    )
    assert orders not in topics(servers)
    assert runs.record(env.run_id) is None
