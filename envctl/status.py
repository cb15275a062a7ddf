"""Running environments, read back from the labels of their containers and networks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_ENDPOINTS,
    LABEL_OWNER_HOST,
    LABEL_OWNER_PID,
    LABEL_TYPE,
    Runtime,
)


def environments(runtime: Runtime, labels: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One entry per run id: scenario, services with status and endpoints, owner; only runs
    whose resources carry every one of ``labels`` when given (``status --label``)."""
    runs: dict[str, dict[str, Any]] = {}
    for resource in runtime.list_managed(labels):
        run = runs.setdefault(
            resource.run_id,
            {
                "run_id": resource.run_id,
                "scenario": resource.scenario,
                "created": resource.labels.get(LABEL_CREATED, ""),
                "owner": f"{resource.labels.get(LABEL_OWNER_HOST, '?')}:"
                f"{resource.labels.get(LABEL_OWNER_PID, '?')}",
                "services": {},
                "networks": [],
                "volumes": [],
            },
        )
        if resource.kind == "container":
            try:
                endpoints = json.loads(resource.labels.get(LABEL_ENDPOINTS, "{}"))
            except json.JSONDecodeError:
                endpoints = {}
            run["services"][resource.service] = {
                "type": resource.labels.get(LABEL_TYPE, ""),
                "container": resource.name,
                "runtime": "native" if resource.id.startswith("native:") else "docker",
                "status": resource.status,
                "endpoints": endpoints,
            }
        elif resource.kind == "network":
            run["networks"].append(resource.name)
        else:
            run["volumes"].append(resource.name)
    return sorted(runs.values(), key=lambda r: (r["created"], r["run_id"]))
