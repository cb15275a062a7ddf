"""Executing steps: each kind is one function ``(body, run) -> outputs``.

A step raises :class:`StepFailed` when it sees something other than what it expected, and
any :class:`~envctl.errors.EnvctlError` (e.g. a tool's ``PublishFailed``) when the operation
itself failed; the runner turns both into the step's record and stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import json
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from envctl.errors import ConfigError
from envctl.runner.context import RunContext, ServiceUnavailable
from envctl.runner.outcome import StepFailed
from envctl.scenario.steps import (
    CallStep,
    ConsumeStep,
    ExecStep,
    ExpectMessageStep,
    ExpectRecoveryStep,
    FaultStep,
    HttpStep,
    NoMessageLostStep,
    PublishStep,
    RedisStep,
    SleepStep,
    SqlStep,
    StepBody,
)

StepFunction = Callable[[Any, RunContext], dict[str, Any]]

_READ_PREFIXES = ("select", "with", "values", "table", "show", "explain", "pragma")


def message_dict(message: Any) -> dict[str, Any]:
    """A consumed message as plain data (for matching, outputs and the audit log)."""
    key = message.key
    if isinstance(key, bytes):
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            key = repr(key)
    value = message.value
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = repr(value)
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "key": key,
        "value": value,
        "headers": dict(message.headers),
    }


def same(expected: Any, actual: Any) -> bool:
    """Equality that forgives YAML's typing of scalars: ``"1"`` matches ``1``."""
    if expected == actual:
        return True
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return set(expected) == set(actual) and all(
            same(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list) and isinstance(actual, list | tuple):
        return len(expected) == len(actual) and all(
            same(e, a) for e, a in zip(expected, actual, strict=False)
        )
    scalars = str | int | float | bool
    if isinstance(expected, scalars) and isinstance(actual, scalars):
        return _scalar_text(expected) == _scalar_text(actual)
    return False


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def field_of(message: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    """``value.order.id`` / ``headers.trace`` / ``key`` of a message dict: (found, value)."""
    head, _, rest = path.partition(".")
    if head not in message:
        return False, None
    current: Any = message[head]
    if not rest:
        return True, current
    for part in rest.split("."):
        if isinstance(current, str) and head == "value":
            try:
                current = json.loads(current)
            except ValueError:
                return False, None
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def matches(message: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    for path, expected in match.items():
        found, actual = field_of(message, path)
        if not found or not same(expected, actual):
            return False
    return True


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- event bus -------------------------------------------------------------------------------


def publish(body: PublishStep, run: RunContext) -> dict[str, Any]:
    bus = run.tool(run.service_of(body))
    headers = {k: _scalar_text(v) for k, v in body.headers.items()}
    key = None if body.key is None else _scalar_text(body.key)
    delivery = bus.publish(body.topic, body.value, key=key, headers=headers or None)
    run.published.append(
        {
            "service": run.service_of(body),
            "topic": body.topic,
            "partition": delivery.partition,
            "offset": delivery.offset,
            "correlation_id": delivery.correlation_id,
        }
    )
    return {
        "topic": delivery.topic,
        "partition": delivery.partition,
        "offset": delivery.offset,
        "correlation_id": delivery.correlation_id,
        "key": key,
    }


def _read_all(bus: Any, topic: str, have: int, timeout: float) -> list[dict[str, Any]]:
    """The topic's messages from its beginning: one more than ``have`` if one arrives."""
    return [message_dict(m) for m in bus.consume(topic, count=have + 1, timeout=timeout)]


def expect_message(body: ExpectMessageStep, run: RunContext) -> dict[str, Any]:
    service = run.service_of(body)
    bus = run.tool(service)
    deadline = time.monotonic() + body.within
    seen: list[dict[str, Any]] = []
    while True:
        remaining = deadline - time.monotonic()
        batch = _read_all(bus, body.topic, len(seen), max(0.05, min(remaining, 1.0)))
        if len(batch) > len(seen):
            seen = batch
        found = [m for m in seen if matches(m, body.match)]
        if len(found) >= body.count:
            first = found[0]
            return {**first, "matched": len(found)}
        if time.monotonic() >= deadline:
            break
    match_text = _short(body.match)
    what = (
        f"{body.count} message(s) matching {match_text}"
        if body.count > 1
        else (f"a message matching {match_text}")
    )
    if not seen:
        observed = "no message at all"
    else:
        shown = ", ".join(_short({"key": m["key"], "value": m["value"]}, 120) for m in seen[-3:])
        observed = f"{len(seen)} message(s), none matching (last: {shown})"
    raise StepFailed(
        f"{what} within {body.within:g}s",
        observed,
        f"service '{service}', topic {run.shown_topic(service, body.topic)}",
    )


def consume(body: ConsumeStep, run: RunContext) -> dict[str, Any]:
    service = run.service_of(body)
    bus = run.tool(service)
    messages = [
        message_dict(m) for m in bus.consume(body.topic, count=body.count, timeout=body.within)
    ]
    if len(messages) < body.count:
        raise StepFailed(
            f"{body.count} message(s) within {body.within:g}s",
            f"{len(messages)}",
            f"service '{service}', topic {run.shown_topic(service, body.topic)}",
        )
    return {"count": len(messages), "messages": messages}


# -- stores ----------------------------------------------------------------------------------


def _is_read(query: str) -> bool:
    text = re.sub(r"^\s*(--[^\n]*\n\s*)*", "", query).lower()
    return text.startswith(_READ_PREFIXES) or re.search(r"\breturning\b", text) is not None


def sql(body: SqlStep, run: RunContext) -> dict[str, Any]:
    service = run.service_of(body)
    store = run.tool(service)
    params = body.params
    if _is_read(body.query):
        rows = store.query(body.query, params)
        outputs: dict[str, Any] = {"rows": rows, "rowcount": len(rows)}
    else:
        count = store.execute(body.query, params)
        rows = []
        outputs = {"rows": [], "rowcount": count}
    where = f"service '{service}', query {_short(' '.join(body.query.split()), 120)}"
    if body.expect_rows is not None and outputs["rowcount"] != body.expect_rows:
        raise StepFailed(
            f"{body.expect_rows} row(s)", f"{outputs['rowcount']}: {_short(rows)}", where
        )
    if body.expect is not None:
        actual = [_row_like(row, want) for row, want in zip(rows, body.expect, strict=False)]
        if len(rows) != len(body.expect) or not all(
            same(w, a) for w, a in zip(body.expect, actual, strict=False)
        ):
            raise StepFailed(f"rows {_short(body.expect)}", f"rows {_short(rows)}", where)
    return outputs


def _row_like(row: Mapping[str, Any], want: Any) -> Any:
    """A row shaped like the expectation: a list of values, or only the expected columns."""
    if isinstance(want, list):
        return list(row.values())
    if isinstance(want, Mapping):
        return {k: row[k] for k in want if k in row} if set(want) <= set(row) else dict(row)
    return row


_KV_COMMANDS = "GET, SET [EX s|PX ms], DEL, EXISTS, KEYS, HGETALL, HSET, HGET"


def redis_command(store: Any, command: list[Any]) -> Any:
    """A Redis command through the KeyValueStore protocol, so real and mock agree."""
    name = str(command[0]).upper()
    args = [_scalar_text(a) if not isinstance(a, str) else a for a in command[1:]]
    if name == "GET" and len(args) == 1:
        return store.get(args[0])
    if name == "SET" and len(args) in (2, 4):
        ttl: float | None = None
        if len(args) == 4:
            unit = args[2].upper()
            if unit not in ("EX", "PX"):
                raise ConfigError(f"redis SET supports EX or PX, not {args[2]}")
            ttl = float(args[3]) / (1000 if unit == "PX" else 1)
        store.set(args[0], args[1], ttl=ttl)
        return "OK"
    if name == "DEL" and args:
        return store.delete(*args)
    if name == "EXISTS" and args:
        return sum(store.get(k) is not None or bool(store.keys(k)) for k in args)
    if name == "KEYS" and len(args) <= 1:
        return store.keys(args[0] if args else "*")
    if name == "HGETALL" and len(args) == 1:
        return store.hgetall(args[0])
    if name == "HGET" and len(args) == 2:
        return store.hgetall(args[0]).get(args[1])
    if name == "HSET" and len(args) >= 3 and len(args) % 2 == 1:
        pairs = dict(zip(args[1::2], args[2::2], strict=False))
        return store.hset(args[0], pairs)
    raise ConfigError(
        f"redis command {' '.join(map(str, command))!r} is not supported "
        f"(supported, the same in real and mock mode: {_KV_COMMANDS})"
    )


def redis(body: RedisStep, run: RunContext) -> dict[str, Any]:
    service = run.service_of(body)
    result = redis_command(run.tool(service), body.command)
    if body.has_expect and not same(body.expect, result):
        raise StepFailed(
            _short(body.expect),
            _short(result),
            f"service '{service}', command {' '.join(map(str, body.command))}",
        )
    return {"result": result}


# -- containers ------------------------------------------------------------------------------


def http(body: HttpStep, run: RunContext) -> dict[str, Any]:
    import http.client

    endpoints = run.endpoints.get(body.service, {})
    ports: Mapping[str, int] = endpoints.get("ports", {})
    if body.port is not None:
        host_port = ports.get(str(body.port))
        if host_port is None:
            raise StepFailed(
                f"container port {body.port} published",
                f"published: {', '.join(ports) or 'none'}",
                f"service '{body.service}'",
            )
    elif endpoints.get("url"):
        host_port = int(str(endpoints["url"]).rsplit(":", 1)[-1].split("/")[0])
    elif len(ports) == 1:
        host_port = next(iter(ports.values()))
    else:
        raise ConfigError(
            f"http step: service '{body.service}' publishes {len(ports)} ports; "
            "choose one with port:"
        )
    host = str(endpoints.get("host", "127.0.0.1"))
    payload: bytes | None = None
    headers = dict(body.headers)
    if body.body is not None:
        if isinstance(body.body, str):
            payload = body.body.encode()
        else:
            payload = json.dumps(body.body).encode()
            headers.setdefault("Content-Type", "application/json")
    where = f"service '{body.service}', {body.method} http://{host}:{host_port}{body.path}"
    conn = http.client.HTTPConnection(host, host_port, timeout=body.timeout)
    try:
        conn.request(body.method.upper(), body.path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        status = response.status
    except OSError as exc:
        raise StepFailed(
            f"an HTTP answer (status {body.expect_status})", f"no answer: {exc}", where
        ) from None
    finally:
        conn.close()
    text = raw.decode("utf-8", "replace")
    parsed: Any = text
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
    if body.expect_status is not None and status != body.expect_status:
        raise StepFailed(f"status {body.expect_status}", f"status {status}: {text[:200]}", where)
    if body.has_expect_body:
        want = body.expect_body
        ok = same(want, parsed) or (isinstance(want, str) and want in text)
        if not ok:
            raise StepFailed(f"body {_short(want)}", f"body {text[:300]!r}", where)
    return {"status": status, "body": parsed}


def exec_(body: ExecStep, run: RunContext) -> dict[str, Any]:
    container = run.container(body.service)
    command = ["sh", "-c", body.command] if isinstance(body.command, str) else body.command
    result = container.exec(command)
    where = f"service '{body.service}', command {_short(command, 120)}"
    output = result.output
    if body.expect_exit is not None and result.exit_code != body.expect_exit:
        raise StepFailed(
            f"exit code {body.expect_exit}", f"{result.exit_code}: {output[-300:]!r}", where
        )
    if body.expect_output is not None:
        wanted = body.expect_output
        ok = (
            re.search(wanted[3:], output) is not None
            if wanted.startswith("re:")
            else wanted in output
        )
        if not ok:
            raise StepFailed(f"output containing {wanted!r}", f"{output[-300:]!r}", where)
    return {"exit_code": result.exit_code, "output": output}


# -- the rest --------------------------------------------------------------------------------


def sleep(body: SleepStep, run: RunContext) -> dict[str, Any]:
    time.sleep(body.seconds)
    return {}


_IMPORT_LOCK = threading.Lock()


def load_function(spec: str, search: list[str]) -> Callable[..., Any]:
    """``module:function``, importable from the scenario's folder or the working directory."""
    module_name, _, func_name = spec.partition(":")
    with _IMPORT_LOCK:
        for folder in search:
            if folder not in sys.path:
                sys.path.insert(0, folder)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"call: cannot import '{module_name}': {exc}") from None
    function = getattr(module, func_name, None)
    if not callable(function):
        raise ConfigError(f"call: '{module_name}' has no function '{func_name}'")
    return function


def call(body: CallStep, run: RunContext) -> dict[str, Any]:
    function = load_function(body.function, run.import_paths)
    if inspect.iscoroutinefunction(function):
        result = _run_coroutine(function, run, body)
    else:
        result = _run_bounded(lambda: function(run, **body.args), body)
        if inspect.isawaitable(result):
            result = _run_coroutine(lambda *_a, **_k: result, run, body)
    if result is None:
        return {}
    if isinstance(result, Mapping):
        return dict(result)
    return {"result": result}


def _run_coroutine(function: Callable[..., Any], run: RunContext, body: CallStep) -> Any:
    """Run an async step function in its own event loop (a thread, so a caller's loop is safe)."""
    box: dict[str, Any] = {}

    def target() -> None:
        async def main() -> Any:
            return await asyncio.wait_for(function(run, **body.args), timeout=body.timeout)

        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    return _in_thread(target, box, body, CALL_GRACE)


def _run_bounded(function: Callable[[], Any], body: CallStep) -> Any:
    """Run a sync step function, bounded by the step's ``timeout``: one that is still
    running then fails the step (Python cannot stop a thread: it is left to finish on its
    own, as a daemon thread that does not keep envctl from exiting)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = function()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    return _in_thread(target, box, body, 0.0)


CALL_GRACE = 2.0
"""Seconds beyond a ``call`` step's timeout for its thread to report (an async function
that blocks its own event loop cannot be cancelled by ``wait_for``)."""


def _in_thread(
    target: Callable[[], None], box: dict[str, Any], body: CallStep, grace: float
) -> Any:
    thread = threading.Thread(target=target, name=f"envctl-call-{body.function}", daemon=True)
    thread.start()
    thread.join(body.timeout + grace)
    if thread.is_alive() or isinstance(box.get("error"), TimeoutError):
        raise StepFailed(
            f"{body.function} to finish within {body.timeout:g}s (call.timeout)", "still running"
        ) from None
    if "error" in box:
        raise box["error"]
    return box.get("value")


# -- faults ----------------------------------------------------------------------------------


def _faults(run: RunContext) -> Any:
    if run.faults is None:
        raise ServiceUnavailable("this run has no fault support (no faults were planned)")
    return run.faults


def fault(body: FaultStep, run: RunContext) -> dict[str, Any]:
    label = f"step '{body.id}'" if body.id else "a fault step"
    return dict(_faults(run).fault_step(body, label))


def expect_recovery(body: ExpectRecoveryStep, run: RunContext) -> dict[str, Any]:
    if run.faults is None:
        raise ServiceUnavailable("expect_recovery: this run has no faults")
    result: dict[str, Any] = run.faults.recover(body.service, body.within)
    return result


def no_message_lost(body: NoMessageLostStep, run: RunContext) -> dict[str, Any]:
    """Every message published to the topic is there exactly once, in order per partition.

    Messages are told apart by their ``correlation_id`` header (every message the event bus
    publishes has one): a duplicate is one id read twice, a loss one published (by a step
    of this run) and never read back; seeded messages count for duplicates and order."""
    service = run.service_of(body)
    bus = run.tool(service)
    published = [p for p in run.published if p["service"] == service and p["topic"] == body.topic]
    wanted = {p["correlation_id"] for p in published}
    deadline = time.monotonic() + body.within
    messages: list[dict[str, Any]] = []
    while True:
        remaining = deadline - time.monotonic()
        batch = _read_all(bus, body.topic, len(messages), max(0.05, min(remaining, 1.0)))
        if len(batch) > len(messages):
            messages = batch
        seen = {m["headers"].get("correlation_id") for m in messages}
        if wanted <= seen or time.monotonic() >= deadline:
            break
    where = f"service '{service}', topic {run.shown_topic(service, body.topic)}"
    counts: dict[str, int] = {}
    for message in messages:
        cid = message["headers"].get("correlation_id")
        if cid:
            counts[cid] = counts.get(cid, 0) + 1
    lost = [p for p in published if p["correlation_id"] not in counts]
    duplicated = sorted(cid for cid, n in counts.items() if n > 1)
    if lost or duplicated:
        parts = []
        if lost:
            parts.append(f"{len(lost)} of {len(published)} published message(s) lost")
        if duplicated:
            parts.append(f"{len(duplicated)} message(s) read more than once")
        raise StepFailed(
            "every published message exactly once",
            "; ".join(parts) + f" ({len(messages)} read)",
            where,
        )
    # publish order within each partition: offsets of the steps' messages increase
    position = {m["headers"].get("correlation_id"): (m["partition"], m["offset"]) for m in messages}
    last: dict[int, int] = {}
    for p in published:
        partition, offset = position[p["correlation_id"]]
        if partition in last and offset <= last[partition]:
            raise StepFailed(
                "messages in publish order within each partition",
                f"partition {partition}: offset {offset} after {last[partition]}",
                where,
            )
        last[partition] = offset
    return {"read": len(messages), "published": len(published), "lost": 0, "duplicated": 0}


EXECUTORS: dict[str, Callable[[Any, RunContext], dict[str, Any]]] = {
    "publish": publish,
    "expect_message": expect_message,
    "consume": consume,
    "sql": sql,
    "redis": redis,
    "http": http,
    "exec": exec_,
    "sleep": sleep,
    "call": call,
    "fault": fault,
    "expect_recovery": expect_recovery,
    "no_message_lost": no_message_lost,
}


def execute(kind: str, body: StepBody, run: RunContext) -> dict[str, Any]:
    return EXECUTORS[kind](body, run)
