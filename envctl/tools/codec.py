"""How event-bus values, keys and headers travel as bytes, and which partition a key goes to.

Shared by the real and the mock event bus so both encode, decode and partition alike.

Partitioning: a message with a key goes to ``murmur2(key) & 0x7fffffff % partitions`` — the
Java client's default, which :class:`~envctl.services.kafka.tool.KafkaEventBus` selects in
librdkafka (``partitioner=murmur2_random``), so the same key lands in the same partition in
both modes. A message without a key: the real producer picks a random partition, the mock goes
round robin; a test must not rely on either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from envctl.tools.correlation import correlation_for
from envctl.tools.errors import KeyValueError
from envctl.tools.protocols import CONTENT_TYPE_HEADER, CORRELATION_HEADER, MessageValue

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"


def encode_value(value: MessageValue) -> tuple[bytes | None, str | None]:
    """The bytes to send and their content type (None for raw bytes and null values)."""
    if value is None:
        return None, None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), None
    if isinstance(value, str):
        return value.encode("utf-8"), TEXT_TYPE
    try:
        text = json.dumps(value, separators=(",", ":"), default=_json_default)
        return text.encode("utf-8"), JSON_TYPE
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot publish a value of type {type(value).__name__}: {exc}; "
            "publish bytes, str or a JSON-serialisable value"
        ) from None


def _json_default(value: Any) -> Any:
    """JSON for the usual non-JSON scalars: datetimes as ISO 8601, decimals and UUIDs as text."""
    import datetime
    import decimal
    import uuid

    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def decode_value(raw: bytes | None, headers: Mapping[str, str]) -> Any:
    """The value of a consumed message (see :mod:`envctl.tools.protocols`)."""
    if raw is None:
        return None
    content_type = headers.get(CONTENT_TYPE_HEADER, "")
    if content_type.startswith("application/json"):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if content_type.startswith("text/"):
        return text
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def encode_key(key: str | bytes | None) -> bytes | None:
    if key is None or isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    raise TypeError(f"a message key must be str or bytes, not {type(key).__name__}")


def decode_key(raw: bytes | None) -> str | bytes | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def outgoing_headers(
    headers: Mapping[str, str] | None, content_type: str | None
) -> tuple[dict[str, str], str]:
    """Headers to publish (with the correlation id and content type) and the correlation id."""
    result = {str(k): str(v) for k, v in (headers or {}).items()}
    correlation_id = correlation_for(result)
    result[CORRELATION_HEADER] = correlation_id
    if content_type is not None and CONTENT_TYPE_HEADER not in result:
        result[CONTENT_TYPE_HEADER] = content_type
    return result, correlation_id


def decode_headers(raw: Any) -> dict[str, str]:
    """Kafka headers (a list of (name, bytes) pairs, or None) as a dict; the last one wins."""
    result: dict[str, str] = {}
    for name, value in raw or ():
        if value is None:
            result[name] = ""
        elif isinstance(value, bytes):
            result[name] = value.decode("utf-8", errors="replace")
        else:
            result[name] = str(value)
    return result


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash (as in the Java client's ``Utils.murmur2``), unsigned 32-bit."""
    mask = 0xFFFFFFFF
    m = 0x5BD1E995
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    rest = length % 4
    if rest == 3:
        h ^= data[whole + 2] << 16
    if rest >= 2:
        h ^= data[whole + 1] << 8
    if rest >= 1:
        h ^= data[whole]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition of a keyed message: murmur2, as Kafka's Java client and librdkafka's
    ``murmur2_random`` partitioner compute it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def kv_value(value: object) -> str:
    """A key-value store's value as the string Redis stores (as redis-py encodes it)."""

    if isinstance(value, bool) or not isinstance(value, str | bytes | int | float):
        raise TypeError(
            f"a key-value store takes str, bytes, int or float values, not "
            f"{type(value).__name__}; encode it first (e.g. json.dumps)"
        )
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyValueError("a key-value store value must be UTF-8 text") from None
    return repr(value)


def kv_ttl_ms(ttl: float | None) -> int | None:
    """A TTL in seconds as whole milliseconds (Redis ``PX``); an error when not positive."""

    if ttl is None:
        return None
    ms = round(ttl * 1000)
    if ms <= 0:
        raise KeyValueError(
            f"invalid expire time {ttl!r}: a ttl must be a positive number of seconds"
        )
    return ms
