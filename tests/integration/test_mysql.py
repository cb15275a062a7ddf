"""``type: mysql`` for real: the local test image (Debian's MariaDB behind the official mysql
image's env contract), checked with clients envctl does not use for it (the ``mysql``
command-line client) as well as PyMySQL; docker, external and cloud modes; snapshots, the
step tool, the export health check, and a login the server refuses failing at once."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from data_support import envctl_in, unique, up, write_tree
from support import TEST_IMAGES, remove_with_volumes, run_envctl

pytestmark = pytest.mark.docker

IMAGE = TEST_IMAGES["ENVCTL_IMAGE_MYSQL"]
ROOT_PASSWORD = "outside-root-pw"

SEEDED = """
name: {name}
dependency_mode: real
external_services:
  db:
    type: mysql
    user: app
    password: "app pw;'1"
    databases: [reports]
    seed:
      - {{from: data/schema.sql}}
      - {{from: data/customers.csv, table: customers}}
      - {{from: data/reports.sql, database: reports}}
"""

DATA = {
    "data/schema.sql": """
        -- customers; and a table without a primary key
        CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, tier TEXT,
                                born DATE, balance DECIMAL(8,2), photo BLOB);
        CREATE TABLE events (line VARCHAR(20));
        INSERT INTO events VALUES ('a;b'), ('it''s');
        CREATE VIEW gold AS SELECT id, name FROM customers WHERE tier = 'gold';
        """,
    "data/customers.csv": """
        name,id,tier,born,balance
        alice,1,gold,1990-02-03,10.50
        bob,2,,,
        """,
    "data/reports.sql": """
        CREATE TABLE daily (day DATE PRIMARY KEY, orders INT);
        INSERT INTO daily VALUES ('2024-01-01', 2);
        """,
}


def mysql_cli(service: dict[str, Any], password: str, sql: str, database: str = "") -> str:
    """Run SQL with the ``mysql`` command-line client; tab-separated rows without a header."""
    program = shutil.which("mysql")
    assert program is not None, "the mysql client is missing: apt-get install mariadb-client"
    done = subprocess.run(
        [
            program,
            "--protocol=tcp",
            f"--host={service['host']}",
            f"--port={service['port']}",
            f"--user={service['user']}",
            f"--password={password}",
            "--batch",
            "--skip-column-names",
            "-e",
            sql,
            database or service["database"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def pymysql_rows(service: dict[str, Any], password: str, sql: str) -> list[tuple[Any, ...]]:
    import pymysql

    with (
        pymysql.connect(
            host=service["host"],
            port=service["port"],
            user=service["user"],
            password=password,
            database=service["database"],
        ) as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_docker_mode_seeds_snapshots_restores_and_leaves_nothing(
    tmp_path: Path, test_env: dict[str, str], docker_client: Any, no_leaks: None
) -> None:
    name = unique("mysql")
    scenarios = write_tree(
        tmp_path / "scenarios", {f"scenario_{name}.yaml": SEEDED.format(name=name), **DATA}
    )
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    data = up(scenarios, name, env)
    run_id = data["run_id"]
    password = "app pw;'1"
    try:
        db = data["services"]["db"]
        assert db["image"] == IMAGE
        assert db["url"].startswith("mysql://app:")
        assert db["databases"] == {
            "envctl": f"envctl_{run_id}_envctl",
            "reports": f"envctl_{run_id}_reports",
        }
        assert list(db["timings"])[-2:] == ["setup", "seed"]

        # seeded data, seen by the mysql CLI (CSV: empty fields are NULL) and by PyMySQL
        assert mysql_cli(db, password, "SELECT id, name, tier, born, balance FROM customers") == (
            "1\talice\tgold\t1990-02-03\t10.50\n2\tbob\tNULL\tNULL\tNULL\n"
        )
        assert pymysql_rows(db, password, "SELECT line FROM events ORDER BY line") == [
            ("a;b",),
            ("it's",),
        ]
        assert mysql_cli(db, password, "SELECT name FROM gold") == "alice\n"
        reports = db["databases"]["reports"]
        assert mysql_cli(db, password, "SELECT orders FROM daily", reports) == "2\n"

        # the compose/GitHub Actions health check works inside the container
        container = docker_client.containers.get(db["container"])
        exported = envctl_in(scenarios, "compose", "export", "-s", name, env=env)
        assert exported.returncode == 0, exported.stderr
        assert "mysqladmin" in exported.stdout and "ping" in exported.stdout
        code, output = container.exec_run(
            ["mysqladmin", "ping", "--host=127.0.0.1", "--user=app", f"--password={password}"]
        )
        assert code == 0, output

        # snapshot, change, diff, restore
        def envctl(*args: str) -> str:
            result = envctl_in(scenarios, *args, "--run-id", run_id, env=env)
            assert result.returncode == 0, result.stderr
            return str(result.stdout)

        envctl("snapshot", "save", "before")
        folder = Path(env["ENVCTL_STATE_DIR"]) / "runs" / run_id / "snapshots" / "before" / "db"
        assert {p.name for p in folder.iterdir()} >= {"envctl.sql", "tables.json"}
        mysql_cli(
            db,
            password,
            "UPDATE customers SET tier = 'silver' WHERE id = 2; DELETE FROM customers WHERE id = 1;"
            " INSERT INTO customers (id, name, photo) VALUES (3, 'carol', x'00ff');"
            " INSERT INTO events VALUES ('late'); CREATE TABLE later (id INT)",
        )
        changed = json.loads(envctl("snapshot", "diff", "before", "--json"))
        tables = changed["services"]["db"]["databases"]["envctl"]["tables"]
        assert tables["customers"]["counts"] == {"added": 1, "removed": 1, "changed": 1}
        assert tables["customers"]["changed"][0]["changes"] == {"tier": [None, "silver"]}
        assert tables["customers"]["added"][0]["photo"] == "0x00ff"
        assert tables["events"]["counts"] == {"added": 1, "removed": 0, "changed": 0}
        assert tables["later"]["status"] == "added"
        text = envctl("snapshot", "diff", "before")
        assert "table customers: 2 -> 2 rows: 1 added, 1 changed, 1 removed" in text

        envctl("snapshot", "restore", "before")
        assert json.loads(envctl("snapshot", "diff", "before", "--json"))["changed"] is False
        assert mysql_cli(db, password, "SELECT id, tier FROM customers") == "1\tgold\n2\tNULL\n"
        assert mysql_cli(db, password, "SHOW TABLES") == "customers\nevents\ngold\n"

        # the dump is plain SQL the mysql client loads as well
        mysql_cli(db, password, "DROP VIEW gold; DROP TABLE customers, events")
        loaded = subprocess.run(
            [
                "mysql",
                "--protocol=tcp",
                f"--host={db['host']}",
                f"--port={db['port']}",
                f"--user={db['user']}",
                f"--password={password}",
                db["database"],
            ],
            stdin=(folder / "envctl.sql").open("rb"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr
        assert mysql_cli(db, password, "SELECT count(*) FROM customers") == "2\n"
    finally:
        down = envctl_in(scenarios, "down", "--run-id", run_id, env=env)
        assert down.returncode == 0, down.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def outside_mysql(docker_client: Any) -> Iterator[dict[str, Any]]:
    """A server started by the test itself, not by envctl (no envctl labels)."""
    from envctl.retry import retry_call

    port = _free_port()
    container = docker_client.containers.run(
        IMAGE,
        detach=True,
        ports={"3306/tcp": ("127.0.0.1", port)},
        environment={"MYSQL_ROOT_PASSWORD": ROOT_PASSWORD, "MYSQL_DATABASE": "shop"},
        labels={"envctl-test.outside": "true"},
    )
    try:
        import pymysql

        def ping() -> None:
            container.reload()
            assert container.status == "running", container.logs()[-2000:]
            pymysql.connect(
                host="127.0.0.1", port=port, user="root", password=ROOT_PASSWORD, database="shop"
            ).close()

        retry_call(ping, 120, (pymysql.err.OperationalError,))
        yield {"host": "127.0.0.1", "port": port, "user": "root", "database": "shop"}
    finally:
        remove_with_volumes(docker_client, container)  # the image declares VOLUME /var/lib/mysql


def _scenario(tmp_path: Path, text: str) -> Path:
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir(exist_ok=True)
    (scenarios / "scenario_outside.yaml").write_text(textwrap.dedent(text))
    return scenarios


def _databases(server: dict[str, Any]) -> set[str]:
    return set(mysql_cli(server, ROOT_PASSWORD, "SHOW DATABASES").split())


@pytest.mark.parametrize("cleanup", [True, False])
def test_external_mode_run_creates_and_drops_only_its_own_databases(
    outside_mysql: dict[str, Any],
    tmp_path: Path,
    test_env: dict[str, str],
    no_leaks: None,
    cleanup: bool,
) -> None:
    port = outside_mysql["port"]
    scenarios = _scenario(
        tmp_path,
        f"""
        name: outside
        dependency_mode: real
        cleanup_after: {str(cleanup).lower()}
        external_services:
          db:
            type: mysql
            mode: external
            url: mysql://root@127.0.0.1:{port}/shop
            databases: [extra]
        steps:
          - sql: {{query: "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"}}
          - sql: {{query: "INSERT INTO t VALUES (%s, %s), (%s, %s)", params: [1, a, 2, '50%']}}
          - sql: {{query: "SELECT v FROM t WHERE id = %s", params: [2], expect: [{{v: '50%'}}]}}
        expected:
          - rows: {{t: 2}}
        """,
    )
    before = _databases(outside_mysql)
    env = {**test_env, "ENVCTL_DB_PASSWORD": ROOT_PASSWORD, "ENVCTL_STATE_DIR": str(tmp_path)}
    result = run_envctl("--scenarios-dir", str(scenarios), "run", "-s", "outside", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ROOT_PASSWORD not in result.stdout + result.stderr
    made = _databases(outside_mysql) - before
    if cleanup:
        assert made == set()
    else:
        assert len(made) == 2 and all(d.startswith("envctl_") for d in made), made
        for database in made:
            mysql_cli(outside_mysql, ROOT_PASSWORD, f"DROP DATABASE `{database}`")
    assert "shop" in _databases(outside_mysql)  # the server's own database is never touched


@pytest.mark.parametrize(
    ("url", "password", "why"),
    [
        ("mysql://root@127.0.0.1:{port}/shop", "wrong", "(1045) Access denied"),
        ("mysql://root@127.0.0.1:{port}/no_such_db", ROOT_PASSWORD, "(1049) Unknown database"),
    ],
)
def test_a_refused_login_fails_at_once(
    outside_mysql: dict[str, Any],
    tmp_path: Path,
    test_env: dict[str, str],
    url: str,
    password: str,
    why: str,
) -> None:
    scenarios = _scenario(
        tmp_path,
        f"""
        name: outside
        dependency_mode: real
        external_services:
          db: {{type: mysql, mode: external, url: "{url.format(port=outside_mysql["port"])}"}}
        timeout_profiles:
          db: {{health_check: 3600}}
        """,
    )
    env = {**test_env, "ENVCTL_DB_PASSWORD": password, "ENVCTL_STATE_DIR": str(tmp_path)}
    # with an hour's health_check, only a wait that ends at once finishes within the
    # subprocess timeout
    result = run_envctl(
        "--scenarios-dir", str(scenarios), "up", "-s", "outside", env=env, timeout=120
    )
    assert result.returncode != 0
    assert "refused the probe (waiting cannot help)" in result.stderr, result.stderr
    assert why in result.stderr
    health = run_envctl(
        "--scenarios-dir", str(scenarios), "health", "-s", "outside", "--json", env=env
    )
    assert health.returncode == 1, health.stderr
    assert why in health.stdout


def test_cloud_mode_password_only_from_the_environment_and_masked(
    outside_mysql: dict[str, Any], tmp_path: Path, test_env: dict[str, str], no_leaks: None
) -> None:
    scenarios = _scenario(
        tmp_path,
        f"""
        name: outside
        dependency_mode: real
        external_services:
          db: {{type: mysql, mode: cloud, url: "mysql://root@127.0.0.1:{outside_mysql["port"]}/shop"}}
        """,
    )
    # the test server has no TLS; cloud mode uses TLS unless told otherwise
    env = {**test_env, "ENVCTL_DB_PASSWORD": ROOT_PASSWORD, "ENVCTL_DB_SSL": "false"}
    env["ENVCTL_STATE_DIR"] = str(tmp_path / "state")
    result = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "outside", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert ROOT_PASSWORD not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["services"]["db"]["url"].startswith("mysql://root:***@127.0.0.1:")
    health = run_envctl("--scenarios-dir", str(scenarios), "health", "-s", "outside", env=env)
    assert health.returncode == 0, health.stdout + health.stderr
    down = run_envctl("down", "--run-id", data["run_id"], env=env)
    assert down.returncode == 0, down.stderr


def _store(server: dict[str, Any], database: str = "shop", **kwargs: Any) -> Any:
    from envctl.services.mysql.tool import MysqlStore
    from envctl.tools.faces import registry_building

    url = f"mysql://root:{ROOT_PASSWORD}@127.0.0.1:{server['port']}/{database}"
    with registry_building():
        return MysqlStore(url, **kwargs)


def test_sql_tool_sync_and_async_faces(outside_mysql: dict[str, Any]) -> None:
    from envctl.tools.errors import SqlError, StoreError, SyncCallInEventLoop
    from envctl.tools.protocols import AsyncSqlStore, SqlStore

    table = unique("tool")
    store = _store(outside_mysql)
    assert isinstance(store, SqlStore) and isinstance(store.aio, AsyncSqlStore)
    try:
        assert store.execute(f"CREATE TABLE {table} (id INT PRIMARY KEY, name TEXT)") == 0
        assert (
            store.execute(f"INSERT INTO {table} VALUES (%s, %s), (%s, %s)", [1, "a", 2, "b"]) == 2
        )
        assert store.query(f"SELECT name FROM {table} WHERE id = %(id)s", {"id": 2}) == [
            {"name": "b"}
        ]
        # several statements: the last one answers
        assert store.query(f"UPDATE {table} SET name = 'c' WHERE id = 1; SELECT name FROM {table} "
                           "ORDER BY id") == [{"name": "c"}, {"name": "b"}]  # fmt: skip
        with pytest.raises(SqlError, match="1146"):
            store.query("SELECT * FROM no_such_table")

        async def use() -> None:
            with pytest.raises(SyncCallInEventLoop):
                store.query("SELECT 1")
            face = store.aio
            assert await face.execute(f"DELETE FROM {table} WHERE id = %s", [2]) == 1
            assert await face.query(f"SELECT count(*) AS n FROM {table}") == [{"n": 1}]

        asyncio.run(use())
    finally:
        store.execute(f"DROP TABLE IF EXISTS {table}")
        store.close()
    bad = _store({**outside_mysql, "port": _free_port()}, connect_timeout=2)
    with pytest.raises(StoreError, match=r"cannot connect to MySQL at 127\.0\.0\.1"):
        bad.query("SELECT 1")


def test_sql_tool_statement_timeout(outside_mysql: dict[str, Any]) -> None:
    from envctl.tools.errors import SqlError

    store = _store(outside_mysql, statement_timeout=1)
    try:
        with pytest.raises(SqlError):
            # SLEEP is interrupted by the server's statement time limit (an error) or, at the
            # latest, by the client's read timeout
            store.query("SELECT SLEEP(30) AS s FROM (SELECT 1 UNION SELECT 2) AS two")
        assert store.query("SELECT 1 AS one") == [{"one": 1}]  # usable again afterwards
    finally:
        store.close()


def test_reset_of_a_shared_instance_empties_the_main_database(
    outside_mysql: dict[str, Any],
) -> None:
    from envctl.services.mysql.plugin import MysqlService

    database = unique("shared")
    admin = _store(outside_mysql)
    admin.execute(f"CREATE DATABASE {database}")
    store = _store({**outside_mysql}, database=database)
    try:
        store.execute(
            "CREATE TABLE parent (id INT PRIMARY KEY); "
            "CREATE TABLE child (id INT, parent INT, FOREIGN KEY (parent) REFERENCES parent(id)); "
            "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1, 1); "
            "CREATE VIEW v AS SELECT id FROM parent"
        )
        MysqlService.reset_shared(
            MysqlService.spec_model.model_validate({"type": "mysql"}), store, False
        )
        assert store.query("SHOW FULL TABLES") == []
        assert "shop" in _databases(outside_mysql)
    finally:
        store.close()
        admin.execute(f"DROP DATABASE IF EXISTS {database}")
        admin.close()
