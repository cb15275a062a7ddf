"""Seed files as records with line numbers, and the checks of Kafka and Redis records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envctl.errors import ConfigError, SeedError
from envctl.seed.records import read_records
from envctl.services.kafka.seed import KafkaRecord, kafka_records
from envctl.services.redis.seed import redis_keys


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- reading files -----------------------------------------------------------------------------


def test_json_lines_records_keep_their_line_and_skip_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"value": 1}\n\n{"value": 2}\n')
    records = read_records(path, "a.jsonl").records
    assert [(r.line, r.data) for r in records] == [(1, {"value": 1}), (3, {"value": 2})]


def test_invalid_json_line_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", '{"value": 1}\n{"value": \n')
    with pytest.raises(SeedError) as caught:
        read_records(path, "data/a.jsonl")
    assert str(caught.value).startswith("data/a.jsonl:2: invalid JSON")
    assert isinstance(caught.value, ConfigError)  # exit code 2, like any scenario problem


def test_json_array_elements_know_the_line_they_start_on(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[\n  {"value": 1},\n\n  {"value":\n    2}\n]\n')
    records = read_records(path).records
    assert [(r.line, r.data) for r in records] == [(2, {"value": 1}), (4, {"value": 2})]


def test_json_object_is_a_mapping_of_records(tmp_path: Path) -> None:
    path = write(tmp_path, "k.json", '{\n "a": "x",\n "b": [1]\n}')
    loaded = read_records(path)
    assert loaded.shape == "mapping"
    assert [(r.line, r.data) for r in loaded.records] == [(2, ("a", "x")), (3, ("b", [1]))]


def test_json_syntax_error_inside_an_array_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", '[\n {"value": 1},\n {"value": 2,}\n]')
    with pytest.raises(SeedError, match=r"a.json:3: invalid JSON"):
        read_records(path, "a.json")


def test_yaml_list_items_know_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "# seed\n- value: 1\n- key: k\n  value: 2\n")
    records = read_records(path).records
    assert [(r.line, r.data) for r in records] == [(2, {"value": 1}), (3, {"key": "k", "value": 2})]


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match=r"unknown seed file type '.csv'"):
        read_records(write(tmp_path, "a.csv", "x"), "a.csv")


# -- Kafka records -------------------------------------------------------------------------------


def kafka(tmp_path: Path, lines: list[object], partitions: int | None = 3) -> list[KafkaRecord]:
    text = "\n".join(json.dumps(line) for line in lines) + "\n"
    return kafka_records(
        read_records(write(tmp_path, "o.jsonl", text), "o.jsonl"), "orders", partitions
    )


def test_object_values_become_compact_json_and_strings_stay_as_they_are(tmp_path: Path) -> None:
    first, second, tombstone = kafka(
        tmp_path,
        [
            {"key": 1, "value": {"id": 1, "name": "ä"}, "headers": {"h": "v", "n": 2}},
            {"key": "k", "value": "plain", "partition": 2, "timestamp": 1700000000000},
            {"key": "gone", "value": None},
        ],
    )
    assert first.key == b"1"
    assert first.value == '{"id":1,"name":"ä"}'.encode()
    assert first.headers == (("h", b"v"), ("n", b"2"))
    assert (second.key, second.value, second.partition, second.timestamp) == (
        b"k",
        b"plain",
        2,
        1700000000000,
    )
    assert tombstone.value is None


def test_headers_may_be_a_list_of_pairs_with_repeated_names(tmp_path: Path) -> None:
    (record,) = kafka(tmp_path, [{"value": 1, "headers": [["a", "1"], ["a", "2"]]}])
    assert record.headers == (("a", b"1"), ("a", b"2"))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"vaule": 1}, "o.jsonl:1: unknown field 'vaule' — did you mean 'value'?"),
        ({"key": "1"}, "o.jsonl:1: record has no 'value'"),
        ({"value": 1, "partition": 3}, "partition 3 does not exist: topic 'orders' has 3"),
        ({"value": 1, "partition": -1}, "partition must be a whole number >= 0"),
        ({"value": 1, "partition": True}, "partition must be a whole number"),
        ({"value": 1, "headers": "x"}, "headers must be a mapping or a list"),
        ({"value": 1, "timestamp": "now"}, "timestamp must be milliseconds"),
        ([1, 2], "a record must be a mapping"),
    ],
)
def test_bad_kafka_records_name_file_line_and_why(
    tmp_path: Path, record: object, message: str
) -> None:
    with pytest.raises(SeedError) as caught:
        kafka(tmp_path, [{"value": "fine"}, record][1:])
    assert message in str(caught.value)


def test_the_line_of_the_bad_record_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match=r"^o.jsonl:3: "):
        kafka(tmp_path, [{"value": 1}, {"value": 2}, {"valeu": 3}])


def test_a_kafka_seed_file_must_be_a_list(tmp_path: Path) -> None:
    path = write(tmp_path, "o.yaml", "a: 1\n")
    with pytest.raises(SeedError, match="holds a list of records"):
        kafka_records(read_records(path, "o.yaml"), "orders")


# -- Redis keys ----------------------------------------------------------------------------------


def test_redis_types_are_inferred_or_given(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "k.yaml",
        "- {key: s, value: 5}\n"
        "- {key: h, value: {a: 1, b: true}}\n"
        "- {key: l, value: [x, y]}\n"
        "- {key: t, type: set, value: [x, y], ttl: 30}\n"
        "- {key: z, type: zset, value: {a: 1, b: 2.5}}\n",
    )
    keys = redis_keys(read_records(path))
    assert [(k.key, k.type, k.value, k.ttl) for k in keys] == [
        ("s", "string", "5", None),
        ("h", "hash", {"a": "1", "b": "true"}, None),
        ("l", "list", ["x", "y"], None),
        ("t", "set", ["x", "y"], 30.0),
        ("z", "zset", {"a": 1.0, "b": 2.5}, None),
    ]


def test_redis_mapping_form_is_key_value(tmp_path: Path) -> None:
    path = write(tmp_path, "k.json", '{"user:1": "alice", "user:1:tags": ["a"]}')
    keys = redis_keys(read_records(path))
    assert [(k.key, k.type) for k in keys] == [("user:1", "string"), ("user:1:tags", "list")]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("- {key: a, value: 1, type: sett}", "unknown type 'sett' — did you mean 'set'?"),
        ("- {key: a, value: 1, ttl: 0}", "ttl must be a positive number"),
        ("- {key: a, value: null}", "value is null"),
        ("- {key: a, value: {}, type: hash}", "a hash needs a non-empty mapping"),
        ("- {key: a, value: [[1]], type: set}", "set members must be scalars"),
        ("- {key: a, value: {m: x}, type: zset}", "score of 'm' must be a number"),
        ("- {value: 1}", "record needs 'key'"),
        ("- {key: a, vlaue: 1}", "unknown field 'vlaue' — did you mean 'value'?"),
    ],
)
def test_bad_redis_keys_name_file_line_and_why(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, "k.yaml", "- {key: ok, value: 1}\n" + line + "\n")
    with pytest.raises(SeedError) as caught:
        redis_keys(read_records(path, "k.yaml"))
    assert str(caught.value).startswith("k.yaml:2: ")
    assert message in str(caught.value)


def test_a_key_seeded_twice_is_an_error_naming_the_first_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "k.yaml", "- {key: a, value: 1}\n- {key: b, value: 1}\n- {key: a, value: 2}\n"
    )
    with pytest.raises(SeedError, match=r"k.yaml:3: key 'a' is seeded twice \(first at line 1\)"):
        redis_keys(read_records(path, "k.yaml"))


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply"),
        ("deep.json", b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]", "nested too deeply"),
        ("big.jsonl", b'{"value": ' + b"9" * 5000 + b"}\n", "invalid JSON"),
        ("latin.jsonl", '{"value": "café"}\n'.encode("latin-1"), "not UTF-8"),
        ("deep.yaml", b"- " + b"[" * 1000 + b"]" * 1000 + b"\n", "nested deeper"),
        ("inf.yaml", b"- {key: a, value: 1, ttl: .inf}\n", ".inf is not allowed"),
        ("inf.jsonl", b'{"key": "a", "value": 1, "ttl": Infinity}\n', "finite numbers only"),
        ("nan.json", b'[{"key": "a", "value": NaN}]', "finite numbers only"),
    ],
)
def test_hostile_seed_files_are_seed_errors(
    tmp_path: Path, name: str, data: bytes, needle: str
) -> None:
    from envctl.errors import SeedError
    from envctl.seed.records import read_records

    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SeedError) as info:
        read_records(path)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)
