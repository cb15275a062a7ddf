"""The state folder does not grow forever; gc forgets what it collected (issue 10 §3b)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from envctl.environment import forget_collected, prune_runs
from envctl.errors import ConfigError
from envctl.settings import Settings


def run_folder(root: Path, name: str, age_days: float, record: bool = False) -> Path:
    folder = root / "runs" / name
    folder.mkdir(parents=True)
    audit = folder / "audit.jsonl"
    audit.write_text('{"event": "run.start"}\n')
    if record:
        (folder / "environment.json").write_text(json.dumps({"run_id": name, "services": {}}))
    then = time.time() - age_days * 86400
    os.utime(audit, (then, then))
    return folder


def settings(state: Path, **env: str) -> Settings:
    return Settings.load(environ={"ENVCTL_STATE_DIR": str(state), **env}, cwd=state)


def test_prune_by_age_keeps_records_and_foreign_folders(tmp_path: Path) -> None:
    old = run_folder(tmp_path, "old", 30)
    new = run_folder(tmp_path, "new", 0)
    up = run_folder(tmp_path, "up", 30, record=True)
    foreign = tmp_path / "runs" / "not-a-run"
    foreign.mkdir()
    assert prune_runs(settings(tmp_path), dry_run=True) == [old]
    assert old.exists()
    assert prune_runs(settings(tmp_path)) == [old]
    assert not old.exists()
    assert new.exists() and up.exists() and foreign.exists()


def test_prune_by_count(tmp_path: Path) -> None:
    folders = [run_folder(tmp_path, f"r{i}", age_days=i / 100) for i in range(5)]
    pruned = prune_runs(settings(tmp_path, ENVCTL_KEEP_RUNS="2"))
    assert sorted(pruned) == sorted(folders[2:])
    assert [f.exists() for f in folders] == [True, True, False, False, False]


@pytest.mark.parametrize("value", ["-1", "nan", "lots", "inf"])
def test_bad_retention_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="ENVCTL_KEEP_RUNS"):
        prune_runs(settings(tmp_path, ENVCTL_KEEP_RUNS=value))


def test_gc_forgets_records_but_not_those_naming_external_resources(tmp_path: Path) -> None:
    docker_only = run_folder(tmp_path, "d1", 0, record=True)
    external = run_folder(tmp_path, "e1", 0)
    (external / "environment.json").write_text(
        json.dumps(
            {
                "run_id": "e1",
                "services": {"kafka": {"mode": "external", "resources": {"topics": ["t"]}}},
            }
        )
    )
    notes = forget_collected(settings(tmp_path), ["d1", "e1", "missing"])
    assert not (docker_only / "environment.json").exists()
    assert (external / "environment.json").exists()
    assert notes == [
        "record of run e1 kept: it names resources on external service(s) kafka; "
        "`envctl down --run-id e1` removes them"
    ]


def test_unwritable_state_folder_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from envctl.cli import main

    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "scenario_m.yaml").write_text(
        "name: m\nexternal_services: {r: {type: redis}}\nsteps: [{sleep: 0}]\n"
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ENVCTL_STATE_DIR", str(blocker / "state"))
    with pytest.raises(SystemExit) as exited:
        main(["--scenarios-dir", str(tmp_path / "scenarios"), "run", "-s", "m"])
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err
    assert "set ENVCTL_STATE_DIR to a writable folder" in err


def test_audit_log_that_fills_up_mid_run_is_a_warning(tmp_path: Path) -> None:
    import errno

    from envctl.report.audit import AuditLog

    audit = AuditLog(tmp_path / "run", "r1")

    def full(_text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    audit._file.write = full  # type: ignore[method-assign]
    audit.event("phase", phase="up")
    audit.close()
    assert audit.problem and "No space left on device" in audit.problem


def test_atomic_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from envctl import environment as runs

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.json, "dump", full)
    with pytest.raises(OSError):
        runs.write_json_atomic(tmp_path / "environment.json", {"a": 1})
    assert list(tmp_path.iterdir()) == []
