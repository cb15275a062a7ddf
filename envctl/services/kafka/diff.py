"""What changed between two snapshots of a Kafka service, from their files alone (pure):
per topic and partition the start/end offsets, the new messages, messages that differ at
the same offset or are gone; consumer groups' committed offsets that moved."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envctl.snapshot.compare import LIST_LIMIT, read_json, read_jsonl, short


def _message_body(message: dict[str, Any]) -> tuple[Any, ...]:
    return (
        json.dumps(message.get("key")),
        json.dumps(message.get("value")),
        json.dumps(message.get("headers")),
        message.get("timestamp"),
    )


def diff_kafka(a: Path, b: Path) -> dict[str, Any]:
    topics_a = read_json(a / "topics.json", {"topics": {}})["topics"]
    topics_b = read_json(b / "topics.json", {"topics": {}})["topics"]
    topics: dict[str, Any] = {}
    for topic in sorted(set(topics_a) | set(topics_b)):
        messages_b = read_jsonl(b / "messages" / f"{topic}.jsonl")
        if topic not in topics_a:
            topics[topic] = {
                "status": "added",
                "messages": sum(p["end"] - p["start"] for p in topics_b[topic]["offsets"].values()),
                "new": messages_b[:LIST_LIMIT],
            }
            continue
        if topic not in topics_b:
            topics[topic] = {"status": "removed"}
            continue
        messages_a = read_jsonl(a / "messages" / f"{topic}.jsonl")
        by_offset_a = {(m["partition"], m["offset"]): m for m in messages_a}
        by_offset_b = {(m["partition"], m["offset"]): m for m in messages_b}
        offsets_a, offsets_b = topics_a[topic]["offsets"], topics_b[topic]["offsets"]
        partitions: dict[str, Any] = {}
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        gone = 0
        for partition in sorted(set(offsets_a) | set(offsets_b), key=int):
            pa = offsets_a.get(partition, {"start": 0, "end": 0})
            pb = offsets_b.get(partition, {"start": 0, "end": 0})
            number = int(partition)
            fresh = [
                m for (p, o), m in sorted(by_offset_b.items()) if p == number and o >= pa["end"]
            ]
            moved = [
                {"partition": number, "offset": o, "before": ma, "after": by_offset_b[(p, o)]}
                for (p, o), ma in sorted(by_offset_a.items())
                if p == number
                and (p, o) in by_offset_b
                and _message_body(ma) != _message_body(by_offset_b[(p, o)])
            ]
            lost = sum(
                1 for (p, o) in by_offset_a if p == number and (o < pb["start"] or o >= pb["end"])
            )
            if pa["start"] != pb["start"] or pa["end"] != pb["end"] or moved or lost:
                partitions[partition] = {
                    "start": [pa["start"], pb["start"]],
                    "end": [pa["end"], pb["end"]],
                    "new": max(0, pb["end"] - max(pa["end"], pb["start"])),
                }
            new.extend(fresh)
            changed.extend(moved)
            gone += lost
        if partitions or changed:
            topics[topic] = {
                "status": "changed",
                "partitions": partitions,
                "new_messages": sum(p["new"] for p in partitions.values()),
                "new": new[:LIST_LIMIT],
                "changed": changed[:LIST_LIMIT],
                "changed_count": len(changed),
                "gone": gone,
            }
    groups = _diff_groups(
        read_json(a / "groups.json", {"groups": {}})["groups"],
        read_json(b / "groups.json", {"groups": {}})["groups"],
    )
    return {"changed": bool(topics or groups), "topics": topics, "groups": groups}


def _flat_offsets(info: dict[str, Any]) -> dict[str, int]:
    return {
        f"{topic}[{partition}]": offset
        for topic, parts in info.get("offsets", {}).items()
        for partition, offset in parts.items()
    }


def _diff_groups(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    groups: dict[str, Any] = {}
    for group in sorted(set(a) | set(b)):
        fa = _flat_offsets(a[group]) if group in a else {}
        fb = _flat_offsets(b[group]) if group in b else {}
        moves = {
            tp: [fa.get(tp), fb.get(tp)]
            for tp in sorted(set(fa) | set(fb))
            if fa.get(tp) != fb.get(tp)
        }
        if group not in a:
            groups[group] = {"status": "added", "offsets": moves}
        elif group not in b:
            groups[group] = {"status": "removed", "offsets": moves}
        elif moves:
            groups[group] = {"status": "changed", "offsets": moves}
    return groups


def _format_message(m: dict[str, Any]) -> str:
    return (
        f"[{m['partition']}]@{m['offset']} key={short(m.get('key'), 40)} "
        f"value={short(m.get('value'))}"
    )


def format_diff(service: dict[str, Any]) -> list[str]:
    lines = []
    for topic, info in service["topics"].items():
        if info["status"] == "added":
            lines.append(f"  topic {topic}: added, {info['messages']} messages")
            lines += [f"    + {_format_message(m)}" for m in info["new"][:10]]
            continue
        if info["status"] == "removed":
            lines.append(f"  topic {topic}: removed")
            continue
        moves = ", ".join(
            f"partition {p}: end {v['end'][0]} -> {v['end'][1]}"
            + (
                f", start {v['start'][0]} -> {v['start'][1]}"
                if v["start"][0] != v["start"][1]
                else ""
            )
            for p, v in info["partitions"].items()
        )
        lines.append(f"  topic {topic}: {info['new_messages']} new messages ({moves})")
        lines += [f"    + {_format_message(m)}" for m in info["new"][:10]]
        if info["new_messages"] > 10:
            lines.append(f"    … {info['new_messages'] - 10} more")
        for c in info["changed"][:10]:
            lines.append(
                f"    ~ {_format_message(c['before'])} -> value={short(c['after'].get('value'))}"
            )
        if info["gone"]:
            lines.append(f"    - {info['gone']} messages no longer in the log")
    for group, info in service["groups"].items():
        moves = ", ".join(f"{tp} {v[0]} -> {v[1]}" for tp, v in info["offsets"].items())
        lines.append(f"  group {group}: {info['status']}{': ' + moves if moves else ''}")
    return lines
