"""Snapshot folders: written in a temporary folder, renamed at the end, never listed half."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envctl.errors import SnapshotError
from envctl.snapshot import store


def manifest(name: str, created: str = "2024-01-01T00:00:00") -> dict[str, object]:
    return {"complete": True, "name": name, "created": created, "services": {}, "bytes": 0}


def test_commit_renames_the_temporary_folder_into_place(tmp_path: Path) -> None:
    tmp = store.begin(tmp_path, "before")
    assert tmp.parent == tmp_path / "snapshots" and tmp.name.startswith(".tmp-before-")
    (tmp / "kafka").mkdir()
    (tmp / "kafka" / "topics.json").write_text("{}")
    final = store.commit(tmp, tmp_path, "before", manifest("before"), overwrite=False)
    assert final == tmp_path / "snapshots" / "before"
    assert not tmp.exists()
    assert store.file_sizes(final) == {
        "kafka/topics.json": 2,
        "manifest.json": final.joinpath("manifest.json").stat().st_size,
    }
    assert [m["name"] for m in store.list_snapshots(tmp_path)] == ["before"]


def test_half_written_snapshots_are_never_listed(tmp_path: Path) -> None:
    store.begin(tmp_path, "crashed")  # a process died while writing it
    no_manifest = tmp_path / "snapshots" / "partial"
    no_manifest.mkdir()
    incomplete = tmp_path / "snapshots" / "incomplete"
    incomplete.mkdir()
    (incomplete / "manifest.json").write_text('{"name": "incomplete"}')
    assert store.list_snapshots(tmp_path) == []
    with pytest.raises(SnapshotError, match=r"no snapshot 'partial'.*it has none"):
        store.load(tmp_path, "partial")


def test_an_existing_name_is_kept_unless_overwritten(tmp_path: Path) -> None:
    store.commit(store.begin(tmp_path, "a"), tmp_path, "a", manifest("a", "1"), overwrite=False)
    tmp = store.begin(tmp_path, "a")
    with pytest.raises(SnapshotError, match=r"already exists.*--force"):
        store.commit(tmp, tmp_path, "a", manifest("a", "2"), overwrite=False)
    assert not tmp.exists()
    store.commit(store.begin(tmp_path, "a"), tmp_path, "a", manifest("a", "3"), overwrite=True)
    assert store.load(tmp_path, "a")[1]["created"] == "3"
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == ["a"]


def test_listing_is_oldest_first_and_unknown_names_list_the_known(tmp_path: Path) -> None:
    for name, created in (("late", "2"), ("early", "1")):
        store.commit(store.begin(tmp_path, name), tmp_path, name, manifest(name, created), False)
    assert [m["name"] for m in store.list_snapshots(tmp_path)] == ["early", "late"]
    with pytest.raises(SnapshotError, match=r"snapshots of this run: early, late"):
        store.load(tmp_path, "middle")


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "../x", "with space"])
def test_snapshot_names_are_plain(tmp_path: Path, name: str) -> None:
    with pytest.raises(SnapshotError, match="is not valid"):
        store.begin(tmp_path, name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_run_folder_is_a_clear_error(tmp_path: Path) -> None:
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SnapshotError, match=r"cannot write snapshots under .*ENVCTL_STATE_DIR"):
            store.begin(tmp_path, "a")
    finally:
        tmp_path.chmod(0o700)


def test_a_run_folder_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.write_text("not a folder")
    with pytest.raises(SnapshotError, match=f"cannot write snapshots under {run_dir}/snapshots"):
        store.begin(run_dir, "a")
