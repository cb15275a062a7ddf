"""Matching messages and values: paths into values and headers, YAML-forgiving equality."""

from __future__ import annotations

from envctl.runner.steps import field_of, matches, same

MESSAGE = {
    "topic": "orders",
    "key": "1",
    "value": {"id": 1, "items": [{"sku": "a"}], "ok": True},
    "headers": {"trace": "t-1", "attempt": "3"},
    "partition": 0,
}


def test_paths() -> None:
    assert field_of(MESSAGE, "value.items.0.sku") == (True, "a")
    assert field_of(MESSAGE, "headers.trace") == (True, "t-1")
    assert field_of(MESSAGE, "value.missing")[0] is False


def test_match_all_entries() -> None:
    assert matches(MESSAGE, {"key": 1, "value.id": "1", "headers.attempt": 3})
    assert not matches(MESSAGE, {"key": "1", "value.id": 2})


def test_same_forgives_scalar_types_only() -> None:
    assert same(1, "1") and same("true", True) and same(1.0, 1)
    assert same({"a": [1, "2"]}, {"a": ["1", 2]})
    assert not same({"a": 1}, {"a": 1, "b": 2})
    assert same(None, None) and not same(None, 0)
