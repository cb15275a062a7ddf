"""Where snapshots live and how they are written: never half, never listed half.

``.envctl/runs/<run-id>/snapshots/<name>/`` holds ``manifest.json`` and one folder per
service. A snapshot is written into ``.tmp-<name>-<random>/`` next to it and renamed into
place only when every service is written and the manifest is in it; listing ignores
anything without a manifest or starting with a dot.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from envctl.errors import SnapshotError
from envctl.report.run_folder import SNAPSHOTS_DIR

MANIFEST = "manifest.json"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SnapshotError(
            f"snapshot name {name!r} is not valid: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def snapshots_dir(run_dir: Path) -> Path:
    return run_dir / SNAPSHOTS_DIR


def begin(run_dir: Path, name: str) -> Path:
    """A new, empty temporary folder for snapshot ``name``; a clear error when unwritable."""
    check_name(name)
    root = snapshots_dir(run_dir)
    tmp = root / f".tmp-{name}-{secrets.token_hex(4)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as exc:
        raise SnapshotError(
            f"cannot write snapshots under {root}: {exc.strerror or exc}; make it writable or "
            "set ENVCTL_STATE_DIR to a writable folder"
        ) from None
    return tmp


def file_sizes(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def commit(tmp: Path, run_dir: Path, name: str, manifest: dict[str, Any], overwrite: bool) -> Path:
    """Write the manifest last, then rename the folder into place."""
    final = snapshots_dir(run_dir) / name
    if final.exists() and not overwrite:
        abort(tmp)
        raise SnapshotError(
            f"snapshot '{name}' already exists in {final.parent}; choose another name or "
            "overwrite it (--force)"
        )
    try:
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        old = None
        if final.exists():
            old = final.with_name(f".old-{name}-{secrets.token_hex(4)}")
            os.replace(final, old)
        os.replace(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        abort(tmp)
        raise SnapshotError(f"cannot write snapshot '{name}' in {final.parent}: {exc}") from None
    return final


def abort(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("complete") else None


def list_snapshots(run_dir: Path) -> list[dict[str, Any]]:
    """Complete snapshots of a run, oldest first."""
    root = snapshots_dir(run_dir)
    if not root.is_dir():
        return []
    found = []
    for folder in root.iterdir():
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        manifest = read_manifest(folder)
        if manifest is not None:
            found.append(manifest)
    return sorted(found, key=lambda m: (str(m.get("created", "")), str(m.get("name", ""))))


def load(run_dir: Path, name: str) -> tuple[Path, dict[str, Any]]:
    check_name(name)
    folder = snapshots_dir(run_dir) / name
    manifest = read_manifest(folder)
    if manifest is None:
        known = [m["name"] for m in list_snapshots(run_dir)]
        hint = f" (snapshots of this run: {', '.join(known)})" if known else " (it has none)"
        raise SnapshotError(f"no snapshot '{name}' in {folder.parent}{hint}")
    return folder, manifest
