"""CLI arguments that name paths or runs (issue 10): one ``envctl: error:`` line each, exit 2,
and nothing outside envctl's own state is touched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envctl.cli import main
from envctl.errors import ConfigError
from envctl.report.output import write_output
from envctl.report.run_folder import check_run_id


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    code = info.value.code
    return int(code) if isinstance(code, int) else 1, capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["down", "--run-id", "../../x"],
        ["down", "--run-id", "a" * 5000],
        ["logs", "../x"],
        ["replay", "/etc"],
        ["topics", "--run-id", "x/../../y"],
        ["fault", "pause", "--run-id", ".."],
    ],
    ids=["down-traversal", "down-5000", "logs", "replay", "topics", "fault"],
)
def test_a_run_id_that_is_a_path_is_refused_before_anything(
    argv: list[str],
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = tmp_path / "x"
    victim.mkdir()
    (victim / "keep").write_text("keep")
    state = tmp_path / "state" / "a"
    state.mkdir(parents=True)
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(state))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # never reached
    code, err = _run(argv, capsys)
    assert code == 2, err
    assert err.startswith("envctl: error: ") and err.count("\n") == 1, err
    assert "is not a run id" in err
    assert len(err) < 300
    assert (victim / "keep").exists()


@pytest.mark.parametrize(
    ("duration", "needle"),
    [
        ("25h", "'25h' is too long: at most 1d"),
        ("86401", "'86401' is too long: at most 1d"),
        ("1e9", "'1e9' is not a duration"),
        ("0s", "it must be more than 0"),
        ("soon", "'soon' is not a duration"),
    ],
)
def test_fault_duration_beyond_a_day_is_refused_not_cut(
    duration: str,
    needle: str,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused before the run's record or Docker is looked at (neither exists here)."""
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")  # never reached
    argv = ["fault", "pause", "--run-id", "r1", "--service", "db", "--duration", duration]
    code, err = _run(argv, capsys)
    assert code == 2, err
    assert err.startswith("envctl: error: --duration: ") and needle in err, err
    assert err.count("\n") == 1, err


def test_check_run_id() -> None:
    assert check_run_id("1a2b3c4d") == "1a2b3c4d"
    for bad in ("", "..", "../x", "a/b", "-x", "a" * 65, "a\x00b", "\udc80"):
        with pytest.raises(ConfigError):
            check_run_id(bad)


@pytest.mark.parametrize(
    ("target", "needle"),
    [
        ("/proc/x", "cannot"),
        ("/etc/passwd/x", "not a directory"),
        ("/tmp", "is a directory"),
        ("/dev/full", "No space left on device"),
    ],
)
def test_an_unwritable_output_is_one_line(target: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        write_output(Path(target), "x")
    assert needle.lower() in str(info.value).lower()
    assert "\n" not in str(info.value)


def test_an_empty_output_path_is_refused() -> None:
    with pytest.raises(ConfigError, match="empty"):
        write_output("", "x")


def test_an_output_symlink_is_written_through(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_output(link, "new")
    assert link.is_symlink()
    assert real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


def test_a_device_is_written_to_never_replaced() -> None:
    from envctl.report.output import output_target

    # checked before writing: without the device rule, the write below would replace the
    # machine's /dev/null with a regular file
    assert output_target("/dev/null") == (Path("/dev/null"), True)
    before = os.stat("/dev/null")
    write_output("/dev/null", "x")
    after = os.stat("/dev/null")
    assert (before.st_ino, before.st_mode) == (after.st_ino, after.st_mode)


def test_a_fifo_output_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    # a reader is open, so a write that the rule missed would not block the test forever
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with pytest.raises(ConfigError, match="FIFO"):
            write_output(fifo, "x")
    finally:
        os.close(reader)
    assert fifo.is_fifo()


def test_run_all_refuses_an_unwritable_json_before_running(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _run(
        ["--scenarios-dir", str(tmp_path), "run-all", "--json", "/etc/passwd/x"], capsys
    )
    assert code == 2
    assert (
        err
        == "envctl: error: /etc/passwd/x: /etc/passwd is not a directory; give a path to a file\n"
    )


def test_gc_older_than_a_huge_number(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["gc", "--older-than", "99999999999999999999d", "--dry-run"], capsys)
    assert code == 2
    assert err.startswith("envctl: error: --older-than") and err.count("\n") == 1


def test_scenarios_dir_root_is_refused_quickly(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["--scenarios-dir", "/", "validate"], capsys)
    assert code == 2
    assert "folders under /" in err and err.count("\n") == 1


def test_a_usage_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(["run-all", "--json", "/tmp"], capsys)
    assert code == 2
    assert err.startswith("envctl: error: ") and err.count("\n") == 1


def test_validate_of_a_name_too_long_for_the_file_system_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _run(["validate", str(tmp_path / ("a" * 300 + ".yaml"))], capsys)
    assert code == 2, err
    assert "file has a name longer than the file system allows" in err
    assert "Traceback" not in err and err.count("\n") == 2  # the problem, then the tally


def test_a_scenarios_dir_name_too_long_for_the_file_system_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, err = _run(["--scenarios-dir", str(tmp_path / ("d" * 300)), "run-all"], capsys)
    assert code == 2, err
    assert err.startswith("envctl: error: scenarios directory ") and err.count("\n") == 1, err
    assert "cannot be read (File name too long)" in err
