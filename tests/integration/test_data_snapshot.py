"""Snapshots for real: save -> change data -> restore -> diff is empty, for Kafka, PostgreSQL
and Redis; diff output for a known change; and the errors a user can run into."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_support import (
    commit,
    consume_all,
    envctl_in,
    groups,
    produce,
    psql,
    redis_cli,
    topics,
    unique,
    up,
    write_tree,
)
from support import BASE_IMAGE


@pytest.fixture(params=["docker", "native"])
def test_env(test_env: dict[str, str], request: pytest.FixtureRequest) -> dict[str, str]:
    """Each test of this module runs under both runtimes (ENVCTL_RUNTIME)."""
    return {**test_env, "ENVCTL_RUNTIME": request.param}


pytestmark = pytest.mark.docker

THREE = """
name: {name}
dependency_mode: real
{naming}
external_services:
  kafka:
    type: kafka
    topics: [{{name: orders, partitions: 2}}]
    seed: [{{topic: orders, from: data/orders.jsonl}}]
  db:
    type: postgres
    seed: [{{from: data/schema.sql}}]
  cache:
    type: redis
    seed: [{{from: data/keys.yaml}}]
"""

DATA = {
    "data/orders.jsonl": (
        '{"key": "1", "value": {"id": 1}, "partition": 0, "headers": {"h": "1"}}\n'
        '{"key": "2", "value": {"id": 2}, "partition": 1}\n'
        '{"key": "3", "value": "three", "partition": 0}\n'
    ),
    "data/schema.sql": (
        "CREATE TABLE customers (id int PRIMARY KEY, name text, tier text);\n"
        "INSERT INTO customers VALUES (1, 'alice', 'gold'), (2, 'bob', NULL);\n"
        "CREATE TABLE events (line text);\nINSERT INTO events VALUES ('a'), ('a');\n"
    ),
    "data/keys.yaml": (
        "- {key: 'user:1', value: alice}\n"
        "- {key: 'user:1:profile', value: {name: alice, tier: gold}}\n"
        "- {key: queue, value: [a, b]}\n"
        "- {key: session, value: token, ttl: 600}\n"
    ),
}


class Run:
    def __init__(self, scenarios: Path, env: dict[str, str], data: dict[str, Any]) -> None:
        self.scenarios, self.env, self.data = scenarios, env, data
        self.run_id: str = data["run_id"]
        self.services: dict[str, Any] = data["services"]

    def envctl(self, *args: str) -> Any:
        return envctl_in(self.scenarios, *args, "--run-id", self.run_id, env=self.env)

    def ok(self, *args: str) -> str:
        result = self.envctl(*args)
        assert result.returncode == 0, result.stderr
        return str(result.stdout)

    def diff(self, *names: str) -> dict[str, Any]:
        return json.loads(self.ok("snapshot", "diff", *names, "--json"))  # type: ignore[no-any-return]

    @property
    def snapshots(self) -> Path:
        return Path(self.env["ENVCTL_STATE_DIR"]) / "runs" / self.run_id / "snapshots"


@pytest.fixture
def start(tmp_path: Path, test_env: dict[str, str], no_leaks: None) -> Iterator[Any]:
    runs: list[Run] = []
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}

    def start_run(text: str, files: dict[str, str] | None = None) -> Run:
        name = unique("snap")
        scenarios = write_tree(
            tmp_path / "scenarios",
            {f"scenario_{name}.yaml": text.format(name=name, naming=""), **(files or DATA)},
        )
        run = Run(scenarios, env, up(scenarios, name, env))
        runs.append(run)
        return run

    yield start_run
    for run in runs:
        run.envctl("down")


def change_everything(run: Run) -> None:
    kafka, db, cache = (run.services[s] for s in ("kafka", "db", "cache"))
    servers, orders = kafka["bootstrap_servers"], kafka["topics"]["orders"]
    produce(servers, orders, b'{"id": 4}', key=b"4", partition=1)
    commit(servers, f"envctl.{run.run_id}.billing", orders, 0, 2)
    produce(servers, f"envctl.{run.run_id}.late", b"made after the snapshot")
    psql(db["dsn"], "UPDATE customers SET tier = 'silver' WHERE id = 2")
    psql(
        db["dsn"],
        "DELETE FROM customers WHERE id = 1; INSERT INTO customers VALUES (3, 'carol', 'x')",
    )
    psql(db["dsn"], "INSERT INTO events VALUES ('b'); CREATE TABLE later (id int)")
    prefix, url = cache["key_prefix"], cache["url"]
    redis_cli(url, "SET", f"{prefix}user:2", "bob")
    redis_cli(url, "DEL", f"{prefix}queue")
    redis_cli(url, "HSET", f"{prefix}user:1:profile", "tier", "platinum")
    redis_cli(url, "EXPIRE", f"{prefix}session", "30")


def test_save_change_restore_then_diff_is_empty_for_all_three(start: Any) -> None:
    run: Run = start(THREE)
    saved = run.ok("snapshot", "save", "before")
    assert f"saved snapshot 'before' of run {run.run_id}" in saved
    manifest = json.loads((run.snapshots / "before" / "manifest.json").read_text())
    assert manifest["complete"] and not manifest["truncated"]
    assert {s: m["type"] for s, m in manifest["services"].items()} == {
        "kafka": "kafka",
        "db": "postgres",
        "cache": "redis",
    }
    assert manifest["services"]["kafka"]["details"]["messages"] == 3
    assert manifest["services"]["db"]["details"] == {
        "databases": 1,
        "tables": 2,
        "rows": 4,
        "fast_restore": True,
    }
    assert set(manifest["services"]["db"]["files"]) == {"envctl.sql", "tables.json"}

    change_everything(run)
    changed = run.diff("before")
    assert changed["changed"] is True
    assert all(changed["services"][s]["changed"] for s in ("kafka", "db", "cache"))

    restored = run.ok("snapshot", "restore", "before")
    assert f"restored run {run.run_id} to snapshot 'before'" in restored
    after = run.diff("before")
    assert after["changed"] is False, json.dumps(after, indent=1)

    # and the services say so themselves
    kafka, db, cache = (run.services[s] for s in ("kafka", "db", "cache"))
    servers = kafka["bootstrap_servers"]
    messages = consume_all(servers, kafka["topics"]["orders"])
    assert [(m.partition(), m.offset(), m.key(), m.value()) for m in messages] == [
        (0, 0, b"1", b'{"id":1}'),
        (0, 1, b"3", b"three"),
        (1, 0, b"2", b'{"id":2}'),
    ]
    assert messages[0].headers() == [("h", b"1")]
    assert f"envctl.{run.run_id}.late" not in topics(servers)
    assert f"envctl.{run.run_id}.billing" not in groups(servers)
    assert psql(db["dsn"], "SELECT id, name, coalesce(tier, '-') FROM customers ORDER BY id") == (
        "1|alice|gold\n2|bob|-"
    )
    assert psql(db["dsn"], "SELECT count(*) FROM pg_tables WHERE tablename = 'later'") == "0"
    prefix, url = cache["key_prefix"], cache["url"]
    assert redis_cli(url, "LRANGE", f"{prefix}queue", "0", "-1").splitlines() == ["a", "b"]
    assert redis_cli(url, "EXISTS", f"{prefix}user:2") == "0"
    assert redis_cli(url, "HGET", f"{prefix}user:1:profile", "tier") == "gold"
    assert int(redis_cli(url, "TTL", f"{prefix}session")) > 500


def test_diff_describes_a_known_change(start: Any) -> None:
    run: Run = start(THREE)
    run.ok("snapshot", "save", "before")
    kafka, db, cache = (run.services[s] for s in ("kafka", "db", "cache"))
    produce(kafka["bootstrap_servers"], kafka["topics"]["orders"], b'{"id": 9}', key=b"9")
    commit(
        kafka["bootstrap_servers"], f"envctl.{run.run_id}.billing", kafka["topics"]["orders"], 0, 3
    )
    psql(
        db["dsn"],
        "UPDATE customers SET tier = 'silver' WHERE id = 2; INSERT INTO events VALUES ('z')",
    )
    redis_cli(cache["url"], "SET", f"{cache['key_prefix']}user:2", "bob")
    run.ok("snapshot", "save", "after")

    text = run.ok("snapshot", "diff", "before", "after")
    assert text.splitlines() == [
        "before -> after",
        "kafka (kafka):",
        "  topic orders: 1 new messages (partition 0: end 2 -> 3)",
        '    + [0]@2 key=9 value={"id": 9}',
        "  group billing: added: orders[0] None -> 3",
        "db (postgres):",
        "  database envctl:",
        "    table public.customers: 2 -> 2 rows: 1 changed",
        "      ~ id=2: tier: None -> silver",
        "    table public.events: 2 -> 3 rows: 1 added",
        '      + {"line": "z"}',
        "cache (redis):",
        "  + user:2 (string) bob",
    ]
    data = run.diff("before", "after")
    assert (data["from"], data["to"], data["changed"]) == ("before", "after", True)
    orders = data["services"]["kafka"]["topics"]["orders"]
    assert orders["partitions"] == {"0": {"start": [0, 0], "end": [2, 3], "new": 1}}
    customers = data["services"]["db"]["databases"]["envctl"]["tables"]["public.customers"]
    assert customers["changed"] == [
        {
            "key": {"id": "2"},
            "changes": {"tier": [None, "silver"]},
            "row": {"id": "2", "name": "bob", "tier": "silver"},
        }
    ]
    assert data["services"]["cache"]["counts"] == {"added": 1, "removed": 0, "changed": 0}
    assert run.ok("snapshot", "diff", "after").splitlines()[-1] == "no differences"
    listing = run.ok("snapshot", "list")
    assert [line.split()[0] for line in listing.splitlines()] == ["before", "after"]


def test_restore_without_a_template_replays_the_dump(start: Any) -> None:
    """Names without {run} are not the run's own: no template copy, the dump is replayed."""
    text = THREE.replace("{naming}", "naming: {{database: '{{name}}_{{scenario}}'}}")
    run: Run = start(text)
    db = run.services["db"]
    run.ok("snapshot", "save", "s", "--service", "db")
    psql(db["dsn"], "DELETE FROM customers; DROP TABLE events")
    restored = run.ok("snapshot", "restore", "s")
    restored_note = f"note: db: database 'envctl' ({db['database']}) restored by replaying"
    assert restored_note in restored
    assert run.diff("s")["changed"] is False
    assert psql(db["dsn"], "SELECT count(*) FROM events") == "2"


def test_a_truncated_kafka_snapshot_says_so_and_cannot_be_restored(start: Any) -> None:
    run: Run = start(THREE)
    saved = run.ok("snapshot", "save", "small", "--service", "kafka", "--max-messages", "1")
    assert "truncated to the newest 1 messages per partition in orders[0]" in saved
    manifest = json.loads((run.snapshots / "small" / "manifest.json").read_text())
    assert manifest["truncated"] is True
    kept = (run.snapshots / "small" / "kafka" / "messages" / "orders.jsonl").read_text()
    assert [json.loads(line)["value"] for line in kept.splitlines()] == ["three", '{"id":2}']
    refused = run.envctl("snapshot", "restore", "small")
    assert refused.returncode == 1
    assert "kept only the newest messages of orders[0]" in refused.stderr


GENERIC = f"""
name: {{name}}
dependency_mode: real
external_services:
  kafka: {{{{type: kafka, topics: [orders]}}}}
  cache: {{{{type: redis}}}}
  app:
    type: generic
    image: {BASE_IMAGE}
    command: [sleep, infinity]
"""


def test_snapshot_errors_are_clear(
    start: Any, docker_client: Any, test_env: dict[str, str]
) -> None:
    if test_env["ENVCTL_RUNTIME"] == "native":
        pytest.skip("needs a generic container, which has no native form")
    run: Run = start(GENERIC, {})
    # a type without snapshot support: skipped in a full snapshot, an error when asked for
    saved = run.ok("snapshot", "save", "all")
    assert "skipped app: type 'generic' has no snapshot support" in saved
    asked = run.envctl("snapshot", "save", "x", "--service", "app")
    assert asked.returncode == 1
    assert "service 'app' is of type 'generic', which has no snapshot support" in asked.stderr

    # a snapshot of some services restores those into the environment it was taken of
    run.ok("snapshot", "save", "kafka-only", "--service", "kafka")
    run.ok("snapshot", "restore", "kafka-only")

    # restore into services that differ from the snapshot's: refused, saying what differs
    def foreign(name: str, change: Any) -> str:
        copy = run.snapshots / name
        shutil.copytree(run.snapshots / "all", copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        change(manifest)
        (copy / "manifest.json").write_text(json.dumps(manifest))
        refused = run.envctl("snapshot", "restore", name)
        assert refused.returncode == 1
        assert "restore refused" in refused.stderr
        return str(refused.stderr)

    def other_type(manifest: dict[str, Any]) -> None:
        manifest["services"]["cache"]["type"] = manifest["environment"]["cache"] = "postgres"

    def without_cache(manifest: dict[str, Any]) -> None:
        del manifest["services"]["cache"], manifest["environment"]["cache"]

    assert "'cache' is postgres in the snapshot but redis here" in foreign("typed", other_type)
    assert "'cache' (redis) is here but not in the snapshot's environment" in foreign(
        "smaller", without_cache
    )

    # a half-written snapshot is never listed: the redis container is stopped mid-way
    docker_client.containers.get(run.services["cache"]["container"]).stop(timeout=1)
    failed = run.envctl("snapshot", "save", "broken")
    assert failed.returncode == 1 and "cache" in failed.stderr
    assert "broken" not in run.ok("snapshot", "list")
    assert not [p for p in run.snapshots.iterdir() if p.name.startswith(".")]

    # a run folder where snapshots cannot be written
    shutil.rmtree(run.snapshots)
    run.snapshots.write_text("in the way")
    unwritable = run.envctl("snapshot", "save", "x", "--service", "kafka")
    assert unwritable.returncode == 1
    assert f"cannot write snapshots under {run.snapshots}" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr
    run.snapshots.unlink()


def test_the_runners_phases_follow_the_snapshot_policy(
    tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    import envctl
    from envctl import snapshot
    from envctl.settings import Settings

    name = unique("phases")
    scenarios = write_tree(
        tmp_path / "scenarios",
        {
            f"scenario_{name}.yaml": f"""
                name: {name}
                dependency_mode: real
                snapshot: {{before: true}}
                external_services:
                  kafka: {{type: kafka, topics: [orders], snapshot: {{after: true}}}}
                  cache: {{type: redis}}
                """
        },
    )
    environ = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    settings = Settings.load(environ=environ, cwd=tmp_path, scenarios_dir=scenarios)
    with envctl.up(name, settings=settings) as env:
        before = snapshot.save_phase(env, "before")
        assert before is not None and list(before["services"]) == ["cache"]
        after = snapshot.save_phase(env, "after")
        assert after is not None and list(after["services"]) == ["kafka"]
        assert [m["name"] for m in snapshot.list_snapshots(env)] == ["before", "after"]
        assert snapshot.diff(env, "before")["changed"] is False
