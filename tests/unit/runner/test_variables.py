"""Run-time variables: ${run.id}, ${services.*}, ${steps.*}."""

from __future__ import annotations

import pytest

from envctl.variables import UnknownVariable, dotted_fields, lookup, substitute

SCOPE = {
    "run": {"id": "abc123"},
    "services": {"kafka": {"bootstrap_servers": "127.0.0.1:9092", "port": 9092}},
    "steps": {"sent": {"offset": 3, "rows": [{"id": 1}, {"id": 2}]}},
}


def test_whole_placeholder_keeps_its_type() -> None:
    assert substitute("${steps.sent.offset}", SCOPE) == 3
    assert substitute("${steps.sent.rows}", SCOPE) == [{"id": 1}, {"id": 2}]


def test_placeholders_inside_text_and_nested_values() -> None:
    value = {"key": "order-${run.id}", "list": ["${services.kafka.port}", "x"], "n": 5}
    assert substitute(value, SCOPE) == {"key": "order-abc123", "list": [9092, "x"], "n": 5}


def test_list_index() -> None:
    assert substitute("${steps.sent.rows[1].id}", SCOPE) == 2


def test_unknown_names_say_what_is_known() -> None:
    with pytest.raises(UnknownVariable) as info:
        substitute("${steps.missing.x}", SCOPE)
    assert "steps has no 'missing'" in str(info.value)
    assert "known: sent" in str(info.value)


def test_environment_style_names_are_left_alone() -> None:
    assert substitute("$HOME ${NOT_DOTTED}", SCOPE) == "$HOME ${NOT_DOTTED}"


def test_dotted_fields_name_nested_values_as_placeholders_do() -> None:
    endpoints = {"url": "redis://h:1/0", "topics": {"orders": "envctl.r1.orders"}, "tls": True}
    fields = dotted_fields(endpoints)
    assert fields == [
        ("url", "redis://h:1/0"),
        ("topics.orders", "envctl.r1.orders"),
        ("tls", "true"),
    ]
    scope = {"services": {"kafka": endpoints}}
    assert lookup(scope, "services.kafka.topics.orders") == "envctl.r1.orders"
