"""The pure parts of the MySQL service: spec, flavor, container settings, endpoints, external
addresses, the export health check, statement splitting, snapshot diffs, mock seeding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from envctl.errors import SeedError, ServiceFailed
from envctl.scenario.spec import PortMapping, ServiceMode
from envctl.services.base import PhaseTimeouts, ServiceContext
from envctl.services.healthcheck import HealthCheck
from envctl.services.mysql import data
from envctl.services.mysql.plugin import (
    MARIADB_IMAGE,
    MYSQL_IMAGE,
    MysqlService,
    MysqlSpec,
    connect_args,
    flavor_of,
)
from envctl.services.registry import plugin_for
from envctl.tools import SqliteSqlStore


def spec(**fields: Any) -> MysqlSpec:
    return MysqlSpec.model_validate({"type": "mysql", **fields})


def service(image: str = MYSQL_IMAGE, **fields: Any) -> MysqlService:
    context = ServiceContext(
        run_id="ab12cd34",
        scenario="s",
        service="db",
        network_alias="db",
        timeouts=PhaseTimeouts(),
        image=image,
    )
    return MysqlService(spec(**fields), context)


def test_registered_as_mysql() -> None:
    assert plugin_for("mysql") is MysqlService
    assert MysqlService.default_image == "mysql:8.4"
    assert MysqlService.service_port == 3306


@pytest.mark.parametrize(
    ("image", "flavor"),
    [
        ("mysql:8.4", "mysql"),
        ("docker.io/library/mysql:8.0", "mysql"),
        ("mariadb:11", "mariadb"),
        ("quay.io/mariadb/mariadb:10.11", "mariadb"),
        ("envctl-test/mysql:mariadb-10.11", "mysql"),  # the repository name decides, not the tag
        ("mariadb@sha256:0123", "mariadb"),
    ],
)
def test_flavor_from_image(image: str, flavor: str) -> None:
    assert flavor_of(spec(), image) == flavor


def test_mariadb_flavor_defaults_to_the_mariadb_image() -> None:
    assert spec(flavor="mariadb").image == MARIADB_IMAGE
    assert spec(flavor="mariadb", image="mariadb:10.6").image == "mariadb:10.6"
    assert spec().image is None  # the type's default (mysql:8.4) applies


def test_container_env_root_user() -> None:
    env = service().container_env({3306: 41000})
    assert env == {"MYSQL_ROOT_PASSWORD": "envctl", "MYSQL_DATABASE": "envctl_ab12cd34_envctl"}


def test_container_env_other_user_gets_an_account() -> None:
    env = service(user="app", password="s3cret").container_env({3306: 41000})
    assert env["MYSQL_USER"] == "app"
    assert env["MYSQL_PASSWORD"] == "s3cret"
    assert env["MYSQL_ROOT_PASSWORD"] == "s3cret"


def test_endpoints_name_the_run_database_and_keep_admin_secret() -> None:
    endpoints = service(password="p@ss:w/rd").endpoints({3306: 41000})
    assert endpoints["url"] == "mysql://root:p%40ss%3Aw%2Frd@127.0.0.1:41000/envctl_ab12cd34_envctl"
    assert endpoints["database"] == "envctl_ab12cd34_envctl"
    assert endpoints["_admin_url"].endswith("@127.0.0.1:41000/")
    args = connect_args(endpoints)
    assert args["password"] == "p@ss:w/rd"
    assert args["database"] == "envctl_ab12cd34_envctl"
    assert connect_args(endpoints, "")["password"] == "p@ss:w/rd"
    assert "database" not in connect_args(endpoints, "")


def test_port_is_published_and_pinnable() -> None:
    assert service().ports() == [PortMapping(container=3306)]
    pinned = service(ports=["13306:3306"]).ports()
    assert pinned == [PortMapping(container=3306, host=13306)]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"databases": ["ok", "ok"]}, "unique"),
        ({"databases": ["bad name"]}, "not a usable MySQL database name"),
        ({"database": "x" * 70}, "at most 63"),
        ({"user": "bad user"}, "not a usable MySQL user name"),
        ({"seed": [{"from": "a.csv"}]}, "needs table"),
        ({"seed": [{"from": "a.sql", "table": "t"}]}, "takes no table"),
        ({"seed": [{"from": "a.txt"}]}, "must be a .sql or .csv"),
        ({"mode": "cloud", "password": "x"}, "ENVCTL_<SERVICE>_PASSWORD"),
        ({"flavor": "percona"}, "mysql"),
    ],
)
def test_bad_specs_say_what_is_wrong(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


def test_external_url_password_from_environment_is_masked() -> None:
    plugin = service(mode="external")
    endpoints = plugin.external_endpoints(
        "mysql://app@db.example:3307/shop", {"PASSWORD": "hunter2"}
    )
    assert endpoints["url"] == "mysql://app:***@db.example:3307/shop"
    assert endpoints["_url"] == "mysql://app:hunter2@db.example:3307/shop"
    assert (endpoints["host"], endpoints["port"], endpoints["user"]) == ("db.example", 3307, "app")
    assert "ssl" not in endpoints


def test_external_url_without_password() -> None:
    endpoints = service(mode="external").external_endpoints("mysql://app@127.0.0.1/shop", {})
    assert endpoints["_url"] == "mysql://app@127.0.0.1:3306/shop"
    assert connect_args(endpoints)["password"] == ""


def test_cloud_needs_password_from_environment_and_uses_tls() -> None:
    plugin = service(mode="cloud")
    with pytest.raises(ServiceFailed, match="ENVCTL_DB_PASSWORD"):
        plugin.external_endpoints("mysql://app@db.example/shop", {})
    endpoints = plugin.external_endpoints("mysql://app@db.example/shop", {"PASSWORD": "hunter2"})
    assert endpoints["ssl"] is True
    assert connect_args(endpoints)["ssl"] == {"check_hostname": True}
    assert "hunter2" not in endpoints["url"]


def test_external_url_must_be_mysql() -> None:
    with pytest.raises(ServiceFailed, match="not a MySQL URL"):
        service(mode="external").external_endpoints("postgresql://a:b@h/d", {})


def test_attach_reads_the_service_url_variable() -> None:
    plugin = service(mode=ServiceMode.EXTERNAL)
    handle = plugin.attach({"ENVCTL_DB_URL": "mysql://app@h:3399/d", "ENVCTL_DB_PASSWORD": "pw"})
    assert handle.endpoints["_url"] == "mysql://app:pw@h:3399/d"


@pytest.mark.parametrize(
    ("image", "program"), [("mysql:8.4", "mysqladmin"), ("mariadb:11", "mariadb-admin")]
)
def test_export_health_check_pings_over_tcp(image: str, program: str) -> None:
    check = MysqlService.container_health_check(spec(user="app", password="pw"), image, 30.0)
    assert isinstance(check, HealthCheck)
    command = list(check.test[1:])
    assert check.test[0] == "CMD"
    assert command[:3] == [program, "ping", "--host=127.0.0.1"]
    assert "--user=app" in command
    assert "--password=pw" in command


def test_serves_the_sql_step_and_row_expectations() -> None:
    assert "sql" in MysqlService.serves  # the capability of the sql step and expected rows


# -- statements ----------------------------------------------------------------------------------


def test_split_statements_keeps_quotes_comments_and_lines() -> None:
    text = (
        "-- a comment; not a statement\n"
        "CREATE TABLE t (a TEXT);\n"
        "INSERT INTO t VALUES ('x;y'), (\"it\\'s; fine\"), ('a''b;');\n"
        "# hash comment ;\n"
        "/* block ; comment */ INSERT INTO `we;ird` VALUES (1)\n"
        ";\n"
        "   \n"
    )
    statements = list(data.split_statements(text))
    assert [line for line, _ in statements] == [2, 3, 5]
    assert statements[1][1] == "INSERT INTO t VALUES ('x;y'), (\"it\\'s; fine\"), ('a''b;')"
    assert statements[2][1] == "INSERT INTO `we;ird` VALUES (1)"


def test_split_statements_of_only_comments_is_empty() -> None:
    assert list(data.split_statements("-- nothing\n/* here */\n# at all\n")) == []


def test_quote_name_doubles_backticks() -> None:
    assert data.quote_name("a`b") == "`a``b`"


# -- snapshot diff -------------------------------------------------------------------------------


def _snapshot(folder: Path, tables: dict[str, Any]) -> Path:
    folder.mkdir(parents=True)
    info = {
        name: {"columns": t["columns"], "primary_key": t.get("key", []), "rows": len(t["rows"])}
        for name, t in tables.items()
    }
    rows = {name: {"columns": t["columns"], "rows": t["rows"]} for name, t in tables.items()}
    (folder / "tables.json").write_text(
        json.dumps({"databases": {"envctl": {"physical": "x", "tables": info}}})
    )
    (folder / "envctl.rows.json").write_text(json.dumps(rows))
    return folder


def test_diff_matches_rows_by_primary_key(tmp_path: Path) -> None:
    columns = ["id", "name"]
    a = _snapshot(
        tmp_path / "a",
        {
            "customers": {"columns": columns, "key": ["id"], "rows": [[1, "ada"], [2, "bob"]]},
            "log": {"columns": ["line"], "rows": [["x"], ["x"]]},
        },
    )
    b = _snapshot(
        tmp_path / "b",
        {
            "customers": {"columns": columns, "key": ["id"], "rows": [[1, "ADA"], [3, "cy"]]},
            "log": {"columns": ["line"], "rows": [["x"]]},
            "new": {"columns": ["v"], "rows": [[1]]},
        },
    )
    result = MysqlService.diff_snapshots(a, b)
    assert result is not None and result["changed"] is True
    tables = result["databases"]["envctl"]["tables"]
    customers = tables["customers"]
    assert customers["counts"] == {"added": 1, "removed": 1, "changed": 1}
    assert customers["changed"][0]["key"] == {"id": 1}
    assert customers["changed"][0]["changes"] == {"name": ["ada", "ADA"]}
    assert tables["log"]["counts"] == {"added": 0, "removed": 1, "changed": 0}
    assert tables["new"]["status"] == "added"
    text = "\n".join(MysqlService.format_snapshot_diff(result))
    assert "table customers: 2 -> 2 rows: 1 added, 1 changed, 1 removed" in text
    assert "~ id=1: name: ada -> ADA" in text
    assert "table new: added (0 -> 1 rows)" in text


def test_diff_of_equal_snapshots_is_unchanged(tmp_path: Path) -> None:
    tables = {"t": {"columns": ["id"], "key": ["id"], "rows": [[1]]}}
    result = data.diff(_snapshot(tmp_path / "a", tables), _snapshot(tmp_path / "b", tables))
    assert result == {"changed": False, "databases": {}}


# -- mock mode ------------------------------------------------------------------------------------


def test_seed_double_loads_sql_and_csv(tmp_path: Path) -> None:
    store = SqliteSqlStore("unit-mysql-seed")
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE `customers` (id INT PRIMARY KEY, name TEXT, tier TEXT);\n")
    rows = tmp_path / "customers.csv"
    rows.write_text("name,id,tier\nada,1,gold\nbob,2,\n")
    seed = spec(seed=[{"from": "schema.sql"}, {"from": "customers.csv", "table": "customers"}])
    MysqlService.seed_mock(store, seed.seed[0], schema, "db")
    MysqlService.seed_mock(store, seed.seed[1], rows, "db")
    assert store.query("SELECT id, name, tier FROM customers ORDER BY id") == [
        {"id": 1, "name": "ada", "tier": "gold"},
        {"id": 2, "name": "bob", "tier": None},
    ]


def test_seed_double_reports_the_failing_line(tmp_path: Path) -> None:
    store = SqliteSqlStore("unit-mysql-seed-bad")
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (a INT);\n\nINSERT INTO nowhere VALUES (1);\n")
    with pytest.raises(SeedError) as caught:
        MysqlService.seed_mock(store, spec(seed=[{"from": "bad.sql"}]).seed[0], bad, "db")
    assert caught.value.line == 3


def test_snapshot_summary_line() -> None:
    # the hook `envctl snapshots` asks (it said "mysql" while the summary had another name)
    summary = plugin_for("mysql").snapshot_summary({"databases": 1, "tables": 2, "rows": 5})
    assert summary == "5 rows in 2 tables"


@pytest.mark.parametrize(
    "create",
    [
        "CREATE ALGORITHM=UNDEFINED DEFINER=`app`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1",
        "CREATE ALGORITHM=UNDEFINED DEFINER=root@localhost SQL SECURITY DEFINER VIEW `v` AS "
        "select 1",
    ],
)
def test_dumped_views_carry_no_definer(create: str) -> None:
    assert data._DEFINER.sub("", create, count=1) == (
        "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
    )
