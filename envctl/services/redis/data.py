"""Redis data: the run's key space (a key prefix), seed keys, snapshot and restore, cleanup.

The hooks of :class:`~envctl.services.redis.RedisService` call these functions. A run's keys
all start with its key prefix (``envctl:<run>:``); scenario code and seed files use logical
keys (``user:1``) and the prefix is put in front. A prefix, not a DB index: see
:mod:`envctl.namespace`.

Snapshot file (in ``<snapshot>/<service>/``): ``keys.jsonl``, one key per line, sorted:
``{"key", "type", "ttl_ms", "expires_at_ms", "value"}`` with the value by type: string ->
text; hash -> ``[[field, value], ...]``; list -> ``[...]`` in order; set -> sorted
``[...]``; zset -> ``[[member, score], ...]``; stream -> ``[[id, [[field, value], ...]], ...]``.
Bytes that are not UTF-8 are written as ``{"base64": ...}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.errors import ServiceFailed, SnapshotError
from envctl.seed.records import read_records
from envctl.services.base import ServiceHandle, SnapshotOptions, SnapshotResult, secret
from envctl.services.redis.seed import redis_keys
from envctl.snapshot.codec import from_text_or_base64, text_or_base64

if TYPE_CHECKING:
    from envctl.services.redis.plugin import RedisService

KEYS_FILE = "keys.jsonl"
BATCH = 1000


def client(handle: ServiceHandle, timeout: float) -> Any:
    import redis

    return redis.Redis.from_url(
        str(secret(handle.endpoints, "url")),
        socket_connect_timeout=max(1.0, min(timeout, 30.0)),
        socket_timeout=max(1.0, timeout),
    )


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def run_keys(
    plugin: RedisService, handle: ServiceHandle, conn: Any, *, shared_ok: bool = False
) -> Iterator[bytes]:
    """Every key of the run's key space: a SCAN over its prefix when the prefix is the run's
    own (has ``{run}``), or, with ``shared_ok`` (reading only), any non-empty prefix; else
    the keys the run recorded. Keys are never deleted by a pattern other runs share."""
    namespace = plugin.namespace
    if namespace.owns("key_prefix") or (shared_ok and namespace.key_prefix):
        yield from conn.scan_iter(match=_glob_escape(namespace.key_prefix) + "*", count=BATCH)
    else:
        for key in handle.resources.get("keys", []):
            if conn.exists(key):
                yield key.encode()


def _under(plugin: RedisService) -> str:
    """Where the run's keys are, for messages: `` (keys under 'envctl:3f2a9c1d:')``."""
    prefix = plugin.namespace.key_prefix
    return f" (keys under '{prefix}')" if prefix else ""


def _fail(plugin: RedisService, what: str, exc: BaseException) -> ServiceFailed:
    reason = " ".join(str(exc).split())
    return ServiceFailed(plugin.context.service, f"{what}{_under(plugin)}: {reason}")


# -- seeding ------------------------------------------------------------------------------------


def seed(plugin: RedisService, handle: ServiceHandle, timeout: float) -> None:
    """Write every seed file's keys under the run's prefix, with their TTLs."""
    if not plugin.spec.seed:
        return
    import redis

    deadline = time.monotonic() + timeout
    keys = []
    for entry in plugin.spec.seed:
        path = plugin.seed_file(entry.from_)
        keys.extend(redis_keys(read_records(path, entry.from_)))
    namespace = plugin.namespace
    conn = client(handle, timeout)
    try:
        pipe = conn.pipeline(transaction=False)
        for index, key in enumerate(keys, start=1):
            name = namespace.key(key.key)
            pipe.delete(name)
            value: Any = key.value
            if key.type == "string":
                pipe.set(name, value)
            elif key.type == "hash":
                pipe.hset(name, mapping=value)
            elif key.type == "list":
                pipe.rpush(name, *value)
            elif key.type == "set":
                pipe.sadd(name, *value)
            else:
                pipe.zadd(name, value)
            if key.ttl is not None:
                pipe.pexpire(name, int(key.ttl * 1000))
            if index % BATCH == 0:
                pipe.execute()
                if time.monotonic() > deadline:
                    raise TimeoutError
        pipe.execute()
    except TimeoutError:
        raise ServiceFailed(
            plugin.context.service,
            f"seeding did not finish within {timeout:.0f}s; "
            f"raise timeout_profiles.{plugin.context.service}.seed",
        ) from None
    except redis.RedisError as exc:
        raise _fail(plugin, "seeding", exc) from None
    finally:
        conn.close()
    if not namespace.owns("key_prefix"):
        handle.resources.setdefault("keys", []).extend(namespace.key(k.key) for k in keys)
    handle.resources.setdefault("seeded", []).extend(e.from_ for e in plugin.spec.seed)


# -- snapshot and restore -----------------------------------------------------------------------


def read_key_space(
    plugin: RedisService, handle: ServiceHandle, timeout: float
) -> list[dict[str, Any]]:
    """Every key of the run with its type, value and TTL, sorted by logical key."""
    conn = client(handle, timeout)
    prefix = plugin.namespace.key_prefix
    entries: list[dict[str, Any]] = []
    try:
        names = sorted(set(run_keys(plugin, handle, conn, shared_ok=True)))
        for start in range(0, len(names), BATCH):
            batch = names[start : start + BATCH]
            pipe = conn.pipeline(transaction=False)
            for name in batch:
                pipe.type(name)
                pipe.pttl(name)
            meta = pipe.execute()
            now_ms = int(time.time() * 1000)
            pipe = conn.pipeline(transaction=False)
            kinds = []
            for i, name in enumerate(batch):
                kind = meta[2 * i].decode() if isinstance(meta[2 * i], bytes) else str(meta[2 * i])
                kinds.append(kind)
                if kind == "string":
                    pipe.get(name)
                elif kind == "hash":
                    pipe.hgetall(name)
                elif kind == "list":
                    pipe.lrange(name, 0, -1)
                elif kind == "set":
                    pipe.smembers(name)
                elif kind == "zset":
                    pipe.zrange(name, 0, -1, withscores=True)
                elif kind == "stream":
                    pipe.xrange(name)
                else:
                    pipe.exists(name)  # "none": expired meanwhile
            values = pipe.execute()
            for i, name in enumerate(batch):
                kind = kinds[i]
                if kind == "none":
                    continue
                ttl = meta[2 * i + 1]
                ttl_ms = int(ttl) if ttl is not None and int(ttl) >= 0 else None
                logical = name.decode("utf-8", "replace")[len(prefix) :]
                entries.append(
                    {
                        "key": logical,
                        "type": kind,
                        "ttl_ms": ttl_ms,
                        "expires_at_ms": now_ms + ttl_ms if ttl_ms is not None else None,
                        "value": _encode_value(kind, values[i]),
                    }
                )
    finally:
        conn.close()
    return sorted(entries, key=lambda e: e["key"])


def _encode_value(kind: str, raw: Any) -> Any:
    if kind == "string":
        return text_or_base64(raw)
    if kind == "hash":
        return sorted([[text_or_base64(f), text_or_base64(v)] for f, v in raw.items()], key=str)
    if kind == "list":
        return [text_or_base64(v) for v in raw]
    if kind == "set":
        return sorted((text_or_base64(v) for v in raw), key=str)
    if kind == "zset":
        return [[text_or_base64(m), s] for m, s in raw]
    if kind == "stream":
        return [
            [
                text_or_base64(entry_id),
                [[text_or_base64(f), text_or_base64(v)] for f, v in fields.items()],
            ]
            for entry_id, fields in raw
        ]
    return None


def snapshot(
    plugin: RedisService, handle: ServiceHandle, target: Path, options: SnapshotOptions
) -> SnapshotResult:
    import redis

    target.mkdir(parents=True, exist_ok=True)
    try:
        entries = read_key_space(plugin, handle, options.timeout)
    except redis.RedisError as exc:
        raise SnapshotError(
            f"service '{plugin.context.service}': reading keys{_under(plugin)}: {exc}"
        ) from None
    with open(target / KEYS_FILE, "w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return SnapshotResult(details={"keys": len(entries), "key_prefix": plugin.namespace.key_prefix})


def restore(plugin: RedisService, handle: ServiceHandle, source: Path, timeout: float) -> list[str]:
    """Delete the run's keys and write the snapshot's back (TTLs as they were then)."""
    import redis

    entries = []
    with open(source / KEYS_FILE, encoding="utf-8") as lines:
        entries = [json.loads(line) for line in lines if line.strip()]
    conn = client(handle, timeout)
    namespace = plugin.namespace
    try:
        _delete_keys(plugin, handle, conn)
        pipe = conn.pipeline(transaction=False)
        for index, entry in enumerate(entries, start=1):
            name = namespace.key(entry["key"])
            pipe.delete(name)
            _write_value(pipe, name, entry["type"], entry["value"])
            if entry.get("ttl_ms"):
                pipe.pexpire(name, int(entry["ttl_ms"]))
            if index % BATCH == 0:
                pipe.execute()
        pipe.execute()
    except redis.RedisError as exc:
        raise SnapshotError(
            f"service '{plugin.context.service}': restore{_under(plugin)} failed: {exc}"
        ) from None
    finally:
        conn.close()
    return []


def _write_value(pipe: Any, name: str, kind: str, value: Any) -> None:
    decode = from_text_or_base64
    if kind == "string":
        pipe.set(name, decode(value))
    elif kind == "hash":
        pipe.hset(name, mapping={decode(f): decode(v) for f, v in value})
    elif kind == "list":
        pipe.rpush(name, *[decode(v) for v in value])
    elif kind == "set":
        pipe.sadd(name, *[decode(v) for v in value])
    elif kind == "zset":
        pipe.zadd(name, {decode(m): s for m, s in value})
    elif kind == "stream":
        for entry_id, fields in value:
            pipe.xadd(name, {decode(f): decode(v) for f, v in fields}, id=decode(entry_id))


def _delete_keys(plugin: RedisService, handle: ServiceHandle, conn: Any) -> int:
    names = list(run_keys(plugin, handle, conn))
    for start in range(0, len(names), BATCH):
        conn.unlink(*names[start : start + BATCH])
    return len(names)


# -- cleanup ------------------------------------------------------------------------------------


def cleanup(
    plugin: RedisService, handle: ServiceHandle, timeout: float, kinds: Collection[str] | None
) -> None:
    import redis

    if kinds is not None and "databases" not in kinds:
        return
    conn = client(handle, timeout)
    try:
        _delete_keys(plugin, handle, conn)
    except redis.RedisError as exc:
        raise _fail(plugin, "cannot delete the run's keys", exc) from None
    finally:
        conn.close()
