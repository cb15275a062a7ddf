"""A run's namespace: logical -> physical names, back again, and what a run may remove."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envctl.namespace import Namespace
from envctl.scenario.models import Scenario
from envctl.scenario.spec import NamingTemplates


def test_default_names_carry_the_run_id() -> None:
    ns = Namespace("3f2a9c1d", "orders_flow")
    assert ns.topic("orders") == "envctl.3f2a9c1d.orders"
    assert ns.group("billing") == "envctl.3f2a9c1d.billing"
    assert ns.database("envctl") == "envctl_3f2a9c1d_envctl"
    assert ns.key_prefix == "envctl:3f2a9c1d:"
    assert ns.key("user:1") == "envctl:3f2a9c1d:user:1"


def test_scenario_templates_are_used() -> None:
    scenario = Scenario.model_validate(
        {
            "name": "flow",
            "naming": {"topic": "{name}", "database": "{scenario}_{run}_{name}"},
        }
    )
    ns = Namespace.for_run(scenario, "r1")
    assert ns.topic("orders") == "orders"
    assert ns.group("g") == "envctl.r1.g"  # untouched templates keep their default
    assert ns.database("db") == "flow_r1_db"


def test_physical_names_map_back_to_logical_ones() -> None:
    ns = Namespace("r1", "s")
    assert ns.logical_topic("envctl.r1.orders.dlq") == "orders.dlq"
    assert ns.logical_topic("envctl.r2.orders") is None
    assert ns.logical_group("envctl.r1.billing") == "billing"
    assert ns.logical_database("envctl_r1_reports") == "reports"
    assert ns.logical_key("envctl:r1:user:1") == "user:1"
    assert ns.logical_key("other:user:1") is None


def test_only_templates_with_the_run_id_own_what_matches() -> None:
    ns = Namespace("r1", "s")
    assert ns.owns_topic("envctl.r1.orders")
    assert not ns.owns_topic("envctl.r2.orders")
    assert not ns.owns_topic("orders")
    shared = Namespace("r1", "s", NamingTemplates(topic="{name}", key_prefix="app:"))
    assert shared.logical_topic("orders") == "orders"
    assert not shared.owns("topic")
    assert not shared.owns_topic("orders")  # a name other runs share is never removed by pattern
    assert not shared.owns("key_prefix")


def test_a_database_name_longer_than_postgres_allows_is_an_error() -> None:
    with pytest.raises(ValueError, match="longer than PostgreSQL's 63 bytes"):
        Namespace("r1", "s").database("x" * 60)


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"topic": "orders"}, "must contain {name}"),
        ({"topic": "{nam}"}, "unknown placeholder '{nam}'"),
        ({"group": "{name!r}"}, "unknown placeholder"),
        ({"topic": "{name.upper}"}, "unknown placeholder"),
        ({"topic": "my topic {name}"}, "Kafka names may contain"),
        ({"key_prefix": "{name}:"}, "cannot contain {name}"),
        ({"database": "{run}"}, "must contain {name}"),
    ],
)
def test_bad_templates_are_rejected(templates: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NamingTemplates(**templates)


def test_namespace_to_dict_names_templates_and_prefix() -> None:
    data = Namespace("r1", "s").to_dict()
    assert data["key_prefix"] == "envctl:r1:"
    assert data["templates"]["topic"] == "envctl.{run}.{name}"


def test_messages_show_the_logical_name_with_the_physical_one_beside() -> None:
    """Issue 10 §4: errors name topics and databases as the scenario does."""
    from envctl.errors import SeedRejected
    from envctl.namespace import shown

    ns = Namespace("r1", "s")
    assert ns.shown_topic("orders") == "'orders' (envctl.r1.orders)"
    assert ns.shown_group("billing") == "'billing' (envctl.r1.billing)"
    text = "topics 'envctl.r1.orders', 'envctl.r2.other' not visible; 'localhost:9092' asked"
    assert ns.shown_topics_in(text) == (
        "topics 'orders' (envctl.r1.orders), 'envctl.r2.other' not visible; 'localhost:9092' asked"
    )
    assert ns.shown_topics_in(ns.shown_topics_in(text)) == ns.shown_topics_in(text)
    shared = Namespace.for_run(
        Scenario.model_validate({"name": "s", "naming": {"topic": "{name}"}}), "r1"
    )
    assert shared.shown_topic("orders") == "'orders'"  # physical = logical: said once
    assert shared.shown_topics_in("topic 'orders' failed") == "topic 'orders' failed"
    rejected = SeedRejected("data/t.sql", 3, "db", "syntax error")
    into = rejected.into(f"database {shown('envctl', 'envctl_r1_envctl')}")
    assert str(into) == (
        "data/t.sql:3: service 'db' rejected the seed into database 'envctl' "
        "(envctl_r1_envctl): syntax error"
    )
