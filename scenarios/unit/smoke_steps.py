"""Python steps of the unit scenarios (``call: {function: "smoke_steps:NAME"}``).

Each receives the run's context (``ctx.tool(service)``, ``ctx.endpoints``, ``ctx.run_id``,
``ctx.log``) and keyword ``args``; a returned mapping becomes the step's outputs.
"""

from __future__ import annotations

from typing import Any


def count_orders(ctx: Any, table: str) -> dict[str, Any]:
    rows = ctx.tool("postgres").query(f"SELECT count(*) AS n FROM {table}")
    ctx.log.info("run %s: %s rows in %s", ctx.run_id, rows[0]["n"], table)
    return {"rows": rows[0]["n"]}


def route_invalid(ctx: Any, source: str, dead_letters: str) -> dict[str, Any]:
    """A tiny consumer: valid orders are stored, invalid ones go to the dead-letter topic."""
    bus = ctx.tool("kafka")
    store = ctx.tool("postgres")
    routed = stored = 0
    for message in bus.consume(source, count=10, timeout=1.0, to_end=True):
        order = message.value
        if not isinstance(order, dict) or not isinstance(order.get("amount"), int):
            bus.publish(
                dead_letters,
                {"original": order, "error": "amount must be an integer"},
                key=message.key,
            )
            routed += 1
            continue
        store.execute(
            "INSERT INTO orders (id, amount) VALUES (%s, %s)", [order["id"], order["amount"]]
        )
        stored += 1
    return {"routed": routed, "stored": stored}


async def async_ping(ctx: Any, key: str) -> dict[str, Any]:
    """An async step: the async face of the key-value store."""
    store = ctx.tool("redis").aio
    await store.set(key, "pong")
    return {"value": await store.get(key)}
