"""``expected:``: final assertions over the services' state after the last step.

``messages`` counts a topic's messages (read from its beginning), ``rows`` counts a table's
rows (optionally ``where``), ``keys`` checks Redis keys. Each check is one record
``{what, status, expected, seen, where, error?}``; all are checked, not only the first.
"""

from __future__ import annotations

from typing import Any

from envctl.errors import EnvctlError
from envctl.runner.context import RunContext
from envctl.runner.steps import same
from envctl.scenario.models import Scenario
from envctl.scenario.plan import expected_service
from envctl.scenario.spec import DependencyMode
from envctl.scenario.steps import CountSpec, Expected, KeySpec

MAX_COUNTED = 100_000


def _record(what: str, ok: bool, expected: str, seen: str, where: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "what": what,
        "status": "passed" if ok else "failed",
        "expected": expected,
        "seen": seen,
        "where": where,
    }
    if not ok:
        record["error"] = f"{where}: expected {expected}; seen {seen}"
    return record


def check_expectations(
    scenario: Scenario, items: list[Expected], ctx: RunContext
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for item in items:
        if item.messages:
            service = expected_service(scenario, item, "event_bus")
            bus = ctx.tool(service)
            real = ctx.modes.get(service) == DependencyMode.REAL
            settle = item.settle if real else 0.0
            within = item.within if real else min(item.within, 0.2)
            for topic, count in item.messages.items():
                where = f"service '{service}', topic {ctx.shown_topic(service, topic)}"
                what = f"messages on '{topic}': {count.describe()}"
                try:
                    found = _count_messages(bus, topic, count, settle, within)
                except EnvctlError as exc:
                    results.append(_record(what, False, count.describe(), str(exc), where))
                    continue
                results.append(
                    _record(what, count.accepts(found), count.describe(), str(found), where)
                )
        if item.rows:
            service = expected_service(scenario, item, "sql")
            store = ctx.tool(service)
            for table, count in item.rows.items():
                sql = f"SELECT count(*) AS n FROM {table}"
                if count.where:
                    sql += f" WHERE {count.where}"
                where = f"service '{service}', table '{table}'"
                what = f"rows in '{table}'" + (f" where {count.where}" if count.where else "")
                what += f": {count.describe()}"
                try:
                    rows = store.query(sql)
                    found = int(next(iter(rows[0].values()))) if rows else 0
                except EnvctlError as exc:
                    results.append(_record(what, False, count.describe(), str(exc), where))
                    continue
                results.append(
                    _record(what, count.accepts(found), count.describe(), str(found), where)
                )
        if item.keys:
            service = expected_service(scenario, item, "key_value")
            store = ctx.tool(service)
            for key, spec in item.keys.items():
                where = f"service '{service}', key {ctx.shown_key(service, key)}"
                results.append(_check_key(store, key, spec, where))
    return results


def _count_messages(bus: Any, topic: str, count: CountSpec, settle: float, within: float) -> int:
    """How many messages the topic holds, as far as ``count`` needs to know.

    First wait (up to ``within``) for the lower bound: this returns the moment the messages
    are there. Then, when there is an upper bound, read every partition to its end (what the
    topic holds now) and count; ``settle`` > 0 additionally waits that long for one message
    more than the bound allows (an application that may still be publishing).
    """
    lower = count.equals if count.equals is not None else (count.at_least or 0)
    upper = count.equals if count.equals is not None else count.at_most
    found = 0
    if lower > 0:
        found = len(bus.consume(topic, count=min(lower, MAX_COUNTED), timeout=within))
        if found < lower:
            return found
    if upper is not None:
        limit = min(upper + 1, MAX_COUNTED)
        if settle > 0:
            again = bus.consume(topic, count=limit, timeout=settle)
        else:
            again = bus.consume(topic, count=limit, timeout=within, to_end=True)
        found = max(found, len(again))
    return found


def _check_key(store: Any, key: str, spec: KeySpec, where: str) -> dict[str, Any]:
    try:
        exists = bool(store.keys(_glob_escape(key)))
        value = store.get(key) if exists and spec.exists is None else None
    except EnvctlError as exc:
        return _record(f"key '{key}'", False, "readable", str(exc), where)
    if spec.exists is not None:
        wanted = "present" if spec.exists else "absent"
        seen = "present" if exists else "absent"
        return _record(f"key '{key}' {wanted}", exists == spec.exists, wanted, seen, where)
    shown = repr(value) if exists else "absent"
    ok = exists and same(spec.value, value)
    return _record(f"key '{key}' = {spec.value!r}", ok, repr(spec.value), shown, where)


def _glob_escape(key: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in key)
