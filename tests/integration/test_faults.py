"""Fault injection for real: each kind's effect seen by a real client, and its reversal.

One environment (Redis and PostgreSQL, both behind fault proxies) is brought up with
``envctl up --fault-proxy`` for the module; each test injects one fault with
``envctl fault`` and checks what a client sees during it and after ``envctl fault revert``.
"""

from __future__ import annotations

import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from support import managed_resources, run_envctl, up_json

from envctl.faults.proxies import LABEL_FAULT_PROXY, ProxyProcess, is_proxy
from envctl.retry import poll_until

pytestmark = pytest.mark.docker

FAULT_WAIT = 30.0
"""Seconds a fault's effect (or its reversal) has to show."""
RTT_TOLERANCE = 0.15
"""Seconds of measured round trip allowed above the injected latency (a loaded CI box)."""

SCENARIO = """
name: {name}
dependency_mode: real
external_services:
  redis: {{type: redis}}
  db: {{type: postgres}}
"""


class Env:
    def __init__(self, data: dict[str, Any], env: dict[str, str], scenarios: Path) -> None:
        self.data = data
        self.env = env
        self.scenarios = scenarios
        self.run_id = str(data["run_id"])
        self.redis_port = int(data["services"]["redis"]["port"])
        self.db_dsn = str(data["services"]["db"]["dsn"])

    def envctl(self, *args: str, ok: bool = True) -> str:
        result = run_envctl("--scenarios-dir", str(self.scenarios), *args, env=self.env)
        if ok:
            assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    def fault(self, action: str, service: str, *options: str) -> str:
        return self.envctl("fault", action, "--run-id", self.run_id, "--service", service, *options)

    def revert(self) -> str:
        return self.envctl("fault", "revert", "--run-id", self.run_id)

    def container(self, service: str) -> str:
        return str(self.data["services"][service]["container"])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory, docker_client: Any) -> Iterator[Env]:
    import os

    from support import SESSION_LABEL, TEST_IMAGES

    folder = tmp_path_factory.mktemp("faults")
    scenarios = folder / "scenarios"
    scenarios.mkdir()
    name = f"faults_{uuid.uuid4().hex[:8]}"
    (scenarios / f"scenario_{name}.yaml").write_text(textwrap.dedent(SCENARIO.format(name=name)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(TEST_IMAGES)
    env["ENVCTL_LABELS"] = SESSION_LABEL
    env["ENVCTL_STATE_DIR"] = str(folder / "state")
    result = run_envctl(
        "--scenarios-dir",
        str(scenarios),
        "up",
        "-s",
        name,
        "--json",
        "--fault-proxy",
        "redis",
        "--fault-proxy",
        "db",
        env=env,
    )
    data = up_json(result)
    handle = Env(data, env, scenarios)
    proxies = proxies_of(docker_client, handle.run_id)
    try:
        assert set(proxies) == {"redis", "db"}
        yield handle
    finally:
        handle.envctl("down", "--run-id", handle.run_id, ok=False)
        assert managed_resources(docker_client, handle.run_id) == []
        alive = [p for p in proxies.values() if poll_until(lambda p=p: not is_proxy(p.pid), 10)]
        assert len(alive) == len(proxies), "a fault proxy outlived its container"


def proxies_of(client: Any, run_id: str) -> dict[str, ProxyProcess]:
    found: dict[str, ProxyProcess] = {}
    for c in client.containers.list(all=True, filters={"label": f"io.envctl.run-id={run_id}"}):
        label = c.labels.get(LABEL_FAULT_PROXY)
        if label:
            proxy = ProxyProcess.from_label(label)
            assert proxy is not None
            found[c.labels["io.envctl.service"]] = proxy
    return found


def inspect(client: Any, name: str) -> dict[str, Any]:
    return client.api.inspect_container(name)  # type: ignore[no-any-return]


def redis_client(port: int, timeout: float = 2.0) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=timeout, socket_connect_timeout=timeout)


def rtt(client: redis.Redis) -> float:
    t0 = time.monotonic()
    client.ping()
    return time.monotonic() - t0


def answers(port: int, timeout: float = 1.0) -> bool:
    try:
        return bool(redis_client(port, timeout).ping())
    except (redis.RedisError, OSError):
        return False


def reachable_from(client: Any, container: str, host: str, port: int) -> bool:
    """Whether ``container`` reaches ``host:port`` over the run network (bash's /dev/tcp)."""
    result = client.containers.get(container).exec_run(
        ["timeout", "3", "bash", "-c", f"exec 3<>/dev/tcp/{host}/{port}"]
    )
    return result.exit_code == 0


# -- container faults ------------------------------------------------------------------------


def test_restart_keeps_the_host_port_and_the_data(faulty: Env, docker_client: Any) -> None:
    before = inspect(docker_client, faulty.container("db"))["NetworkSettings"]["Ports"]
    with psycopg.connect(faulty.db_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (id int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    out = faulty.fault("restart", "db")
    assert "applied and reverted" in out
    after = inspect(docker_client, faulty.container("db"))
    assert after["State"]["Status"] == "running"
    assert after["NetworkSettings"]["Ports"] == before
    assert faulty.data["services"]["db"]["port"]  # the address clients use did not move

    def rows() -> int:
        with psycopg.connect(faulty.db_dsn, connect_timeout=2) as conn:
            return len(conn.execute("SELECT id FROM kept").fetchall())

    assert poll_until(lambda: rows() == 1, FAULT_WAIT)


def test_kill_for_a_duration_comes_back_on_the_same_port(faulty: Env, docker_client: Any) -> None:
    name = faulty.container("redis")
    before = inspect(docker_client, name)["NetworkSettings"]["Ports"]
    faulty.fault("kill", "redis")  # held: stays down until reverted
    state = inspect(docker_client, name)["State"]
    assert state["Status"] == "exited" and state["ExitCode"] == 137
    assert not answers(faulty.redis_port)
    faulty.revert()
    assert inspect(docker_client, name)["NetworkSettings"]["Ports"] == before
    assert poll_until(lambda: answers(faulty.redis_port), FAULT_WAIT)


def test_stop_and_start(faulty: Env, docker_client: Any) -> None:
    name = faulty.container("redis")
    faulty.fault("stop", "redis")
    assert inspect(docker_client, name)["State"]["Status"] == "exited"
    faulty.fault("start", "redis")
    assert inspect(docker_client, name)["State"]["Status"] == "running"
    assert poll_until(lambda: answers(faulty.redis_port), FAULT_WAIT)
    faulty.revert()  # the stop's journal entry: already running, nothing to do
    assert inspect(docker_client, name)["State"]["Status"] == "running"


def test_pause_blocks_requests_which_resume_after(faulty: Env, docker_client: Any) -> None:
    client = redis_client(faulty.redis_port, timeout=FAULT_WAIT)
    client.set("paused", "no")
    faulty.fault("pause", "redis")
    assert inspect(docker_client, faulty.container("redis"))["State"]["Status"] == "paused"
    with pytest.raises(redis.TimeoutError):
        redis_client(faulty.redis_port, timeout=0.5).get("paused")  # a black hole
    t0 = time.monotonic()
    faulty.revert()
    assert client.get("paused") == b"no"  # the waiting client is answered
    assert time.monotonic() - t0 < FAULT_WAIT
    assert inspect(docker_client, faulty.container("redis"))["State"]["Status"] == "running"


def test_cpu_and_memory_limits_show_in_docker_inspect(faulty: Env, docker_client: Any) -> None:
    name = faulty.container("redis")
    faulty.fault("cpu", "redis", "--cpus", "0.5")
    faulty.fault("memory", "redis", "--memory", "64m")
    host = inspect(docker_client, name)["HostConfig"]
    assert host["NanoCpus"] == 500_000_000
    assert host["Memory"] == 64 * 1024 * 1024
    assert answers(faulty.redis_port)
    faulty.revert()
    host = inspect(docker_client, name)["HostConfig"]
    info = docker_client.info()
    # Docker cannot remove a limit: "unlimited" is the host's capacity.
    assert host["NanoCpus"] in (0, info["NCPU"] * 1_000_000_000)
    assert host["Memory"] in (0, info["MemTotal"])
    assert answers(faulty.redis_port)


# -- partitions ------------------------------------------------------------------------------


def test_partition_from_the_network_keeps_the_host(faulty: Env, docker_client: Any) -> None:
    db = faulty.container("db")
    assert reachable_from(docker_client, db, "redis", 6379)
    faulty.fault("partition", "redis", "--from", "network")
    assert not reachable_from(docker_client, db, "redis", 6379)
    assert answers(faulty.redis_port)
    faulty.revert()
    assert reachable_from(docker_client, db, "redis", 6379)
    assert answers(faulty.redis_port)
    networks = inspect(docker_client, faulty.container("redis"))["NetworkSettings"]["Networks"]
    assert len(networks) == 1 and "redis" in next(iter(networks.values()))["Aliases"]


def test_partition_from_the_host_keeps_the_network(faulty: Env, docker_client: Any) -> None:
    db = faulty.container("db")
    faulty.fault("partition", "redis", "--from", "host")
    assert not answers(faulty.redis_port)
    assert reachable_from(docker_client, db, "redis", 6379)
    faulty.revert()
    assert poll_until(lambda: answers(faulty.redis_port), FAULT_WAIT)


def test_partition_from_both(faulty: Env, docker_client: Any) -> None:
    db = faulty.container("db")
    faulty.fault("partition", "redis", "--from", "both")
    assert not answers(faulty.redis_port)
    assert not reachable_from(docker_client, db, "redis", 6379)
    faulty.revert()
    assert poll_until(lambda: answers(faulty.redis_port), FAULT_WAIT)
    assert reachable_from(docker_client, db, "redis", 6379)


# -- proxy faults ----------------------------------------------------------------------------


def test_latency_shows_in_round_trips(faulty: Env) -> None:
    client = redis_client(faulty.redis_port, timeout=FAULT_WAIT)
    baseline = min(rtt(client) for _ in range(5))
    faulty.fault("latency", "redis", "--delay", "300ms", "--jitter", "20ms")
    measured = [rtt(client) for _ in range(5)]
    assert all(0.28 <= m <= 0.32 + baseline + RTT_TOLERANCE for m in measured), measured
    faulty.revert()
    assert min(rtt(client) for _ in range(5)) < 0.28


def test_postgres_latency_exceeds_a_client_timeout(faulty: Env) -> None:
    faulty.fault("latency", "db", "--delay", "1500ms")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(faulty.db_dsn, connect_timeout=1).close()
    faulty.revert()
    psycopg.connect(faulty.db_dsn, connect_timeout=5).close()


def test_loss_drops_connections(faulty: Env) -> None:
    faulty.fault("loss", "redis", "--percent", "100")
    assert not any(answers(faulty.redis_port) for _ in range(3))
    faulty.revert()
    assert all(answers(faulty.redis_port) for _ in range(3))


def test_bandwidth_limits_throughput(faulty: Env) -> None:
    client = redis_client(faulty.redis_port, timeout=FAULT_WAIT)
    client.set("big", b"x" * 200_000)
    faulty.fault("bandwidth", "redis", "--kbps", "100")
    t0 = time.monotonic()
    assert len(client.get("big") or b"") == 200_000
    limited = time.monotonic() - t0
    assert limited >= 1.5, limited  # ~195 KiB at 100 KiB/s
    faulty.revert()
    t0 = time.monotonic()
    client.get("big")
    assert time.monotonic() - t0 < limited / 2


def test_reset_drops_open_and_new_connections(faulty: Env) -> None:
    client = redis_client(faulty.redis_port)
    assert client.ping()
    faulty.fault("reset", "redis")
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=faulty.redis_port, socket_timeout=2, retry_on_error=[]).ping()
    faulty.revert()
    assert answers(faulty.redis_port)


def test_timeout_hangs_connections_until_reverted(faulty: Env) -> None:
    waiting = redis_client(faulty.redis_port, timeout=FAULT_WAIT)
    assert waiting.ping()
    faulty.fault("timeout", "redis")
    with pytest.raises(redis.TimeoutError):
        redis_client(faulty.redis_port, timeout=0.5).ping()
    faulty.revert()
    assert waiting.ping()
    assert answers(faulty.redis_port)


def test_network_faults_need_a_proxy_and_say_so(tmp_path: Path, faulty: Env) -> None:
    out = faulty.envctl(
        "fault", "latency", "--run-id", faulty.run_id, "--service", "db", "--delay", "0", ok=False
    )
    assert "needs delay" in out
    out = faulty.envctl(
        "fault",
        "latency",
        "--run-id",
        faulty.run_id,
        "--service",
        "dbb",
        "--delay",
        "10ms",
        ok=False,
    )
    assert "did you mean 'db'" in out


def test_kafka_clients_follow_the_proxy_as_advertised_listener(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any
) -> None:
    from confluent_kafka.admin import AdminClient

    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    name = f"kfault_{uuid.uuid4().hex[:8]}"
    (scenarios / f"scenario_{name}.yaml").write_text(
        f"name: {name}\ndependency_mode: real\nexternal_services:\n"
        "  kafka: {type: kafka, topics: [orders]}\n"
    )
    test_env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    data = up_json(
        run_envctl(
            "--scenarios-dir",
            str(scenarios),
            "up",
            "-s",
            name,
            "--json",
            "--fault-proxy",
            "kafka",
            env=test_env,
        )
    )
    run_id = data["run_id"]
    try:
        bootstrap = data["services"]["kafka"]["bootstrap_servers"]
        proxy = proxies_of(docker_client, run_id)["kafka"]
        assert bootstrap == f"127.0.0.1:{proxy.listen}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        brokers = admin.list_topics(timeout=10).brokers
        assert [b.port for b in brokers.values()] == [proxy.listen]  # advertised: the proxy
        assert proxy.upstream != proxy.listen
        t0 = time.monotonic()
        admin.list_topics(timeout=10)
        baseline = time.monotonic() - t0
        run_envctl(
            "fault",
            "latency",
            "--run-id",
            run_id,
            "--service",
            "kafka",
            "--delay",
            "400ms",
            env=test_env,
        )
        t0 = time.monotonic()
        admin.list_topics(timeout=10)
        assert time.monotonic() - t0 >= 0.4 > baseline
    finally:
        run_envctl("down", "--run-id", run_id, env=test_env)
    assert managed_resources(docker_client, run_id) == []
