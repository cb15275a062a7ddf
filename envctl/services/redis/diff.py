"""What changed between two snapshots of a Redis service, from their files alone (pure):
keys added, removed and changed (type, value, or TTL — time passing is no change, nor is the
same TTL set again, e.g. by a restore; see :func:`ttl_changed`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envctl.snapshot.compare import LIST_LIMIT, read_jsonl, short

TTL_TOLERANCE_MS = 1000


def ttl_changed(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether a key's expiry was changed between two captures ``a`` and ``b``.

    Unchanged when the expiry time is the same (time passed, nobody touched it), or when
    the remaining time fits the same TTL set again at some moment between the captures
    (a restore, or code that refreshes the TTL with the same value).
    """
    ttl_a, ttl_b = a.get("ttl_ms"), b.get("ttl_ms")
    if (ttl_a is None) != (ttl_b is None):
        return True
    if ttl_a is None or ttl_b is None:
        return False
    expiry_a, expiry_b = a.get("expires_at_ms") or 0, b.get("expires_at_ms") or 0
    if abs(expiry_a - expiry_b) <= TTL_TOLERANCE_MS:
        return False
    elapsed = max(0, (expiry_b - ttl_b) - (expiry_a - ttl_a))
    return not (ttl_a - elapsed - TTL_TOLERANCE_MS <= ttl_b <= ttl_a + TTL_TOLERANCE_MS)


def diff_redis(a: Path, b: Path) -> dict[str, Any]:
    keys_a = {e["key"]: e for e in read_jsonl(a / "keys.jsonl")}
    keys_b = {e["key"]: e for e in read_jsonl(b / "keys.jsonl")}
    added = [keys_b[k] for k in sorted(keys_b.keys() - keys_a.keys())]
    removed = [keys_a[k] for k in sorted(keys_a.keys() - keys_b.keys())]
    changed = []
    for key in sorted(keys_a.keys() & keys_b.keys()):
        before, after = keys_a[key], keys_b[key]
        what = [
            name
            for name, differs in (
                ("type", before["type"] != after["type"]),
                ("value", before["value"] != after["value"]),
                ("ttl", ttl_changed(before, after)),
            )
            if differs
        ]
        if what:
            changed.append({"key": key, "what": what, "before": before, "after": after})
    return {
        "changed": bool(added or removed or changed),
        "counts": {"added": len(added), "removed": len(removed), "changed": len(changed)},
        "added": added[:LIST_LIMIT],
        "removed": removed[:LIST_LIMIT],
        "changed_keys": changed[:LIST_LIMIT],
    }


def format_diff(service: dict[str, Any]) -> list[str]:
    lines = [f"  + {e['key']} ({e['type']}) {short(e['value'])}" for e in service["added"]]
    lines += [f"  - {e['key']} ({e['type']})" for e in service["removed"]]
    for c in service["changed_keys"]:
        detail = ", ".join(c["what"])
        after = c["after"]
        lines.append(f"  ~ {c['key']} ({after['type']}) {detail}: {short(after['value'])}")
    shown = len(service["added"]) + len(service["removed"]) + len(service["changed_keys"])
    total = sum(service["counts"].values())
    if total > shown:
        lines.append(f"  … {total - shown} more keys")
    return lines
