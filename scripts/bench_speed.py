#!/usr/bin/env python3
"""Issue 11's "Measure": real dependencies at mock speed. Prints figures and ratios against
their targets; asserts nothing (speed goals are checked here, never in tests).

1. A 30-test pytest suite (each test: a clean topic + table + key; publish, consume, insert,
   set): envctl per-test isolation on warm instances vs envctl mock mode vs testcontainers
   (session containers + hand-written cleanup, and fresh containers per test: a few tests
   measured, the 30 extrapolated, said so). Targets: envctl real <= 2x mock; >= 10x faster
   than testcontainers' fresh containers per test.
2. `envctl run --scenario orders_flow_real` warm (second run in a row, --reuse) vs mock:
   <= 1.5x; cold: <= Docker's own create+start+service boot (bare `docker run` of the three
   images, each polled tightly over its protocol) + 0.3 s.
3. Hand-out latency of an isolated namespace on a warm environment (Kafka topics + Postgres
   database from the pool + Redis prefix), p50 and p95: p95 <= 25 ms.
4. `run-all` with the default settings, of the shipped scenarios and of 20 Kafka scenarios,
   against the slowest single scenario: <= 2x.
5. Leaks: after the benchmark, and after SIGKILL of a run holding a lease once its TTL has
   passed, nothing is left; a held instance survives `gc` and `down --warm`.

Everything runs on the local test images (envctl-test/*), labelled bench=<id> and with a
private ENVCTL_WARM_DIR; measurements are interleaved (real and mock alternate).

testcontainers-python runs with Ryuk disabled (TESTCONTAINERS_RYUK_DISABLED=true, nothing can
be pulled here) and its ports bound to 127.0.0.1 (its default is every interface, which this
machine forbids). Usage: scripts/bench_speed.py [--rounds N] [--skip-testcontainers]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TEST_IMAGES = {
    "ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu",
    "ENVCTL_IMAGE_POSTGRES": "envctl-test/postgres:15",
    "ENVCTL_IMAGE_REDIS": "envctl-test/redis:7",
    "ENVCTL_APP_IMAGE": "envctl-test/postgres:15",
}
TAG = uuid.uuid4().hex[:8]
LABEL = f"bench={TAG}"

SUITE_SCENARIO = """\
name: suite
dependency_mode: real
external_services:
  kafka: {type: kafka, topics: [events]}
  db:
    type: postgres
    seed: [{from: schema.sql}]
  cache: {type: redis}
"""
SUITE_SCHEMA = "CREATE TABLE items (id int PRIMARY KEY, name text);\n"
SUITE_TESTS = """\
import pytest

@pytest.mark.parametrize("n", range(30))
def test_one(envctl_environment, n):
    env = envctl_environment("suite")
    bus, db, cache = env.tool("kafka"), env.tool("db"), env.tool("cache")
    bus.publish("events", {"n": n}, key=str(n))
    assert [m.value for m in bus.consume("events", count=1, timeout=10)] == [{"n": n}]
    db.execute("INSERT INTO items VALUES (%s, %s)", [n, "x"])
    assert db.query("SELECT count(*) AS c FROM items")[0]["c"] == 1
    cache.set("k", n)
    assert cache.get("k") == str(n)
"""
KAFKA_SCENARIO = """\
name: bench_{index:02d}
dependency_mode: real
external_services:
  kafka: {{type: kafka, topics: [bench]}}
steps:
  - publish: {{topic: bench, key: "{index}", value: {{n: {index}}}}}
  - expect_message: {{topic: bench, match: {{value.n: {index}}}, within: 10}}
expected:
  messages: {{bench: 1}}
"""


def base_env(warm_dir: Path, state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVCTL_")}
    env.update(TEST_IMAGES)
    env.update(
        {
            "ENVCTL_LABELS": LABEL,
            "ENVCTL_WARM_DIR": str(warm_dir),
            "ENVCTL_STATE_DIR": str(state_dir),
            "PYTHONPATH": str(REPO),
        }
    )
    return env


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    t0 = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if result.returncode != 0:
        print(f"  ! {' '.join(command[-4:])} exit {result.returncode}: {result.stdout[-400:]}")
        print(f"    {result.stderr[-600:]}")
    return took, result.stdout


def envctl(*args: str) -> list[str]:
    return [sys.executable, "-m", "envctl", *args]


def verdict(value: float, target: float, better: str = "lower") -> str:
    ok = value <= target if better == "lower" else value >= target
    return "met" if ok else "MISSED"


# -- 1. the 30-test suite -------------------------------------------------------------------


def suite_project(root: Path) -> Path:
    (root / "scenarios").mkdir(parents=True)
    (root / "scenarios" / "scenario_suite.yaml").write_text(SUITE_SCENARIO)
    (root / "scenarios" / "schema.sql").write_text(SUITE_SCHEMA)
    (root / "test_suite.py").write_text(SUITE_TESTS)
    return root


def pytest_cmd(*extra: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_suite.py", *extra]


@contextmanager
def tc_containers() -> Iterator[dict[str, str]]:
    """Kafka (Tansu), PostgreSQL and Redis through testcontainers-python, on 127.0.0.1."""
    import warnings

    from confluent_kafka.admin import AdminClient
    from testcontainers.core.container import DockerContainer

    warnings.simplefilter("ignore", DeprecationWarning)  # testcontainers' module moves
    from testcontainers.postgres import PostgresContainer
    from testcontainers.redis import RedisContainer

    from envctl.retry import poll_until

    kafka_port = _free_port()
    kafka = (
        DockerContainer(TEST_IMAGES["ENVCTL_IMAGE_KAFKA"])
        .with_env("LISTENER_URL", "tcp://0.0.0.0:9092")
        .with_env("ADVERTISED_LISTENER_URL", f"tcp://127.0.0.1:{kafka_port}")
    )
    postgres = PostgresContainer(
        TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"], username="postgres", password="pw", driver=None
    )
    redis = RedisContainer(TEST_IMAGES["ENVCTL_IMAGE_REDIS"])
    # testcontainers publishes on every interface by default; this machine allows 127.0.0.1
    # only. Its port map goes to the docker SDK as it is, which takes (address, port).
    kafka.ports = {"9092/tcp": ("127.0.0.1", kafka_port)}
    postgres.ports = {"5432/tcp": ("127.0.0.1", None)}
    redis.ports = {"6379/tcp": ("127.0.0.1", None)}
    started: list[Any] = []
    try:
        for container in (kafka, postgres, redis):
            container.start()
            started.append(container)
        servers = f"127.0.0.1:{kafka_port}"
        poll_until(
            lambda: bool(
                AdminClient({"bootstrap.servers": servers}).list_topics(timeout=1).brokers
            ),
            timeout=60,
            max_interval=0.025,
        )
        yield {
            "kafka": servers,
            "postgres": postgres.get_connection_url(),
            "redis": f"redis://127.0.0.1:{redis.get_exposed_port(6379)}/0",
        }
    finally:
        for container in started:
            container.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tc_test(urls: dict[str, str], n: int) -> None:
    """One test of the suite against testcontainers' services, with hand-written cleanup."""
    import psycopg
    import redis
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"events-{n}-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": urls["kafka"]})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(10)
    producer = Producer({"bootstrap.servers": urls["kafka"], "acks": "all"})
    producer.produce(topic, json.dumps({"n": n}).encode(), key=str(n).encode())
    producer.flush(10)
    consumer = Consumer({"bootstrap.servers": urls["kafka"], "group.id": f"g{n}"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = consumer.consume(1, timeout=10)
    assert got and json.loads(got[0].value()) == {"n": n}
    consumer.close()
    with psycopg.connect(urls["postgres"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS items (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO items VALUES (%s, 'x')", (n,))
        assert conn.execute("SELECT count(*) FROM items").fetchone() == (1,)
        conn.execute("TRUNCATE items")  # cleanup
    cache = redis.Redis.from_url(urls["redis"])
    cache.set("k", n)
    assert cache.get("k") == str(n).encode()
    cache.flushdb()  # cleanup
    for future in admin.delete_topics([topic]).values():  # cleanup
        future.result(10)


def measure_suite(work: Path, env: dict[str, str], skip_tc: bool) -> dict[str, float]:
    root = suite_project(work / "suite")
    real_env = {**env, "ENVCTL_REUSE": "1"}
    figures: dict[str, float] = {}
    timed(pytest_cmd(), real_env, root)  # warm-up: starts the warm instance, builds the pool
    figures["envctl_real"], _ = timed(pytest_cmd(), real_env, root)
    figures["envctl_mock"], _ = timed(pytest_cmd("--force-dependency-mode", "mock"), env, root)
    if skip_tc:
        return figures
    os.environ["TESTCONTAINERS_RYUK_DISABLED"] = "true"
    # its host guess here is the Docker gateway; only 127.0.0.1 may be used on this machine
    os.environ["TESTCONTAINERS_HOST_OVERRIDE"] = "127.0.0.1"
    os.environ["TESTCONTAINERS_CONNECTION_MODE"] = "docker_host"
    t0 = time.perf_counter()
    with tc_containers() as urls:
        for n in range(30):
            tc_test(urls, n)
    figures["tc_session"] = time.perf_counter() - t0
    fresh_tests = 3
    t0 = time.perf_counter()
    for n in range(fresh_tests):
        with tc_containers() as urls:
            tc_test(urls, n)
    figures["tc_fresh_per_test"] = (time.perf_counter() - t0) / fresh_tests
    figures["tc_fresh_30"] = figures["tc_fresh_per_test"] * 30
    return figures


# -- 2. orders_flow_real warm / cold / mock ---------------------------------------------------


def bare_boot() -> float:
    """docker run of the three images in parallel, each polled tightly over its protocol."""
    from concurrent.futures import ThreadPoolExecutor

    import docker
    import psycopg
    import redis
    from confluent_kafka.admin import AdminClient

    from envctl.retry import poll_until

    client = docker.from_env()
    names = [f"bench-bare-{TAG}-{kind}" for kind in ("kafka", "postgres", "redis")]
    ports = {kind: _free_port() for kind in ("kafka", "postgres", "redis")}

    def kafka() -> None:
        client.containers.run(
            TEST_IMAGES["ENVCTL_IMAGE_KAFKA"],
            name=names[0],
            detach=True,
            labels={"bench": TAG},
            environment={
                "LISTENER_URL": "tcp://0.0.0.0:9092",
                "ADVERTISED_LISTENER_URL": f"tcp://127.0.0.1:{ports['kafka']}",
            },
            ports={"9092/tcp": ("127.0.0.1", ports["kafka"])},
        )
        servers = f"127.0.0.1:{ports['kafka']}"
        poll_until(
            lambda: bool(
                AdminClient({"bootstrap.servers": servers}).list_topics(timeout=1).brokers
            ),
            60,
            0.01,
        )

    def postgres() -> None:
        client.containers.run(
            TEST_IMAGES["ENVCTL_IMAGE_POSTGRES"],
            name=names[1],
            detach=True,
            labels={"bench": TAG},
            environment={"POSTGRES_PASSWORD": "pw"},
            ports={"5432/tcp": ("127.0.0.1", ports["postgres"])},
        )
        dsn = f"postgresql://postgres:pw@127.0.0.1:{ports['postgres']}/postgres"
        poll_until(lambda: psycopg.connect(dsn, connect_timeout=1).close() is None, 60, 0.01)

    def cache() -> None:
        client.containers.run(
            TEST_IMAGES["ENVCTL_IMAGE_REDIS"],
            name=names[2],
            detach=True,
            labels={"bench": TAG},
            ports={"6379/tcp": ("127.0.0.1", ports["redis"])},
        )
        url = f"redis://127.0.0.1:{ports['redis']}/0"
        poll_until(lambda: bool(redis.Redis.from_url(url, socket_timeout=1).ping()), 60, 0.01)

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(3) as pool:
            for future in [pool.submit(f) for f in (kafka, postgres, cache)]:
                future.result()
        return time.perf_counter() - t0
    finally:
        for name in names:
            with suppress(docker.errors.NotFound):
                client.containers.get(name).remove(force=True, v=True)  # anonymous volumes too


def measure_orders(env: dict[str, str], rounds: int) -> dict[str, float]:
    run = envctl("run", "--scenario", "orders_flow_real")
    warm_env = {**env, "ENVCTL_REUSE": "1"}
    timed(run, warm_env, REPO)  # the first warm run starts the instance
    warm, mock, cold, bare = [], [], [], []
    for _ in range(rounds):  # interleaved
        warm.append(timed(run, warm_env, REPO)[0])
        mock.append(timed([*run, "--force-dependency-mode", "mock"], env, REPO)[0])
        cold.append(timed(run, env, REPO)[0])
        bare.append(bare_boot())
    return {
        "warm": statistics.median(warm),
        "mock": statistics.median(mock),
        "cold": statistics.median(cold),
        "bare_boot": statistics.median(bare),
    }


# -- 3. hand-out latency ----------------------------------------------------------------------


def measure_handout(work: Path, env: dict[str, str], count: int) -> dict[str, float]:
    from envctl.runner import Runner
    from envctl.settings import Settings

    root = work / "suite"
    settings = Settings.load(environ={**env, "ENVCTL_REUSE": "1"}, cwd=root)
    scenario = settings.load_scenario(root / "scenarios" / "scenario_suite.yaml")
    runner = Runner(settings, share=True)
    took: list[float] = []
    try:
        with runner.open_environment(scenario):
            pass  # warm: the instance and the template exist
        for _ in range(count):
            t0 = time.perf_counter()
            with runner.open_environment(scenario) as live:
                took.append(time.perf_counter() - t0)
                handle = live.environment.services["db"].handle if live.environment else None
            pools = [
                c
                for c in (handle.clients.values() if handle else [])
                if hasattr(c, "wait_refilled")
            ]
            for pool in pools:
                pool.wait_refilled(30)  # one test at a time, as a suite runs
    finally:
        runner.close()
    took.sort()
    return {
        "p50": took[len(took) // 2] * 1000,
        "p95": took[max(0, int(len(took) * 0.95) - 1)] * 1000,
        "count": float(len(took)),
    }


# -- 4. run-all --------------------------------------------------------------------------------


def measure_run_all(work: Path, env: dict[str, str]) -> dict[str, float]:
    figures: dict[str, float] = {}
    figures["shipped_run_all"], _ = timed(envctl("run-all"), env, REPO)
    singles = []
    for path in sorted((REPO / "scenarios").glob("*/scenario_*.yaml")):
        singles.append(timed(envctl("run", "--scenario", str(path)), env, REPO)[0])
    figures["shipped_slowest_single"] = max(singles)
    tree = work / "kafka20" / "scenarios" / "integration"
    tree.mkdir(parents=True)
    for index in range(20):
        (tree / f"scenario_bench_{index:02d}.yaml").write_text(KAFKA_SCENARIO.format(index=index))
    scenarios_dir = str(work / "kafka20" / "scenarios")
    figures["kafka20_run_all"], _ = timed(
        envctl("--scenarios-dir", scenarios_dir, "run-all"), env, REPO
    )
    figures["kafka20_single"], _ = timed(
        envctl("--scenarios-dir", scenarios_dir, "run", "--scenario", "bench_00"), env, REPO
    )
    return figures


# -- 5. leaks ----------------------------------------------------------------------------------

HOLDER = """
import sys
from pathlib import Path
from envctl.runner import Runner
from envctl.settings import Settings
root = Path(sys.argv[1])
settings = Settings.load(cwd=root)
scenario = settings.load_scenario(root / "scenarios" / "scenario_suite.yaml")
with Runner(settings, reuse=True).open_environment(scenario):
    print("held", flush=True)
    sys.stdin.readline()
"""


def leftovers() -> list[str]:
    import docker

    client = docker.from_env()
    labels = [f"bench={TAG}"]
    found = [c.name for c in client.containers.list(all=True, filters={"label": labels})]
    found += [n.name for n in client.networks.list(filters={"label": labels})]
    found += [v.name for v in client.volumes.list(filters={"label": labels})]
    return [str(name) for name in found]


def measure_leaks(work: Path, env: dict[str, str]) -> dict[str, Any]:
    root = work / "suite"
    (root / "holder.py").write_text(HOLDER)
    holder = subprocess.Popen(
        [sys.executable, str(root / "holder.py"), str(root)],
        env={**env, "ENVCTL_REUSE_TTL": "1"},
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    held = holder.stdout.readline().strip() == "held"
    warm_dir = Path(env["ENVCTL_WARM_DIR"])
    past = time.time() - 3600

    def age_all() -> None:
        for stamp in warm_dir.glob("*/last-used"):
            os.utime(stamp, (past, past))

    age_all()
    subprocess.run(envctl("gc"), env=env, cwd=REPO, capture_output=True, check=False)
    subprocess.run(envctl("down", "--warm"), env=env, cwd=REPO, capture_output=True, check=False)
    survived = bool(leftovers())
    holder.send_signal(signal.SIGKILL)
    holder.wait(30)
    age_all()  # the TTL "has passed"
    subprocess.run(envctl("gc"), env=env, cwd=REPO, capture_output=True, check=False)
    return {"held_survived": held and survived, "left_after_ttl": leftovers()}


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--handouts", type=int, default=40)
    parser.add_argument("--skip-testcontainers", action="store_true")
    parser.add_argument("--only", default="1,2,3,4,5")
    args = parser.parse_args()
    only = set(args.only.split(","))
    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory(prefix="envctl-bench-speed-") as folder:
        work = Path(folder)
        env = base_env(work / "warm", work / "state")
        print(f"bench_speed: label {LABEL}, images envctl-test/*, {os.cpu_count()} CPUs")
        try:
            if "1" in only or "3" in only or "5" in only:
                suite = measure_suite(work, env, args.skip_testcontainers or "1" not in only)
            if "1" in only:
                real, mock = suite["envctl_real"], suite["envctl_mock"]
                print("1. 30-test suite (clean topic + table + key per test)")
                print(f"   envctl real, per-test isolation, warm: {real:6.2f}s")
                print(f"   envctl mock mode:                      {mock:6.2f}s")
                ratio = real / mock
                print(f"   real / mock = {ratio:.2f}x (target <= 2x: {verdict(ratio, 2.0)})")
                if "tc_session" in suite:
                    print(
                        f"   testcontainers session + manual cleanup: {suite['tc_session']:6.2f}s"
                    )
                    print(
                        f"   testcontainers fresh containers per test: "
                        f"{suite['tc_fresh_per_test']:.2f}s/test -> {suite['tc_fresh_30']:.1f}s "
                        "for 30 (3 measured, extrapolated)"
                    )
                    speedup = suite["tc_fresh_30"] / real
                    print(
                        f"   fresh-per-test / envctl real = {speedup:.1f}x "
                        f"(target >= 10x: {verdict(speedup, 10.0, 'higher')})"
                    )
            if "2" in only:
                orders = measure_orders(env, args.rounds)
                ratio = orders["warm"] / orders["mock"]
                limit = orders["bare_boot"] + 0.3
                print(f"2. envctl run orders_flow_real (median of {args.rounds}, interleaved)")
                print(
                    f"   warm {orders['warm']:.2f}s / mock {orders['mock']:.2f}s = {ratio:.2f}x "
                    f"(target <= 1.5x: {verdict(ratio, 1.5)})"
                )
                print(
                    f"   cold {orders['cold']:.2f}s vs bare docker run + tight poll "
                    f"{orders['bare_boot']:.2f}s + 0.3s = {limit:.2f}s "
                    f"(over by {orders['cold'] - limit:+.2f}s: {verdict(orders['cold'], limit)})"
                )
            if "3" in only:
                handout = measure_handout(work, env, args.handouts)
                print(
                    f"3. namespace hand-out on a warm environment (kafka topic + postgres "
                    f"database + redis prefix, {handout['count']:.0f} times): "
                    f"p50 {handout['p50']:.1f} ms, p95 {handout['p95']:.1f} ms "
                    f"(target p95 <= 25 ms: {verdict(handout['p95'], 25.0)})"
                )
            if "4" in only:
                runs = measure_run_all(work, env)
                shipped = runs["shipped_run_all"] / runs["shipped_slowest_single"]
                kafka20 = runs["kafka20_run_all"] / runs["kafka20_single"]
                print("4. run-all, default settings")
                print(
                    f"   shipped scenarios: {runs['shipped_run_all']:.2f}s vs slowest single "
                    f"{runs['shipped_slowest_single']:.2f}s = {shipped:.2f}x "
                    f"(target <= 2x: {verdict(shipped, 2.0)})"
                )
                print(
                    f"   20 Kafka scenarios: {runs['kafka20_run_all']:.2f}s vs one "
                    f"{runs['kafka20_single']:.2f}s = {kafka20:.2f}x "
                    f"(target <= 2x: {verdict(kafka20, 2.0)})"
                )
            if "5" in only:
                leaks = measure_leaks(work, env)
                print("5. leaks")
                print(
                    "   a held warm instance survives gc and down --warm: "
                    f"{'yes' if leaks['held_survived'] else 'NO'}"
                )
        finally:
            subprocess.run(envctl("down", "--warm"), env=env, cwd=REPO, capture_output=True)
            left = leftovers()
            if "5" in only:
                print(
                    "   after SIGKILL of the holder and its TTL, then gc: "
                    f"{len(leaks['left_after_ttl']) if 'leaks' in locals() else '?'} left; "
                    f"after the benchmark: {len(left)} left"
                    + (f" ({', '.join(left)})" if left else "")
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
