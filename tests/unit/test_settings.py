"""Settings read once at the edge: environment, project config file, defaults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.settings import Settings


@pytest.fixture
def project(write_scenario: Callable[..., Path], tmp_path: Path) -> Path:
    """A project with envctl.yaml at its root and a nested working folder."""
    write_scenario(
        "project/envctl.yaml",
        """
        scenarios_dir: tests/scenarios
        images:
          kafka: mirror.local/apache/kafka:3.9.0
          Redis: mirror.local/redis:7
        """,
    )
    work = tmp_path / "project" / "src" / "pkg"
    work.mkdir(parents=True)
    return (tmp_path / "project").resolve()


def test_defaults(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert settings.cwd == tmp_path.resolve()
    assert settings.scenarios_dir == tmp_path.resolve() / "scenarios"
    assert dict(settings.image_overrides) == {}
    assert settings.timeout_scale == 1.0
    assert settings.project_config_path is None
    assert dict(settings.environ) == {}


def test_image_override_from_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"ENVCTL_IMAGE_KAFKA": "envctl-test/kafka:tansu", "ENVCTL_IMAGE_REDIS": ""},
        cwd=tmp_path,
    )
    assert dict(settings.image_overrides) == {"kafka": "envctl-test/kafka:tansu"}
    assert dict(settings.image_override_sources) == {"kafka": "ENVCTL_IMAGE_KAFKA"}


def test_project_config_found_from_a_parent_folder(project: Path) -> None:
    settings = Settings.load(environ={}, cwd=project / "src" / "pkg")
    assert settings.project_config_path == project / "envctl.yaml"
    assert settings.scenarios_dir == project / "tests" / "scenarios"
    assert dict(settings.image_overrides) == {
        "kafka": "mirror.local/apache/kafka:3.9.0",
        "redis": "mirror.local/redis:7",
    }
    assert settings.image_override_sources["kafka"] == f"{project / 'envctl.yaml'}: images.kafka"
    assert settings.image_override_sources["redis"] == f"{project / 'envctl.yaml'}: images.Redis"


def test_hidden_project_config_name(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    write_scenario(".envctl.yaml", "scenarios_dir: sc\n")
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert settings.scenarios_dir == tmp_path.resolve() / "sc"


def test_environment_beats_project_config(project: Path) -> None:
    settings = Settings.load(
        environ={"ENVCTL_IMAGE_KAFKA": "local/kafka:dev", "ENVCTL_SCENARIOS_DIR": "elsewhere"},
        cwd=project / "src",
    )
    assert settings.image_overrides["kafka"] == "local/kafka:dev"
    assert settings.image_override_sources["kafka"] == "ENVCTL_IMAGE_KAFKA"
    assert settings.image_overrides["redis"] == "mirror.local/redis:7"  # not overridden
    assert settings.scenarios_dir == project / "src" / "elsewhere"  # relative to cwd


def test_argument_beats_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={"ENVCTL_SCENARIOS_DIR": "/from/env"}, cwd=tmp_path, scenarios_dir="cli"
    )
    assert settings.scenarios_dir == tmp_path.resolve() / "cli"


def test_scenarios_dir_from_environment(tmp_path: Path) -> None:
    absolute = tmp_path / "abs"
    settings = Settings.load(environ={"ENVCTL_SCENARIOS_DIR": str(absolute)}, cwd=tmp_path)
    assert settings.scenarios_dir == absolute


def test_with_scenarios_dir(tmp_path: Path) -> None:
    settings = Settings.load(environ={}, cwd=tmp_path)
    assert settings.with_scenarios_dir("x").scenarios_dir == tmp_path.resolve() / "x"
    assert settings.with_scenarios_dir("/abs").scenarios_dir == Path("/abs")


@pytest.mark.parametrize(("text", "scale"), [("2", 2.0), ("0.5", 0.5), ("1e1", 10.0)])
def test_timeout_scale(tmp_path: Path, text: str, scale: float) -> None:
    settings = Settings.load(environ={"ENVCTL_TIMEOUT_SCALE": text}, cwd=tmp_path)
    assert settings.timeout_scale == scale


@pytest.mark.parametrize("text", ["abc", "0", "-1", "", "nan", "inf", "-inf", "1e999"])
def test_invalid_timeout_scale(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={"ENVCTL_TIMEOUT_SCALE": text}, cwd=tmp_path)
    assert str(info.value) == (
        f"ENVCTL_TIMEOUT_SCALE={text!r} is not a number between 0 and 1000; "
        "set it to e.g. 2 or unset it"
    )


def test_explicit_config_file(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    config = write_scenario("conf/other.yaml", "images: {kafka: x/kafka}\n")
    settings = Settings.load(environ={"ENVCTL_CONFIG": str(config)}, cwd=tmp_path)
    assert settings.project_config_path == config.resolve()
    assert settings.image_overrides["kafka"] == "x/kafka"


def test_explicit_config_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={"ENVCTL_CONFIG": str(missing)}, cwd=tmp_path)
    assert str(info.value) == f"ENVCTL_CONFIG={missing}: no such file; fix the path or unset it"


def test_project_config_with_unknown_key(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    config = write_scenario("envctl.yaml", "image: {kafka: x}\n")
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, cwd=tmp_path)
    assert str(info.value) == (f"{config.resolve()}:1: image: unknown key — did you mean 'images'?")


@pytest.mark.parametrize("text", ["- a\n", "images: [unclosed\n"])
def test_project_config_not_a_mapping_or_not_yaml(
    write_scenario: Callable[..., Path], tmp_path: Path, text: str
) -> None:
    config = write_scenario("envctl.yaml", text)
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, cwd=tmp_path)
    assert str(info.value).startswith(f"{config.resolve()}:")
    assert "\n" not in str(info.value)


def test_settings_never_write_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVCTL_IMAGE_KAFKA", "from/os")
    given = {"ENVCTL_TIMEOUT_SCALE": "3"}
    settings = Settings.load(environ=given, cwd=tmp_path)
    assert dict(settings.image_overrides) == {}  # the given environ is the only source
    assert given == {"ENVCTL_TIMEOUT_SCALE": "3"}
