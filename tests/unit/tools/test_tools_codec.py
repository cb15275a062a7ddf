"""Encoding of event-bus values, keys and headers; Kafka's murmur2 partitioner."""

from __future__ import annotations

from typing import Any

import pytest

from envctl.tools.codec import (
    JSON_TYPE,
    TEXT_TYPE,
    decode_headers,
    decode_value,
    encode_value,
    kv_ttl_ms,
    kv_value,
    murmur2,
    partition_for_key,
)
from envctl.tools.errors import KeyValueError


def signed(value: int) -> int:
    return value - 2**32 if value >= 2**31 else value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The vectors of Kafka's own UtilsTest.testMurmur2.
        ("21", -973932308),
        ("foobar", -790332482),
        ("a-little-bit-long-string", -985981536),
        ("a-little-bit-longer-string", -1486304829),
        ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        ("abc", 479470107),
    ],
)
def test_murmur2_matches_the_java_client(text: str, expected: int) -> None:
    assert signed(murmur2(text.encode())) == expected


def test_partition_for_key_is_positive_murmur2_modulo() -> None:
    assert partition_for_key(b"21", 3) == (-973932308 & 0x7FFFFFFF) % 3
    assert {partition_for_key(f"k{i}".encode(), 4) for i in range(100)} == {0, 1, 2, 3}


@pytest.mark.parametrize(
    ("value", "content_type"),
    [
        ({"id": 1, "tags": ["a"]}, JSON_TYPE),
        ([1, 2], JSON_TYPE),
        (42, JSON_TYPE),
        (True, JSON_TYPE),
        ("héllo", TEXT_TYPE),
        ("123", TEXT_TYPE),
        (b"\x00\xff", None),
        (None, None),
    ],
)
def test_values_round_trip(value: Any, content_type: str | None) -> None:
    raw, kind = encode_value(value)
    assert kind == content_type
    headers = {"content-type": kind} if kind else {}
    assert decode_value(raw, headers) == value


def test_foreign_values_decode_by_content() -> None:
    assert decode_value(b'{"a": 1}', {}) == {"a": 1}
    assert decode_value(b"[1]", {}) == [1]
    assert decode_value(b"12", {}) == "12"
    assert decode_value(b"{not json", {}) == "{not json"
    assert decode_value(b"\xff\xfe", {}) == b"\xff\xfe"


def test_unserialisable_value_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="cannot publish a value of type"):
        encode_value({1, 2})  # type: ignore[arg-type]


def test_headers_decode_last_wins() -> None:
    assert decode_headers([("a", b"1"), ("a", b"2"), ("b", None)]) == {"a": "2", "b": ""}
    assert decode_headers(None) == {}


def test_kv_values_are_strings_as_redis_stores_them() -> None:
    assert kv_value("x") == "x"
    assert kv_value(b"x") == "x"
    assert kv_value(5) == "5"
    assert kv_value(1.5) == "1.5"
    with pytest.raises(TypeError):
        kv_value(True)
    with pytest.raises(TypeError, match=r"json\.dumps"):
        kv_value({"a": 1})
    with pytest.raises(KeyValueError, match="UTF-8"):
        kv_value(b"\xff")


def test_kv_ttl() -> None:
    assert kv_ttl_ms(None) is None
    assert kv_ttl_ms(1.5) == 1500
    with pytest.raises(KeyValueError, match="invalid expire time"):
        kv_ttl_ms(0)
