"""``envctl ci kubernetes``: an Indexed Job whose manifests pass the Kubernetes schema.

No cluster runs here; the manifests are validated (strict: unknown fields are errors)
against the Kubernetes OpenAPI schemas that ``kubernetes-validate`` ships, for every
version from 1.29 (native sidecars, ``backoffLimitPerIndex``) to the newest it knows.
"""

from __future__ import annotations

import base64
import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from doc_examples import EXAMPLES
from kubernetes_validate.utils import all_versions

from envctl.cli import cli
from envctl.errors import ConfigError
from envctl.export.kubernetes import JobOptions, indexed_job

_SUPPORTED = sorted(
    {v for v in all_versions() if tuple(map(int, v.split(".")[:2])) >= (1, 29)},
    key=lambda v: tuple(map(int, v.split("."))),
)
VERSIONS = sorted({_SUPPORTED[0], _SUPPORTED[len(_SUPPORTED) // 2], _SUPPORTED[-1]})
"""The oldest version with what the Job uses (1.29), one in the middle, the newest."""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLES / "github" / "scenarios", project / "scenarios")
    monkeypatch.chdir(project)
    return project


def _generate(args: list[str]) -> list[dict[str, Any]]:
    result = CliRunner().invoke(cli, ["ci", "kubernetes", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return [d for d in yaml.safe_load_all(result.stdout) if d]


@pytest.mark.parametrize(
    "args",
    [
        ["--shards", "4"],
        ["--shards", "3", "--category", "integration", "--profile", "ci", "--parallelism", "2"],
        [
            "--shards",
            "2",
            "--engine",
            "remote",
            "--docker-host",
            "tcp://127.0.0.1:2376",
            "--scenarios",
            "image",
            "--install",
            "",
            "--image",
            "registry.example/tests:1",
        ],
    ],
)
def test_manifests_pass_the_kubernetes_schema(project: Path, args: list[str]) -> None:
    assert VERSIONS, "kubernetes-validate knows no version >= 1.29"
    for document in _generate(args):
        for version in VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)


def test_each_pod_runs_its_shard_with_a_private_engine(project: Path) -> None:
    docs = {d["kind"]: d for d in _generate(["--shards", "4"])}
    job = docs["Job"]["spec"]
    assert job["completionMode"] == "Indexed" and job["completions"] == 4
    assert job["backoffLimitPerIndex"] == 1  # a failed index is retried alone
    pod = job["template"]["spec"]
    (runner,) = pod["containers"]
    env = {e["name"]: e["value"] for e in runner["env"]}
    assert env["ENVCTL_SHARD_TOTAL"] == "4"  # + JOB_COMPLETION_INDEX from Kubernetes
    assert env["DOCKER_HOST"] == "tcp://127.0.0.1:2375"
    assert "envctl run-all" in runner["command"][-1]
    assert "shard-$((JOB_COMPLETION_INDEX + 1)).json" in runner["command"][-1]
    (dind,) = pod["initContainers"]
    assert dind["restartPolicy"] == "Always" and dind["securityContext"]["privileged"]
    assert dind["args"] == ["--host=tcp://127.0.0.1:2375"]  # the pod's own loopback only


def test_the_configmap_holds_the_scenario_tree(project: Path) -> None:
    docs = {d["kind"]: d for d in _generate(["--shards", "2"])}
    archive = base64.b64decode(docs["ConfigMap"]["binaryData"]["scenarios.tgz"])
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    tree = {
        str(p.relative_to(project / "scenarios")): p.read_bytes()
        for p in (project / "scenarios").rglob("*")
        if p.is_file()
    }
    assert names == tree
    # the same tree, the same bytes: regenerating is diff-free
    assert _generate(["--shards", "2"])[0] == docs["ConfigMap"]


def test_remote_engine_has_no_privileged_sidecar(project: Path) -> None:
    docs = {
        d["kind"]: d
        for d in _generate(
            ["--shards", "2", "--engine", "remote", "--docker-host", "ssh://ci@engine"]
        )
    }
    pod = docs["Job"]["spec"]["template"]["spec"]
    assert "initContainers" not in pod
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["DOCKER_HOST"] == "ssh://ci@engine"


def test_bad_options_are_one_line_errors(project: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs --docker-host"):
        indexed_job(JobOptions(shards=2, engine="remote"), project / "scenarios")
    with pytest.raises(ConfigError, match="is not a Kubernetes name"):
        indexed_job(JobOptions(shards=2, name="Bad_Name"), project / "scenarios")
    big = tmp_path / "big"
    big.mkdir()
    (big / "blob.bin").write_bytes(__import__("os").urandom(900_000))
    with pytest.raises(ConfigError, match="too large for a ConfigMap"):
        indexed_job(JobOptions(shards=2), big)
