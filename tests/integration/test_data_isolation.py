"""Two runs of one scenario, at the same time, against one broker, one PostgreSQL and one
Redis started outside envctl: each has its own namespace and never sees the other's data;
``envctl down`` of one removes its topics, databases and keys and nothing of the other's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from data_support import (
    consume_all,
    databases,
    envctl_in,
    keys,
    produce,
    psql,
    topics,
    unique,
    with_database,
    write_tree,
)
from support import REPO

pytestmark = pytest.mark.docker

SCENARIO = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    mode: external
    topics: [{{name: orders, partitions: 2}}]
    seed: [{{topic: orders, from: data/orders.jsonl}}]
  db:
    type: postgres
    mode: external
    seed: [{{from: data/schema.sql}}]
  cache:
    type: redis
    mode: external
    seed: [{{from: data/keys.yaml}}]
"""

DATA = {
    "data/orders.jsonl": '{"key": "1", "value": {"id": 1}}\n{"key": "2", "value": {"id": 2}}\n',
    "data/schema.sql": (
        "CREATE TABLE orders (id int PRIMARY KEY);\nINSERT INTO orders VALUES (1), (2);\n"
    ),
    "data/keys.yaml": "- {key: 'user:1', value: alice}\n- {key: counter, value: 2}\n",
}


def envctl_up_popen(scenarios: Path, name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "envctl",
            "--scenarios-dir",
            str(scenarios),
            "up",
            "-s",
            name,
            "--json",
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_on_shared_servers_never_see_each_others_data(
    tmp_path: Path, test_env: dict[str, str], shared_servers: dict[str, str]
) -> None:
    name = unique("shared")
    scenarios = write_tree(
        tmp_path / "scenarios", {f"scenario_{name}.yaml": SCENARIO.format(name=name), **DATA}
    )
    env = {
        **test_env,
        "ENVCTL_STATE_DIR": str(tmp_path / "state"),
        "ENVCTL_KAFKA_URL": shared_servers["kafka"],
        "ENVCTL_DB_URL": shared_servers["postgres"],
        "ENVCTL_CACHE_URL": shared_servers["redis"],
    }
    servers, admin_dsn, redis_url = (
        shared_servers["kafka"],
        shared_servers["postgres"],
        shared_servers["redis"],
    )
    # both at once, the same scenario
    first, second = envctl_up_popen(scenarios, name, env), envctl_up_popen(scenarios, name, env)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    runs: list[dict[str, Any]] = []
    try:
        for process, (out, err) in zip((first, second), outputs, strict=True):
            assert process.returncode == 0, err
            runs.append(json.loads(out))
        a, b = runs
        assert a["run_id"] != b["run_id"]
        names = {}
        for run in runs:
            services = run["services"]
            names[run["run_id"]] = (
                services["kafka"]["topics"]["orders"],
                services["db"]["database"],
                services["cache"]["key_prefix"],
            )
        (topic_a, db_a, prefix_a), (topic_b, db_b, prefix_b) = (
            names[a["run_id"]],
            names[b["run_id"]],
        )
        assert len({topic_a, topic_b}) == len({db_a, db_b}) == len({prefix_a, prefix_b}) == 2

        # each run was seeded once, into its own namespace
        for topic in (topic_a, topic_b):
            assert sorted(m.key() for m in consume_all(servers, topic)) == [b"1", b"2"]
        for database in (db_a, db_b):
            assert psql(with_database(admin_dsn, database), "SELECT count(*) FROM orders") == "2"
        for prefix in (prefix_a, prefix_b):
            assert keys(redis_url, prefix + "*") == {prefix + "user:1", prefix + "counter"}

        # what run A writes, run B does not see
        produce(servers, topic_a, b"only-a", key=b"a")
        psql(with_database(admin_dsn, db_a), "INSERT INTO orders VALUES (3)")
        import redis

        client = redis.Redis.from_url(redis_url)
        client.set(prefix_a + "user:3", "carol")
        client.close()
        assert b"only-a" not in [m.value() for m in consume_all(servers, topic_b)]
        assert psql(with_database(admin_dsn, db_b), "SELECT count(*) FROM orders") == "2"
        assert keys(redis_url, prefix_b + "*") == {prefix_b + "user:1", prefix_b + "counter"}

        # down A removes A's data on the shared servers, and nothing of B's
        down_a = envctl_in(scenarios, "down", "--run-id", a["run_id"], env=env)
        assert down_a.returncode == 0, down_a.stderr
        assert (
            f"removed topics, consumer_groups of run {a['run_id']} on external service 'kafka'"
            in (down_a.stdout)
        )
        assert topic_a not in topics(servers) and topic_b in topics(servers)
        assert db_a not in databases(admin_dsn) and db_b in databases(admin_dsn)
        assert keys(redis_url, prefix_a + "*") == set()
        assert len(keys(redis_url, prefix_b + "*")) == 2
    finally:
        for run in runs:
            envctl_in(scenarios, "down", "--run-id", run["run_id"], env=env)
    # nothing of either run is left on the shared servers, nor in the state folder
    for run in runs:
        run_id = run["run_id"]
        assert not [t for t in topics(servers) if run_id in t]
        assert not [d for d in databases(admin_dsn) if run_id in d]
        assert keys(redis_url, f"envctl:{run_id}:*") == set()
    assert not list((tmp_path / "state" / "runs").glob("*/environment.json"))


def test_snapshot_restore_of_one_run_leaves_the_other_alone(
    tmp_path: Path, test_env: dict[str, str], shared_servers: dict[str, str]
) -> None:
    """On shared servers restore uses the host's pg_dump and touches only its own run."""
    name = unique("sharedsnap")
    scenarios = write_tree(
        tmp_path / "scenarios", {f"scenario_{name}.yaml": SCENARIO.format(name=name), **DATA}
    )
    env = {
        **test_env,
        "ENVCTL_STATE_DIR": str(tmp_path / "state"),
        "ENVCTL_KAFKA_URL": shared_servers["kafka"],
        "ENVCTL_DB_URL": shared_servers["postgres"],
        "ENVCTL_CACHE_URL": shared_servers["redis"],
    }
    runs = []
    try:
        for _ in range(2):
            result = envctl_in(scenarios, "up", "-s", name, "--json", env=env)
            assert result.returncode == 0, result.stderr
            runs.append(json.loads(result.stdout))
        a, b = runs
        saved = envctl_in(scenarios, "snapshot", "save", "s", "--run-id", a["run_id"], env=env)
        assert saved.returncode == 0, saved.stderr
        for run in runs:  # both change
            produce(shared_servers["kafka"], run["services"]["kafka"]["topics"]["orders"], b"x")
            dsn = with_database(shared_servers["postgres"], run["services"]["db"]["database"])
            psql(dsn, "DELETE FROM orders")
        restored = envctl_in(
            scenarios, "snapshot", "restore", "s", "--run-id", a["run_id"], env=env
        )
        assert restored.returncode == 0, restored.stderr
        diff = envctl_in(
            scenarios, "snapshot", "diff", "s", "--run-id", a["run_id"], "--json", env=env
        )
        assert diff.returncode == 0, diff.stderr
        assert json.loads(diff.stdout)["changed"] is False
        # run B keeps its own changes
        dsn_b = with_database(shared_servers["postgres"], b["services"]["db"]["database"])
        assert psql(dsn_b, "SELECT count(*) FROM orders") == "0"
        assert (
            len(consume_all(shared_servers["kafka"], b["services"]["kafka"]["topics"]["orders"]))
            == 3
        )
    finally:
        for run in runs:
            envctl_in(scenarios, "down", "--run-id", run["run_id"], env=env)
    for run in runs:  # the fast-restore template database went with its run
        assert not [d for d in databases(shared_servers["postgres"]) if run["run_id"] in d]
