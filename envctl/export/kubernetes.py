"""``envctl ci kubernetes``: a Kubernetes Indexed Job that runs run-all in N shards.

Kubernetes gives each pod of an Indexed Job its 0-based index in ``JOB_COMPLETION_INDEX``;
``envctl run-all`` reads it with ``ENVCTL_SHARD_TOTAL`` (the Job's ``completions``) and runs
that shard (:mod:`envctl.runner.shard`). ``backoffLimitPerIndex`` retries a failed index on
its own, leaving the others alone.

Each pod needs a Docker engine for its services. Two ways:

- ``dind`` (default): a ``docker:dind`` native sidecar (an init container with
  ``restartPolicy: Always``, Kubernetes >= 1.29) in the pod. It must run **privileged** —
  that is Docker-in-Docker's requirement, and why many clusters refuse it (Pod Security
  "restricted"/"baseline" forbid it). It listens on ``tcp://127.0.0.1:2375`` of the pod's
  own network namespace only (no TLS is needed: nothing outside the pod can reach it), and
  the ports envctl publishes on 127.0.0.1 are in that same namespace, so the test process
  reaches its services as on a laptop.
- ``remote``: no sidecar; ``DOCKER_HOST`` points at an engine you run elsewhere (see
  docs/scaling.md for what that means for published ports).

The scenarios reach the pods either inside your test image (``--scenarios image``: the
image holds the project, envctl installed) or from a ConfigMap holding the scenario tree as
a gzipped tar (``--scenarios configmap``, the default; ConfigMaps hold at most 1 MiB).
Each shard writes its ``result.json`` to a shared volume (a ReadWriteMany
PersistentVolumeClaim named by ``--results-claim``), where ``envctl report merge`` reads
all of them — a Job has no artifact store of its own.

The result is data (:func:`indexed_job`), rendered as one multi-document YAML file.
Tests validate every document against the Kubernetes OpenAPI schema
(``kubernetes-validate``); no cluster runs here, so that is the honest limit of the check.
"""

from __future__ import annotations

import base64
import gzip
import io
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envctl.errors import ConfigError
from envctl.export.yamltext import render_yaml

DIND_IMAGE = "docker:27-dind"
DEFAULT_IMAGE = "python:3.11-slim"
DEFAULT_INSTALL = "pip install envctl"
CONFIGMAP_LIMIT = 1024 * 1024
"""Kubernetes refuses ConfigMaps over 1 MiB."""
RESULTS_MOUNT = "/envctl-results"
SCENARIOS_MOUNT = "/envctl-scenarios"
WORKDIR = "/work"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?$")


@dataclass(frozen=True)
class JobOptions:
    shards: int
    name: str = "envctl-scenarios"
    image: str = DEFAULT_IMAGE
    install: str = DEFAULT_INSTALL
    """Run before envctl in the pod (empty: the image has envctl)."""
    scenarios: str = "configmap"
    """configmap | image"""
    engine: str = "dind"
    """dind | remote"""
    docker_host: str | None = None
    """With engine ``remote``: the engine's address (``tcp://...`` or ``ssh://...``)."""
    category: str | None = None
    results_claim: str = "envctl-results"
    profile: str | None = None
    backoff_per_index: int = 1
    parallelism: int | None = None
    """How many pods at once (default: all shards)."""


def _check_name(value: str, what: str) -> None:
    if not _NAME_RE.match(value):
        raise ConfigError(
            f"{what}: {value[:60]!r} is not a Kubernetes name; use lowercase letters, digits "
            "and '-', starting and ending with a letter or digit, at most 52 characters"
        )


def scenarios_archive(root: Path) -> bytes:
    """The scenario tree as a gzipped tar (files only, paths relative to ``root``)."""
    buffer = io.BytesIO()
    # gzip stamps the time into its header: mtime=0 keeps regenerated manifests diff-free
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w") as tar,
    ):
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(root)))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0  # the same tree gives the same bytes
                with path.open("rb") as stream:
                    tar.addfile(info, stream)
    return buffer.getvalue()


def indexed_job(options: JobOptions, scenarios_dir: Path | None = None) -> list[dict[str, Any]]:
    """The manifests: [ConfigMap,] PersistentVolumeClaim, Job."""
    _check_name(options.name, "--name")
    _check_name(options.results_claim, "--results-claim")
    if options.engine == "remote" and not options.docker_host:
        raise ConfigError("--engine remote needs --docker-host (tcp://... or ssh://...)")
    documents: list[dict[str, Any]] = []
    labels = {"app.kubernetes.io/name": "envctl", "app.kubernetes.io/instance": options.name}
    volumes: list[dict[str, Any]] = [
        {"name": "results", "persistentVolumeClaim": {"claimName": options.results_claim}}
    ]
    mounts: list[dict[str, Any]] = [{"name": "results", "mountPath": RESULTS_MOUNT}]
    unpack = ""
    if options.scenarios == "configmap":
        if scenarios_dir is None:
            raise ConfigError("--scenarios configmap needs a scenarios directory")
        archive = scenarios_archive(scenarios_dir)
        if len(archive) > CONFIGMAP_LIMIT * 3 // 4:  # base64 grows it by a third
            raise ConfigError(
                f"{scenarios_dir}: the scenario tree is {len(archive)} bytes compressed, too "
                "large for a ConfigMap (1 MiB); bake it into your image and use --scenarios image"
            )
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": f"{options.name}-scenarios", "labels": dict(labels)},
                "binaryData": {"scenarios.tgz": base64.b64encode(archive).decode("ascii")},
            }
        )
        volumes.append({"name": "scenarios", "configMap": {"name": f"{options.name}-scenarios"}})
        mounts.append({"name": "scenarios", "mountPath": SCENARIOS_MOUNT, "readOnly": True})
        unpack = (
            f"mkdir -p {WORKDIR}/scenarios && "
            f"tar -xzf {SCENARIOS_MOUNT}/scenarios.tgz -C {WORKDIR}/scenarios && cd {WORKDIR} && "
        )
    documents.append(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": options.results_claim, "labels": dict(labels)},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }
    )
    category = f" --category {options.category}" if options.category else ""
    install = f"{options.install} && " if options.install else ""
    result = f"{RESULTS_MOUNT}/{options.name}/shard-$((JOB_COMPLETION_INDEX + 1)).json"
    script = (
        f"set -e; {install}{unpack}mkdir -p {RESULTS_MOUNT}/{options.name} && "
        f'exec envctl run-all{category} --json "{result}"'
    )
    env: list[dict[str, Any]] = [
        {"name": "ENVCTL_SHARD_TOTAL", "value": str(options.shards)},
        {
            "name": "DOCKER_HOST",
            "value": "tcp://127.0.0.1:2375" if options.engine == "dind" else options.docker_host,
        },
    ]
    if options.profile:
        env.append({"name": "ENVCTL_PROFILE", "value": options.profile})
    runner: dict[str, Any] = {
        "name": "envctl",
        "image": options.image,
        "command": ["sh", "-c", script],
        "env": env,
        "volumeMounts": mounts,
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
    }
    pod: dict[str, Any] = {"restartPolicy": "Never", "containers": [runner], "volumes": volumes}
    if options.engine == "dind":
        pod["initContainers"] = [
            {
                # A native sidecar (Kubernetes >= 1.29): started before envctl, stopped
                # after it, so the Job completes when envctl does.
                "name": "docker",
                "image": DIND_IMAGE,
                "restartPolicy": "Always",
                "args": ["--host=tcp://127.0.0.1:2375"],
                "env": [{"name": "DOCKER_TLS_CERTDIR", "value": ""}],
                "securityContext": {"privileged": True},
                "startupProbe": {
                    "exec": {"command": ["docker", "-H", "tcp://127.0.0.1:2375", "info"]},
                    "periodSeconds": 1,
                    "failureThreshold": 60,
                },
                "volumeMounts": [{"name": "docker-data", "mountPath": "/var/lib/docker"}],
            }
        ]
        volumes.append({"name": "docker-data", "emptyDir": {}})
    documents.append(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": options.name, "labels": dict(labels)},
            "spec": {
                "completionMode": "Indexed",
                "completions": options.shards,
                "parallelism": options.parallelism or options.shards,
                "backoffLimitPerIndex": options.backoff_per_index,
                "maxFailedIndexes": options.shards,
                "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
            },
        }
    )
    return documents


def render_manifests(documents: list[dict[str, Any]], command: str = "") -> str:
    made_by = f"`{command}`" if command else "envctl ci kubernetes"
    header = (
        f"Generated by {made_by}.\n"
        "Apply with kubectl apply -f; merge the shards afterwards with\n"
        "envctl report merge <results volume>/<job name>/shard-*.json"
    )
    parts = [render_yaml(doc) for doc in documents]
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + "---\n" + "---\n".join(parts)
