"""The application logic of the order scenarios, as Python steps (``call:``).

``handle_orders`` is the consumer an order service would run: it reads new orders from
Kafka, stores them in PostgreSQL, caches their status in Redis and publishes a confirmation.
It only talks to the tools, so it runs unchanged against real services and mocks.
"""

from __future__ import annotations

import time
from typing import Any


def handle_orders(ctx: Any, source: str, confirmed: str, count: int = 1) -> dict[str, Any]:
    bus = ctx.tool("kafka")
    store = ctx.tool("postgres")
    cache = ctx.tool("redis")
    handled = []
    for message in bus.consume(source, count=count, timeout=10.0):
        order = message.value
        store.execute(
            "INSERT INTO orders (id, status, amount) VALUES (%s, %s, %s)",
            [order["id"], "confirmed", order["amount"]],
        )
        cache.set(f"order:{order['id']}", "confirmed", ttl=600)
        bus.publish(
            confirmed,
            {"id": order["id"], "status": "confirmed"},
            key=str(order["id"]),
            headers={"correlation_id": message.correlation_id or ""},
        )
        handled.append(order["id"])
    ctx.log.info("run %s handled orders %s", ctx.run_id, handled)
    return {"handled": handled, "count": len(handled)}


def throughput(ctx: Any, topic: str, messages: int, rows: int, keys: int) -> dict[str, Any]:
    """Publish, consume, insert and set in bulk; return the rates (per second)."""
    bus = ctx.tool("kafka")
    store = ctx.tool("postgres")
    cache = ctx.tool("redis")
    result: dict[str, Any] = {}

    t0 = time.perf_counter()
    for i in range(messages):
        bus.publish(topic, {"n": i, "payload": "x" * 100}, key=str(i % 16))
    result["publish_per_s"] = round(messages / (time.perf_counter() - t0), 1)

    t0 = time.perf_counter()
    got = bus.consume(topic, count=messages, timeout=60.0)
    result["consume_per_s"] = round(len(got) / (time.perf_counter() - t0), 1)
    result["consumed"] = len(got)

    store.execute("CREATE TABLE perf (id INTEGER PRIMARY KEY, body TEXT)")
    t0 = time.perf_counter()
    for i in range(rows):
        store.execute("INSERT INTO perf (id, body) VALUES (%s, %s)", [i, "row"])
    result["insert_per_s"] = round(rows / (time.perf_counter() - t0), 1)

    t0 = time.perf_counter()
    for i in range(keys):
        cache.set(f"perf:{i}", i)
    result["set_per_s"] = round(keys / (time.perf_counter() - t0), 1)
    ctx.log.info("throughput: %s", result)
    return result
