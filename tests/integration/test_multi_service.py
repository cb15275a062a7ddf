"""Kafka, Postgres, Redis and a generic container together, through the CLI, for real.

Each test writes its scenario into a temporary scenarios dir, runs ``envctl up --json`` in
a subprocess, talks to the printed endpoints with clients envctl does not ship (psql,
redis-cli, an HTTP GET), and always ends with ``envctl down --run-id`` and a check that
nothing labelled with the run is left.

Start order is checked against Docker's own clock (container creation and start times,
log line timestamps), plus the per-phase durations ``up --json`` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support import BASE_IMAGE, TEST_IMAGES, managed_resources, run_envctl, up_json

pytestmark = pytest.mark.docker

HTTP_SERVER = r"""
# A tiny HTTP server: GET /health -> 200 "ok", anything else -> 404.
use strict;
use warnings;
use IO::Socket::INET;

$| = 1;
my $port = $ARGV[0] // 8080;
my $server = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0', LocalPort => $port, Listen => 16, ReuseAddr => 1,
) or die "cannot listen on $port: $!\n";
print "listening on $port\n";
while (my $client = $server->accept) {
    my $request = <$client> // '';
    while (my $line = <$client>) { last if $line =~ /^\r?\n$/; }
    my ($status, $body) = $request =~ m{^GET /health[ ?]}
        ? ('200 OK', "ok\n") : ('404 Not Found', "not found\n");
    print $client "HTTP/1.0 $status\r\nContent-Type: text/plain\r\nContent-Length: "
        . length($body) . "\r\nConnection: close\r\n\r\n$body";
    close $client;
}
"""


# -- helpers ---------------------------------------------------------------------------------


def unique(prefix: str) -> str:
    """A scenario name no other run on this daemon uses (its label scopes fallback cleanup)."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def write_scenario(scenarios_dir: Path, name: str, text: str) -> Path:
    path = scenarios_dir / f"scenario_{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@contextmanager
def environment(
    scenarios_dir: Path, name: str, env: dict[str, str], docker_client: Any
) -> Iterator[dict[str, Any]]:
    """``envctl up --json``; on leaving, ``envctl down --run-id`` and check nothing is left."""
    run_id: str | None = None
    try:
        result = run_envctl(
            "--scenarios-dir", str(scenarios_dir), "up", "--scenario", name, "--json", env=env
        )
        data = up_json(result)
        run_id = data["run_id"]
        yield data
    finally:
        if run_id is not None:
            down = run_envctl("down", "--run-id", run_id, env=env)
            assert down.returncode == 0, down.stderr
            assert managed_resources(docker_client, run_id) == []
        else:
            # up failed or was killed before printing its run id: the scenario name is
            # unique to this test, so its label finds whatever might be left.
            run_envctl("down", "--scenario", name, env=env)
            left = docker_client.containers.list(
                all=True, filters={"label": [f"io.envctl.scenario={name}"]}
            )
            assert left == [], f"left behind: {[c.name for c in left]}"


def docker_time(text: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; Python takes microseconds."""
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    assert match, f"not a Docker timestamp: {text!r}"
    fraction = (match.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(f"{match.group(1)}.{fraction}{zone}")


def started_at(docker_client: Any, container: str) -> datetime:
    return docker_time(docker_client.containers.get(container).attrs["State"]["StartedAt"])


def created_at(docker_client: Any, container: str) -> datetime:
    return docker_time(docker_client.containers.get(container).attrs["Created"])


def log_line_at(docker_client: Any, container: str, pattern: str, last: bool = False) -> datetime:
    """When the first (or last) log line matching ``pattern`` was written, by Docker's clock."""
    raw = docker_client.containers.get(container).logs(timestamps=True)
    found = [
        docker_time(stamp)
        for stamp, _, text in (line.partition(" ") for line in raw.decode().splitlines())
        if re.search(pattern, text)
    ]
    assert found, f"no log line of {container} matches {pattern!r}"
    return found[-1] if last else found[0]


def require_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def published_host_ips(docker_client: Any, container: str) -> set[str]:
    bindings = docker_client.containers.get(container).attrs["HostConfig"]["PortBindings"]
    return {b["HostIp"] for entries in (bindings or {}).values() for b in entries or []}


# -- four services, one depending on the other three ---------------------------------------------


@pytest.fixture(scope="module")
def module_env() -> dict[str, str]:
    """Like ``test_env``, for a module-scoped environment shared by several tests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(TEST_IMAGES)
    return env


@pytest.fixture(scope="module")
def four_services(
    tmp_path_factory: pytest.TempPathFactory, module_env: dict[str, str], docker_client: Any
) -> Iterator[dict[str, Any]]:
    """Started once for the tests of this section (about 4 s with the local images)."""
    tmp_path = tmp_path_factory.mktemp("four")
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "server.pl").write_text(HTTP_SERVER, encoding="utf-8")
    name = unique("multi")
    # The app checks from inside the run's network that its dependencies answer, by
    # service name, before it serves: started too early, it exits 1 and `up` fails.
    write_scenario(
        tmp_path,
        name,
        f"""
        name: {name}
        dependency_mode: real
        external_services:
          kafka:
            type: kafka
          postgres:
            type: postgres
          redis:
            type: redis
          app:
            type: generic
            image: {BASE_IMAGE}
            depends_on: [kafka, postgres, redis]
            volumes: ["{app_dir}:/app"]
            env:
              # the run's own database is envctl_<run>_envctl; `postgres` always exists
              DATABASE_URL: postgresql://postgres:envctl@postgres:5432/postgres
            command:
              - bash
              - -c
              - |
                set -e
                psql -v ON_ERROR_STOP=1 -qAt "$DATABASE_URL" -c 'select 1'
                redis-cli -h redis ping | grep -qx PONG
                exec 3<>/dev/tcp/kafka/9092
                exec perl /app/server.pl 8080
            probe:
              http: {{port: 8080, path: /health, status: 200}}
        """,
    )
    with environment(tmp_path, name, module_env, docker_client) as data:
        yield data


def test_four_services_come_up_with_printed_endpoints(
    four_services: dict[str, Any], docker_client: Any
) -> None:
    services = four_services["services"]
    assert {n: s["status"] for n, s in services.items()} == dict.fromkeys(
        ("kafka", "postgres", "redis", "app"), "ready"
    )
    postgres, redis, app = services["postgres"], services["redis"], services["app"]
    database = f"envctl_{four_services['run_id']}_envctl"  # the run's namespace
    assert re.fullmatch(
        rf"postgresql://postgres:envctl@127\.0\.0\.1:\d+/{database}", postgres["dsn"]
    )
    assert postgres["dsn"].endswith(f":{postgres['port']}/{database}")
    assert (postgres["host"], postgres["user"], postgres["database"]) == (
        "127.0.0.1",
        "postgres",
        database,
    )
    assert redis["url"] == f"redis://127.0.0.1:{redis['port']}/0"
    assert app["host"] == "127.0.0.1"
    assert set(app["ports"]) == {"8080"}
    assert app["url"] == f"http://127.0.0.1:{app['ports']['8080']}"
    for service in services.values():
        assert published_host_ips(docker_client, service["container"]) == {"127.0.0.1"}


def test_clients_reach_the_printed_endpoints(
    four_services: dict[str, Any], kcat_env: dict[str, str]
) -> None:
    psql = require_tool("psql", "postgresql-client")
    redis_cli = require_tool("redis-cli", "redis-tools")
    kcat = require_tool("kcat", "kcat")
    services = four_services["services"]

    listing = subprocess.run(
        [kcat, "-b", services["kafka"]["bootstrap_servers"], "-L", "-J"],
        env=kcat_env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)["brokers"], listing.stdout

    answer = subprocess.run(
        [psql, services["postgres"]["dsn"], "-v", "ON_ERROR_STOP=1", "-qAt", "-c", "select 1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (answer.returncode, answer.stdout.strip()) == (0, "1"), answer.stderr

    pong = subprocess.run(
        [redis_cli, "-u", services["redis"]["url"], "ping"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (pong.returncode, pong.stdout.strip()) == (0, "PONG"), pong.stderr

    with urllib.request.urlopen(f"{services['app']['url']}/health", timeout=10) as response:
        assert (response.status, response.read()) == (200, b"ok\n")


def test_dependent_started_after_its_dependencies_were_ready(
    four_services: dict[str, Any], docker_client: Any
) -> None:
    services = four_services["services"]
    app_created = created_at(docker_client, services["app"]["container"])
    # Logged twice on a first start: by the init server (unix socket only), then by the
    # real server once initialisation is complete. The last one is the one that counts.
    postgres_ready = log_line_at(
        docker_client,
        services["postgres"]["container"],
        "ready to accept connections",
        last=True,
    )
    assert app_created > postgres_ready
    for dependency in ("kafka", "postgres", "redis"):
        state = services[dependency]
        ready_no_earlier_than = started_at(docker_client, state["container"]) + timedelta(
            seconds=state["timings"]["ready"]
        )
        assert app_created > ready_no_earlier_than, dependency


# -- a slow service delays its dependents only ------------------------------------------------


def test_slow_readiness_delays_dependents_only(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    name = unique("order")
    write_scenario(
        tmp_path,
        name,
        f"""
        name: {name}
        dependency_mode: real
        external_services:
          slow:
            type: generic
            image: {BASE_IMAGE}
            command: [bash, -c, 'sleep 3; echo "slow is ready"; exec sleep infinity']
            probe: {{log: {{pattern: "^slow is ready$"}}}}
          after-slow:
            type: generic
            image: {BASE_IMAGE}
            command: [sleep, infinity]
            depends_on: [slow]
          fast:
            type: generic
            image: {BASE_IMAGE}
            command: sleep infinity
            probe: {{exec: {{command: ["true"]}}}}
          cache:
            type: redis
        """,
    )
    with environment(tmp_path, name, test_env, docker_client) as data:
        services = data["services"]
        assert all(s["status"] == "ready" for s in services.values()), services
        slow_line = log_line_at(docker_client, services["slow"]["container"], "slow is ready")
        slow_timings = services["slow"]["timings"]
        assert slow_timings["start"] + slow_timings["ready"] >= 2.5

        # Independent services were started, and ready, before the slow one's line appeared.
        for independent in ("fast", "cache"):
            state = services[independent]
            started = started_at(docker_client, state["container"])
            assert started < slow_line, independent
            assert started + timedelta(seconds=state["timings"]["ready"]) < slow_line
            assert state["timings"]["ready"] < 2.5, independent

        # The dependent was not even created before its dependency's readiness line.
        after = services["after-slow"]["container"]
        assert created_at(docker_client, after) > slow_line
        assert started_at(docker_client, after) > slow_line


# -- services that already run, reached by URL ---------------------------------------------------


def test_external_postgres_and_redis_are_reached_by_url(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    backing = unique("backing")
    write_scenario(
        tmp_path,
        backing,
        f"""
        name: {backing}
        dependency_mode: real
        external_services:
          postgres: {{type: postgres, user: app, password: s3cret, database: orders}}
          redis: {{type: redis}}
        """,
    )
    using = unique("using")
    write_scenario(
        tmp_path,
        using,
        f"""
        name: {using}
        dependency_mode: real
        external_services:
          db: {{type: postgres, mode: external}}
          cache: {{type: redis, mode: external}}
        """,
    )
    with environment(tmp_path, backing, test_env, docker_client) as started:
        pg, redis = started["services"]["postgres"], started["services"]["redis"]
        orders = f"envctl_{started['run_id']}_orders"  # the run's physical database
        assert pg["dsn"] == f"postgresql://app:s3cret@127.0.0.1:{pg['port']}/{orders}"
        env = {**test_env, "ENVCTL_DB_URL": pg["dsn"], "ENVCTL_CACHE_URL": redis["url"]}
        with environment(tmp_path, using, env, docker_client) as reached:
            db, cache = reached["services"]["db"], reached["services"]["cache"]
            assert (db["mode"], db["status"], db["container"]) == ("external", "ready", None)
            # a password in an external address is used to connect, never printed; the
            # second run gets a database of its own on the same server
            own = f"envctl_{reached['run_id']}_envctl"
            assert (db["dsn"], db["port"], db["user"], db["database"]) == (
                f"postgresql://app:***@127.0.0.1:{pg['port']}/{own}",
                pg["port"],
                "app",
                own,
            )
            assert (cache["status"], cache["url"]) == ("ready", redis["url"])
            assert managed_resources(docker_client, reached["run_id"]) == []


def test_named_volume_is_run_scoped_labelled_and_removed(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_vol.yaml").write_text(
        "name: vol\n"
        "dependency_mode: real\n"
        "external_services:\n"
        "  box:\n"
        "    type: generic\n"
        f"    image: {BASE_IMAGE}\n"
        "    command: [sh, -c, 'echo hello > /data/x && sleep infinity']\n"
        "    volumes: ['data:/data']\n"
        "    probe: {exec: [test, -s, /data/x]}\n"
    )
    result = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "vol", "--json", env=test_env
    )
    data = up_json(result)
    run_id = data["run_id"]
    try:
        volumes = docker_client.volumes.list(
            filters={"label": [f"io.envctl.run-id={run_id}", "io.envctl.service=box"]}
        )
        assert [v.name for v in volumes] == [f"envctl-vol-box-data-{run_id}"]
    finally:
        run_envctl("down", "--run-id", run_id, env=test_env)
    assert managed_resources(docker_client, run_id) == []


def test_containers_learn_run_and_dependency_fields_from_placeholders(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    (scenarios / "scenario_wired.yaml").write_text(
        textwrap.dedent(f"""
        name: wired
        dependency_mode: real
        external_services:
          kafka: {{type: kafka, topics: [orders]}}
          app:
            type: generic
            image: {BASE_IMAGE}
            command: [sleep, infinity]
            depends_on: [kafka]
            env:
              ORDERS_TOPIC: ${{services.kafka.topics.orders}}
              RUN: run-${{run.id}}
        """)
    )
    data = up_json(
        run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "wired", "--json", env=test_env)
    )
    try:
        container = docker_client.containers.get(data["services"]["app"]["container"])
        environment = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
        assert environment["ORDERS_TOPIC"] == data["services"]["kafka"]["topics"]["orders"]
        assert environment["RUN"] == f"run-{data['run_id']}"
    finally:
        run_envctl("down", "--run-id", data["run_id"], env=test_env)

    (scenarios / "scenario_unwired.yaml").write_text(
        textwrap.dedent(f"""
        name: unwired
        dependency_mode: real
        external_services:
          kafka: {{type: kafka}}
          app:
            type: generic
            image: {BASE_IMAGE}
            command: [sleep, infinity]
            env: {{SERVERS: "${{services.kafka.bootstrap_servers}}"}}
        """)
    )
    failed = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "unwired", env=test_env)
    assert failed.returncode == 1
    assert "service 'app': env:" in failed.stderr
    assert "depends_on" in failed.stderr
