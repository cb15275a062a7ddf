"""Issue 10 §4: failures name topics and keys by their scenario (logical) name in both modes,
with the physical name beside it on a real service (``'orders' (envctl.r1.orders)``).

The in-memory doubles stand in for the real services here: behind the namespace proxy they
hold physical names, as a broker and a Redis of a real run do.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from envctl.namespace import Namespace, shown
from envctl.runner.context import RunContext
from envctl.runner.expectations import check_expectations
from envctl.runner.outcome import StepFailed
from envctl.runner.steps import consume, expect_message, publish
from envctl.scenario.models import Scenario
from envctl.scenario.steps import ConsumeStep, Expected, ExpectMessageStep, PublishStep
from envctl.tools import InMemoryEventBus
from envctl.tools.errors import UnknownTopic
from envctl.tools.mock import InMemoryKeyValueStore
from envctl.tools.naming import NamespacedEventBus, NamespacedKeyValueStore

NS = Namespace("r1", "t")
SCENARIO = Scenario.model_validate(
    {
        "name": "t",
        "external_services": {
            "kafka": {"type": "kafka", "topics": ["orders"]},
            "cache": {"type": "redis"},
        },
    }
)


def _context(mode: str) -> RunContext:
    scope = uuid.uuid4().hex
    real = mode == "real"
    topic = NS.topic("orders") if real else "orders"
    bus: Any = InMemoryEventBus(namespace=scope, topics={topic: 1})
    store: Any = InMemoryKeyValueStore(namespace=scope)
    if real:
        bus, store = NamespacedEventBus(bus, NS), NamespacedKeyValueStore(store, NS)
    return RunContext(
        run_id="r1",
        scenario=SCENARIO,
        tools={"kafka": bus, "cache": store},
        endpoints={},
        modes={"kafka": mode, "cache": mode},
        names=NS if real else None,
    )


SHOWN = {"real": "'orders' (envctl.r1.orders)", "mock": "'orders'"}


def test_shown_puts_the_physical_name_beside_the_logical_one() -> None:
    assert shown("orders") == "'orders'"
    assert shown("orders", "orders") == "'orders'"
    assert NS.shown_topic("orders") == "'orders' (envctl.r1.orders)"
    assert NS.shown_database("db") == "'db' (envctl_r1_db)"
    assert NS.shown_key("user:1") == "'user:1' (envctl:r1:user:1)"
    assert NS.shown_physical_topic("envctl.r1.orders") == "'orders' (envctl.r1.orders)"
    assert NS.shown_physical_topic("someone.elses") == "'someone.elses'"


@pytest.mark.parametrize("mode", ["real", "mock"])
def test_expect_message_and_consume_timeouts_name_the_topic(mode: str) -> None:
    ctx = _context(mode)
    body = ExpectMessageStep(service="kafka", topic="orders", match={"key": "1"}, within=0.05)
    with pytest.raises(StepFailed) as failed:
        expect_message(body, ctx)
    assert f"service 'kafka', topic {SHOWN[mode]}:" in str(failed.value)
    with pytest.raises(StepFailed) as failed:
        consume(ConsumeStep(service="kafka", topic="orders", count=1, within=0.05), ctx)
    assert f"service 'kafka', topic {SHOWN[mode]}:" in str(failed.value)


@pytest.mark.parametrize("mode", ["real", "mock"])
def test_a_publish_to_an_unknown_topic_names_it_logically(mode: str) -> None:
    ctx = _context(mode)
    with pytest.raises(UnknownTopic) as failed:
        publish(PublishStep(service="kafka", topic="nothere", value=1), ctx)
    expected = "'nothere' (envctl.r1.nothere)" if mode == "real" else "'nothere'"
    assert str(failed.value).startswith(f"topic {expected} does not exist")
    assert failed.value.topic == "nothere"  # as a mock's error has it


def test_the_async_face_names_the_topic_logically_too() -> None:
    bus = _context("real").tool("kafka")

    async def main() -> None:
        await bus.aio.publish("nothere", 1)

    with pytest.raises(UnknownTopic, match=r"topic 'nothere' \(envctl\.r1\.nothere\) does"):
        asyncio.run(main())


@pytest.mark.parametrize("mode", ["real", "mock"])
def test_failed_expectations_name_topics_and_keys(mode: str) -> None:
    ctx = _context(mode)
    expected = Expected.model_validate(
        {"messages": {"orders": 1}, "keys": {"user:1": {"exists": True}}, "within": 0.1}
    )
    records = check_expectations(SCENARIO, [expected], ctx)
    errors = [r["error"] for r in records]
    assert errors[0].startswith(f"service 'kafka', topic {SHOWN[mode]}: expected exactly 1")
    key = "'user:1' (envctl:r1:user:1)" if mode == "real" else "'user:1'"
    assert errors[1].startswith(f"service 'cache', key {key}: expected present")
