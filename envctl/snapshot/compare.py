"""What changed between two snapshots, per service, from their files alone (pure).

Each service type compares its own files (the plugin's ``diff_snapshots`` and
``format_snapshot_diff``, e.g. :mod:`envctl.services.kafka.diff`); this module holds what
they share and puts the services together. Lists are capped at :data:`LIST_LIMIT` entries;
counts are always complete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envctl.services.registry import plugin_for

LIST_LIMIT = 50
"""Lists in a diff are capped at this many entries; counts are always complete."""


def read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def diff_service(kind: str, a: Path, b: Path) -> dict[str, Any]:
    """The changes from snapshot folder ``a`` to ``b`` of one service of type ``kind``."""
    return plugin_for(kind).diff_snapshots(a, b)


def format_diff(result: dict[str, Any]) -> str:
    """The human-readable form of :func:`envctl.snapshot.diff`'s result."""
    lines = [f"{result['from']} -> {result['to']}"]
    services = result["services"]
    unchanged = [name for name, s in services.items() if not s.get("changed")]
    for name, service in services.items():
        if not service.get("changed"):
            continue
        lines.append(f"{name} ({service['type']}):")
        if service.get("status") in ("added", "removed"):
            lines.append(f"  service {service['status']}")
        else:
            lines += plugin_for(service["type"]).format_snapshot_diff(service)
    if unchanged:
        lines.append(f"unchanged: {', '.join(unchanged)}")
    if not any(s.get("changed") for s in services.values()):
        lines.append("no differences")
    return "\n".join(lines)
