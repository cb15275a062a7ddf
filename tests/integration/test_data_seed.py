"""Seeding Kafka, PostgreSQL and Redis for real, checked with clients envctl does not use for
it (a consumer by assign, psql, redis-cli); bad seed files and escaping paths."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from data_support import (
    consume_all,
    envctl_in,
    partitions,
    psql,
    redis_cli,
    unique,
    up,
    with_database,
    write_tree,
)
from support import managed_resources


@pytest.fixture(params=["docker", "native"])
def test_env(test_env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """Each test of this module runs under both runtimes (ENVCTL_RUNTIME)."""
    return {**test_env, "ENVCTL_RUNTIME": request.param}


pytestmark = pytest.mark.docker

SEEDED = """
name: {name}
dependency_mode: real
external_services:
  kafka:
    type: kafka
    topics:
      - {{name: orders, partitions: 3}}
      - audit
    seed:
      - {{topic: orders, from: data/orders.jsonl}}
      - {{topic: orders, from: data/more-orders.json}}
      - {{topic: audit, from: data/audit.yaml}}
  db:
    type: postgres
    databases: [reports]
    schemas: [app]
    seed:
      - {{from: data/schema.sql}}
      - {{from: data/customers.csv, table: app.customers}}
      - {{from: data/reports.sql, database: reports}}
  cache:
    type: redis
    seed:
      - {{from: data/keys.yaml}}
      - {{from: data/more-keys.json}}
"""

DATA = {
    "data/orders.jsonl": """
        {"key": "1", "value": {"id": 1, "total": 10.5}, "headers": {"src": "seed"}, "partition": 0}
        {"key": "2", "value": {"id": 2, "total": 20}, "partition": 1}

        {"key": "3", "value": "plain text, not JSON", "partition": 2, "timestamp": 1700000000000}
        """,
    "data/more-orders.json": """
        [
          {"key": {"composite": true}, "value": [1, 2],
           "headers": [["h", "1"], ["h", "2"]], "partition": 2},
          {"key": "4", "value": null, "partition": 0}
        ]
        """,
    "data/audit.yaml": """
        - value: {event: created}
        - {key: a, value: plain}
        """,
    "data/schema.sql": """
        CREATE TABLE app.customers (id int PRIMARY KEY, name text NOT NULL, tier text);
        CREATE TABLE public.orders (id serial PRIMARY KEY, customer int, total numeric);
        INSERT INTO public.orders (customer, total) VALUES (1, 10.5), (2, 20);
        """,
    "data/customers.csv": """
        name,id,tier
        alice,1,gold
        bob,2,
        """,
    "data/reports.sql": """
        CREATE TABLE daily (day date PRIMARY KEY, orders int);
        INSERT INTO daily VALUES ('2024-01-01', 2);
        """,
    "data/keys.yaml": """
        - {key: "user:1", value: alice}
        - {key: "user:1:profile", value: {name: alice, tier: gold}}
        - {key: queue, value: [a, b, c]}
        - {key: tags, type: set, value: [x, y]}
        - {key: board, type: zset, value: {alice: 3, bob: 1.5}}
        - {key: session, value: token, ttl: 600}
        """,
    "data/more-keys.json": """
        {"user:2": "bob", "count": 7}
        """,
}


def test_seeding_all_three_types_is_visible_to_real_clients(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    name = unique("seeded")
    scenarios = write_tree(
        tmp_path / "scenarios", {f"scenario_{name}.yaml": SEEDED.format(name=name), **DATA}
    )
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    data = up(scenarios, name, env)
    run_id = data["run_id"]
    try:
        kafka, db, cache = (data["services"][s] for s in ("kafka", "db", "cache"))
        # seeding is a phase of its own, after setup
        for service in (kafka, db, cache):
            assert list(service["timings"])[-2:] == ["setup", "seed"]

        # Kafka: physical names, records as written, in their partitions
        assert kafka["topics"] == {
            "orders": f"envctl.{run_id}.orders",
            "audit": f"envctl.{run_id}.audit",
        }
        servers = kafka["bootstrap_servers"]
        assert partitions(servers, kafka["topics"]["orders"]) == 3
        orders = consume_all(servers, kafka["topics"]["orders"])
        seen = [(m.partition(), m.key(), m.value(), m.headers()) for m in orders]
        assert seen == [
            (0, b"1", b'{"id":1,"total":10.5}', [("src", b"seed")]),
            (0, b"4", None, None),
            (1, b"2", b'{"id":2,"total":20}', None),
            (2, b"3", b"plain text, not JSON", None),
            (2, b'{"composite":true}', b"[1,2]", [("h", b"1"), ("h", b"2")]),
        ]
        assert orders[2 + 1].timestamp()[1] == 1700000000000
        audit = consume_all(servers, kafka["topics"]["audit"])
        assert [(m.key(), m.value()) for m in audit] == [
            (None, b'{"event":"created"}'),
            (b"a", b"plain"),
        ]

        # PostgreSQL: the run's databases, schema, SQL and CSV seeds (psql, a client of its own)
        main, reports = db["databases"]["envctl"], db["databases"]["reports"]
        assert (main, reports) == (f"envctl_{run_id}_envctl", f"envctl_{run_id}_reports")
        assert db["database"] == main and db["dsn"].endswith(f"/{main}")
        rows = psql(
            db["dsn"], "SELECT id, name, coalesce(tier, '-') FROM app.customers ORDER BY id"
        )
        assert rows.splitlines() == ["1|alice|gold", "2|bob|-"]
        assert psql(db["dsn"], "SELECT sum(total) FROM public.orders") == "30.5"
        assert psql(with_database(db["dsn"], reports), "SELECT orders FROM daily") == "2"

        # Redis: every key under the run's prefix, with types and TTL (redis-cli)
        prefix = cache["key_prefix"]
        assert prefix == f"envctl:{run_id}:"
        url = cache["url"]
        assert redis_cli(url, "GET", f"{prefix}user:1") == "alice"
        assert redis_cli(url, "HGET", f"{prefix}user:1:profile", "tier") == "gold"
        assert redis_cli(url, "LRANGE", f"{prefix}queue", "0", "-1").splitlines() == ["a", "b", "c"]
        assert sorted(redis_cli(url, "SMEMBERS", f"{prefix}tags").splitlines()) == ["x", "y"]
        assert redis_cli(url, "ZSCORE", f"{prefix}board", "bob") == "1.5"
        # seeded with ttl 600; the checks above take seconds on a loaded machine
        assert 0 < int(redis_cli(url, "TTL", f"{prefix}session")) <= 600
        assert redis_cli(url, "GET", f"{prefix}count") == "7"
        assert redis_cli(url, "TYPE", "user:1") == "none"  # nothing outside the prefix

        # envctl topics: counts and the newest messages, decoded
        listing = envctl_in(scenarios, "topics", "--run-id", run_id, "--json", env=env)
        assert listing.returncode == 0, listing.stderr
        described = {
            t["topic"]: t for t in json.loads(listing.stdout)["services"]["kafka"]["topics"]
        }
        assert described["orders"]["messages"] == 5
        assert described["orders"]["physical"] == kafka["topics"]["orders"]
        assert {p: v["messages"] for p, v in described["orders"]["partitions"].items()} == {
            "0": 2,
            "1": 1,
            "2": 2,
        }
        assert described["audit"]["last"][-1]["value"] == "plain"
        text = envctl_in(scenarios, "topics", "--run-id", run_id, "-n", "1", env=env).stdout
        assert f"orders -> envctl.{run_id}.orders: 3 partitions, 5 messages" in text
    finally:
        down = envctl_in(scenarios, "down", "--run-id", run_id, env=env)
        assert down.returncode == 0, down.stderr
    assert managed_resources(docker_client, run_id) == []
    assert not (tmp_path / "state" / "runs" / run_id / "environment.json").exists()


BAD_SEEDS = {
    "kafka record": (
        "kafka: {type: kafka, topics: [orders], seed: [{topic: orders, from: data/bad.jsonl}]}",
        {"data/bad.jsonl": '{"value": 1}\n{"value": 2}\n{"key": "3", "vaule": 3}\n'},
        "data/bad.jsonl:3: unknown field 'vaule' — did you mean 'value'?",
    ),
    "kafka partition": (
        "kafka: {type: kafka, topics: [orders], seed: [{topic: orders, from: data/bad.yaml}]}",
        {"data/bad.yaml": "- {value: 1}\n- {value: 2, partition: 4}\n"},
        "data/bad.yaml:2: partition 4 does not exist: topic 'orders' has 1 partition (0-0)",
    ),
    "redis key": (
        "cache: {type: redis, seed: [{from: data/k.yaml}]}",
        {"data/k.yaml": "- {key: a, value: 1}\n- {key: b, value: 2, ttl: -5}\n"},
        "data/k.yaml:2: key 'b': ttl must be a positive number of seconds, not -5",
    ),
}


@pytest.mark.parametrize("case", list(BAD_SEEDS))
def test_a_bad_seed_file_fails_up_with_file_line_and_why(
    case: str, tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    service, files, expected = BAD_SEEDS[case]
    name = unique("badseed")
    scenario = f"name: {name}\ndependency_mode: real\nexternal_services:\n  {service}\n"
    scenarios = write_tree(tmp_path / "scenarios", {f"scenario_{name}.yaml": scenario, **files})
    result = envctl_in(scenarios, "up", "--scenario", name, env=test_env)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    left = docker_client.containers.list(
        all=True, filters={"label": [f"io.envctl.scenario={name}"]}
    )
    assert left == []


REJECTED_SEEDS = {
    "postgres csv": (
        "db: {type: postgres, seed: [{from: data/t.sql}, {from: data/t.csv, table: t}]}",
        {
            "data/t.sql": "CREATE TABLE t (id int, name text);\n",
            "data/t.csv": "id,name\n1,a\nx,b\n",
        },
        "data/t.csv:3: service 'db' rejected the seed into database 'envctl' (envctl_RUN_envctl): "
        'invalid input syntax for type integer: "x" (column id)',
    ),
    "postgres sql": (
        "db: {type: postgres, seed: [{from: data/t.sql}]}",
        {"data/t.sql": "CREATE TABLE t (id int);\n\nINSERT INTO t VALUES (1, 2);\n"},
        "data/t.sql:3: service 'db' rejected the seed into database 'envctl' (envctl_RUN_envctl): "
        "INSERT has more expressions than target columns",
    ),
    "postgres sqlite migration": (
        "db: {type: postgres, seed: [{from: data/m.sql}]}",
        {
            "data/m.sql": "-- from the app's SQLite schema\nCREATE TABLE t (\n"
            "  id INTEGER PRIMARY KEY AUTOINCREMENT\n);\n"
        },
        "data/m.sql:3: service 'db' rejected the seed into database 'envctl' (envctl_RUN_envctl): "
        'syntax error at or near "AUTOINCREMENT"',
    ),
}


@pytest.mark.parametrize("case", list(REJECTED_SEEDS))
def test_seed_data_the_real_database_rejects_is_a_failed_run(
    case: str, tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    """Issue 10 §4: an integration fault found (exit 1, a normal outcome and --json naming
    file, line and the database's message), not a config error (exit 2)."""
    service, files, expected = REJECTED_SEEDS[case]
    name = unique("rejected")
    scenario = (
        f"name: {name}\ndependency_mode: real\nexternal_services:\n  {service}\n"
        "steps:\n  - sleep: 0\n"
    )
    scenarios = write_tree(tmp_path / "scenarios", {f"scenario_{name}.yaml": scenario, **files})
    up = envctl_in(scenarios, "up", "--scenario", name, env=test_env)
    assert up.returncode == 1, up.stderr
    assert expected in _any_run(up.stderr)  # the logical database, the physical one beside
    assert "Traceback" not in up.stderr
    run = envctl_in(scenarios, "run", "--scenario", name, "--json", env=test_env)
    assert run.returncode == 1, run.stderr
    outcome = json.loads(run.stdout)
    outcome = outcome["scenarios"][0] if "scenarios" in outcome else outcome
    assert outcome["status"] == "failed"
    assert expected in _any_run(outcome["reason"])


def _any_run(text: str) -> str:
    return re.sub(r"envctl_[0-9a-f]{8}_", "envctl_RUN_", text)


def test_a_seed_path_leaving_the_tree_is_refused_before_anything_starts(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    name = unique("escape")
    (tmp_path / "outside.jsonl").write_text('{"value": 1}\n')
    scenarios = write_tree(
        tmp_path / "scenarios",
        {
            f"flows/scenario_{name}.yaml": f"""
                name: {name}
                dependency_mode: real
                external_services:
                  kafka:
                    type: kafka
                    topics: [orders]
                    seed:
                      - {{topic: orders, from: ../../outside.jsonl}}
                """
        },
    )
    for command in (("up", "--scenario", name), ("validate",)):
        result = envctl_in(scenarios, *command, env=test_env)
        assert result.returncode == 2, result.stderr
        assert f"scenario_{name}.yaml:8: external_services.kafka.seed[0].from: " in result.stderr
        assert "seed file '../../outside.jsonl' is outside the scenario tree" in result.stderr
    assert (
        docker_client.containers.list(all=True, filters={"label": [f"io.envctl.scenario={name}"]})
        == []
    )
