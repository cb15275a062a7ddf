"""Warm instances and per-run namespaces with real Docker and real clients: two processes on
one instance see only their own data, a lease outlives nothing (SIGKILL), the Postgres pool
refills, and the pytest plugin gives each test a clean environment under pytest-xdist."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support import REPO, TEST_IMAGES, run_envctl

pytest_plugins = ["pytester"]

TRIO = """
name: trio
dependency_mode: real
external_services:
  kafka: {type: kafka, topics: [{name: orders, partitions: 2}]}
  db:
    type: postgres
    seed: [{from: schema.sql}]
  cache: {type: redis}
"""
SCHEMA = (
    "CREATE TABLE items (id int PRIMARY KEY, who text);\nINSERT INTO items VALUES (0, 'seed');\n"
)

# One user of the warm instance: writes its own message, row and key, waits until the other
# user has written too, then reads everything it can see.
USER = """
import json, sys, time
from pathlib import Path
from envctl.runner import Runner
from envctl.settings import Settings

root, me, other = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
settings = Settings.load(cwd=root)
scenario = settings.load_scenario(root / "scenarios" / "scenario_trio.yaml")
runner = Runner(settings, reuse=True)
with runner.open_environment(scenario) as env:
    bus, db, cache = env.tool("kafka"), env.tool("db"), env.tool("cache")
    bus.publish("orders", {"who": me}, key=me)
    db.execute("INSERT INTO items VALUES (1, %s)", [me])
    cache.set("who", me)
    (root / f"{me}.written").write_text("1")
    deadline = time.monotonic() + 60
    while not (root / f"{other}.written").exists():  # the other user's writes are done
        assert time.monotonic() < deadline, "the other process never wrote"
        time.sleep(0.01)
    seen = {
        "messages": [
            m.value["who"] for m in bus.consume("orders", count=10, timeout=10, to_end=True)
        ],
        "rows": [r["who"] for r in db.query("SELECT who FROM items ORDER BY id")],
        "keys": sorted(cache.keys("*")),
        "value": cache.get("who"),
        "containers": sorted(s.container for s in env.environment.services.values()),
    }
    (root / f"{me}.json").write_text(json.dumps(seen))
print(runner.close())
"""


@pytest.fixture
def project(tmp_path: Path, test_env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "scenario_trio.yaml").write_text(textwrap.dedent(TRIO).lstrip())
    (tmp_path / "scenarios" / "schema.sql").write_text(SCHEMA)
    (tmp_path / "user.py").write_text(USER)
    env = {
        **test_env,
        "ENVCTL_STATE_DIR": str(tmp_path / "state"),
        "ENVCTL_WARM_DIR": str(tmp_path / "warm"),
        "PYTHONPATH": str(REPO),
    }
    return tmp_path, env


def _down_warm(root: Path, env: dict[str, str]) -> None:
    result = run_envctl("down", "--warm", env=env, cwd=root)
    assert result.returncode == 0, result.stderr


def test_two_processes_share_a_warm_instance_without_seeing_each_others_data(
    project: tuple[Path, dict[str, str]], no_leaks: None
) -> None:
    root, env = project
    try:
        users = [
            subprocess.Popen(
                [sys.executable, str(root / "user.py"), str(root), me, other],
                env=env,
                cwd=root,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for me, other in (("a", "b"), ("b", "a"))
        ]
        for user in users:
            _out, err = user.communicate(timeout=300)
            assert user.returncode == 0, err
        a = json.loads((root / "a.json").read_text())
        b = json.loads((root / "b.json").read_text())
        assert a["containers"] == b["containers"]  # one instance, shared
        for me, seen in (("a", a), ("b", b)):
            assert seen["messages"] == [me]
            assert seen["rows"] == ["seed", me]  # the seed, then only its own row
            assert seen["keys"] == ["who"] and seen["value"] == me
        status = run_envctl("status", "--json", env=env, cwd=root)
        (warm,) = json.loads(status.stdout)["warm"]
        assert warm["users"] == [] and sorted(warm["services"]) == ["cache", "db", "kafka"]
        # a second run takes the instance as it is: no container is started
        again = run_envctl("run", "-s", "trio", "--reuse", "--json", env=env, cwd=root)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["shared_instance"] == warm["key"]
    finally:
        _down_warm(root, env)


HOLDER = """
import sys
from pathlib import Path
from envctl.runner import Runner
from envctl.settings import Settings

root = Path(sys.argv[1])
settings = Settings.load(cwd=root)
scenario = settings.load_scenario(root / "scenarios" / "scenario_trio.yaml")
with Runner(settings, reuse=True).open_environment(scenario) as env:
    print(env.environment.services["kafka"].container, flush=True)
    sys.stdin.readline()  # held until killed
"""


def test_a_killed_holder_keeps_the_instance_until_its_ttl_then_gc_removes_it(
    project: tuple[Path, dict[str, str]], docker_client: Any, no_leaks: None
) -> None:
    root, env = project
    (root / "holder.py").write_text(HOLDER)
    holder = subprocess.Popen(
        [sys.executable, str(root / "holder.py"), str(root)],
        env={**env, "ENVCTL_REUSE_TTL": "1"},
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        container = holder.stdout.readline().strip()
        assert container, "the holder did not get an environment"
        key_dir = next(p for p in (root / "warm").iterdir() if p.is_dir())
        past = time.time() - 3600
        os.utime(key_dir / "last-used", (past, past))  # idle "for an hour", but held
        kept = run_envctl("gc", env=env, cwd=root)
        assert kept.returncode == 0 and "warm instance" not in kept.stdout
        assert docker_client.containers.get(container).status == "running"
        down = run_envctl("down", "--warm", env=env, cwd=root)
        assert "kept warm instance" in down.stdout  # held: never removed
        holder.send_signal(signal.SIGKILL)
        holder.wait(30)
        os.utime(key_dir / "last-used", (past, past))
        reaped = run_envctl("gc", env=env, cwd=root)
        assert reaped.returncode == 0, reaped.stderr
        assert "removed warm instance" in reaped.stdout
        assert "idle longer than its TTL (1s)" in reaped.stdout
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        _down_warm(root, env)


def test_the_postgres_pool_hands_out_seeded_databases_and_refills(
    project: tuple[Path, dict[str, str]], no_leaks: None
) -> None:
    from envctl.runner import Runner
    from envctl.services.postgres.pool import POOL_SIZE, DatabasePool
    from envctl.settings import Settings

    root, env = project
    settings = Settings.load(environ=env, cwd=root)
    scenario = settings.load_scenario(root / "scenarios" / "scenario_trio.yaml")
    runner = Runner(settings, share=True)
    try:
        names = []
        for _ in range(3):
            with runner.open_environment(scenario) as live:
                db = live.tool("db")
                assert [r["who"] for r in db.query("SELECT who FROM items")] == ["seed"]
                db.execute("INSERT INTO items VALUES (1, 'mine')")
                names.append(live.endpoints("db")["database"])
                handle = live.environment.services["db"].handle
                (pool,) = [c for c in handle.clients.values() if isinstance(c, DatabasePool)]
                assert pool.wait_refilled(60)
                assert pool.ready_count() == POOL_SIZE  # refilled after each hand-out
        assert len(set(names)) == 3  # a fresh database each time
    finally:
        assert runner.close() == []


XDIST_TESTS = """
import pytest

@pytest.mark.parametrize("n", range(6))
def test_clean_isolated_environment(envctl_environment, n, worker_id):
    env = envctl_environment("trio")
    bus, db, cache = env.tool("kafka"), env.tool("db"), env.tool("cache")
    # clean: only the seed is there
    assert bus.consume("orders", count=10, timeout=5, to_end=True) == []
    assert [r["who"] for r in db.query("SELECT who FROM items")] == ["seed"]
    assert cache.keys("*") == []
    bus.publish("orders", {"n": n}, key=str(n))
    db.execute("INSERT INTO items VALUES (%s, %s)", [n + 1, worker_id])
    cache.set("n", n)
    # isolated: only its own data, whatever ran before or runs at the same time
    assert [m.value for m in bus.consume("orders", count=10, timeout=5, to_end=True)] == [{"n": n}]
    assert db.query("SELECT count(*) AS c FROM items")[0]["c"] == 2
    assert cache.keys("*") == ["n"]
"""


@pytest.mark.parametrize("reuse", [False, True], ids=["in-session", "warm"])
def test_per_test_isolation_under_xdist(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    test_env: dict[str, str],
    reuse: bool,
    no_leaks: None,
) -> None:
    pytest.importorskip("xdist")
    for key, value in {**TEST_IMAGES, "ENVCTL_LABELS": test_env["ENVCTL_LABELS"]}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(pytester.path / ".state"))
    monkeypatch.setenv("ENVCTL_WARM_DIR", str(tmp_path / "warm"))
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "scenario_trio.yaml").write_text(textwrap.dedent(TRIO))
    (pytester.path / "scenarios" / "schema.sql").write_text(SCHEMA)
    pytester.makepyfile(test_isolation=XDIST_TESTS)
    args = ["-n", "2", "test_isolation.py", *(["--envctl-reuse"] if reuse else [])]
    try:
        result = pytester.runpytest_subprocess(*args)
        result.assert_outcomes(passed=6)
    finally:
        env = {**test_env, "ENVCTL_WARM_DIR": str(tmp_path / "warm"), "PYTHONPATH": str(REPO)}
        _down_warm(pytester.path, env)
