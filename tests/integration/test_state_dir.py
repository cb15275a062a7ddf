"""A state folder that really is read-only (not a mock): `envctl run` and `envctl up` end in
one line, exit 2, and start nothing (issue 10 §3b)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

pytestmark = pytest.mark.docker

REMOUNT_READ_ONLY = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'


def read_only_prefix(folder: Path) -> list[str]:
    """A command prefix that runs a process with ``folder`` read-only for it.

    Mode bits do not stop root, so as root the folder is bind-mounted read-only in a mount
    namespace of the process's own (``unshare -m``); as another user ``chmod 0555`` does.
    """
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return []
    prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c", REMOUNT_READ_ONLY]
    prefix.append(str(folder))
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare(1): cannot make a folder read-only")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"running as root without mount namespaces: {probe.stderr.strip()}")
    return prefix


@pytest.fixture
def read_only_state(tmp_path: Path, test_env: dict[str, str]) -> tuple[list[str], Path]:
    state = tmp_path / "state"
    state.mkdir()
    prefix = read_only_prefix(state)
    touched = subprocess.run(
        [*prefix, "touch", str(state / "probe")], capture_output=True, text=True, check=False
    )
    assert touched.returncode != 0, "the folder is not read-only: the test would prove nothing"
    test_env["ENVCTL_STATE_DIR"] = str(state)
    return prefix, state


@pytest.mark.parametrize("command", ["up", "run"])
def test_read_only_state_dir_is_one_line_and_starts_nothing(
    command: str,
    read_only_state: tuple[list[str], Path],
    test_env: dict[str, str],
    no_leaks: None,
) -> None:
    prefix, state = read_only_state
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "envctl", command, "-s", "kafka_real_basic"],
        env=test_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("envctl: error: cannot write ") and str(state) in lines[0]
    assert "(Read-only file system)" in lines[0] or "(Permission denied)" in lines[0]
    assert "set ENVCTL_STATE_DIR to a writable folder" in lines[0]
    assert not any(state.iterdir())
