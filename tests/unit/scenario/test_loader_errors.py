"""Broken scenario files and the exact problems the loader reports for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.scenario import load_scenario
from envctl.services.registry import type_names

TYPES = ", ".join(type_names())
STEP_KINDS = (
    "publish, expect_message, consume, sql, redis, http, exec, sleep, call, "
    "fault, expect_recovery, no_message_lost"
)

# (id, file text, expected problem lines with {f} standing for the file's path)
BROKEN: list[tuple[str, str, list[str]]] = [
    (
        "unknown-key-did-you-mean",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            imgae: apache/kafka:3.9.0
        """,
        ["{f}:5: external_services.kafka.imgae: unknown key — did you mean 'image'?"],
    ),
    (
        "unknown-top-level-key",
        """
        name: x
        dependncy_mode: real
        """,
        ["{f}:2: dependncy_mode: unknown key — did you mean 'dependency_mode'?"],
    ),
    (
        "unknown-key-in-topic",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            topics:
              - name: orders
                replicaton: 2
        """,
        [
            "{f}:7: external_services.kafka.topics[0].replicaton: unknown key"
            " — did you mean 'replication'?"
        ],
    ),
    (
        "unknown-key-in-timeout-profile",
        """
        name: x
        external_services:
          kafka: {type: kafka}
        timeout_profiles:
          kafka: {helth_check: 5}
        """,
        ["{f}:5: timeout_profiles.kafka.helth_check: unknown key — did you mean 'health_check'?"],
    ),
    (
        "unknown-service-type",
        """
        name: x
        external_services:
          kafka:
            type: kafak
        """,
        [
            "{f}:4: external_services.kafka.type: unknown service type 'kafak'"
            f" — did you mean 'kafka'? (valid: {TYPES})"
        ],
    ),
    (
        "missing-type",
        """
        name: x
        external_services:
          kafka:
            image: apache/kafka:3.9.0
        """,
        [
            "{f}:3: external_services.kafka.type: required key 'type' is missing"
            f" (one of: {TYPES})"
        ],
    ),
    (
        "missing-name",
        """
        description: no name
        """,
        ["{f}:1: name: required key is missing"],
    ),
    (
        "depends-on-undefined-did-you-mean",
        """
        name: x
        external_services:
          kafka:
            type: kafka
          app:
            type: kafka
            depends_on: [kafak]
        """,
        [
            "{f}:7: external_services.app.depends_on[0]: service 'app' depends on 'kafak',"
            " which is not defined — did you mean 'kafka'?"
        ],
    ),
    (
        "depends-on-undefined-no-hint",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            depends_on: [zookeeper]
        """,
        [
            "{f}:5: external_services.kafka.depends_on[0]: service 'kafka' depends on"
            " 'zookeeper', which is not defined"
        ],
    ),
    (
        "dependency-cycle-of-two",
        """
        name: x
        external_services:
          a:
            type: kafka
            depends_on: [b]
          b:
            type: kafka
            depends_on: [a]
        """,
        ["{f}:5: external_services.a.depends_on: dependency cycle: a -> b -> a"],
    ),
    (
        "dependency-cycle-of-three",
        """
        name: x
        external_services:
          a: {type: kafka, depends_on: [b]}
          b: {type: kafka, depends_on: [c]}
          c: {type: kafka, depends_on: [a]}
        """,
        ["{f}:3: external_services.a.depends_on: dependency cycle: a -> b -> c -> a"],
    ),
    (
        "self-dependency",
        """
        name: x
        external_services:
          a:
            type: kafka
            depends_on: a
        """,
        ["{f}:5: external_services.a.depends_on[0]: service 'a' depends on itself"],
    ),
    (
        "duplicate-key",
        """
        name: x
        description: one
        description: two
        """,
        ["{f}:3: description: duplicate key (an earlier value would be lost)"],
    ),
    (
        "duplicate-nested-key",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            image: a
            image: b
        """,
        ["{f}:6: external_services.kafka.image: duplicate key (an earlier value would be lost)"],
    ),
    (
        "invalid-yaml-unclosed-flow",
        """
        name: x
        external_services:
          kafka: {type: kafka
        """,
        ["{f}:4: invalid YAML: expected ',' or '}}', but got '<stream end>'"],
    ),
    (
        "invalid-yaml-tab",
        "name: x\nexternal_services:\n\tkafka: {}\n",
        [
            "{f}:3: invalid YAML: found character '\\t' that cannot start any token"
            " (indent with spaces; YAML does not allow tabs there)"
        ],
    ),
    (
        "invalid-yaml-bad-indent",
        """
        name: x
        external_services:
          kafka:
            type: kafka
           image: x
        """,
        ["{f}:5: invalid YAML: expected <block end>, but found '<block mapping start>'"],
    ),
    (
        "not-a-mapping",
        """
        - name: x
        """,
        ["{f}:1: a scenario file must be a mapping of keys (name:, ...)"],
    ),
    (
        "bad-dependency-mode",
        """
        name: x
        dependency_mode: reel
        """,
        ["{f}:2: dependency_mode: 'reel' is not valid; input should be 'real' or 'mock'"],
    ),
    (
        "bad-service-mode",
        """
        name: x
        external_services:
          kafka: {type: kafka, mode: cloudy}
        """,
        [
            "{f}:3: external_services.kafka.mode: 'cloudy' is not valid;"
            " input should be 'docker', 'external' or 'cloud'"
        ],
    ),
    (
        "bad-kafka-flavor",
        """
        name: x
        external_services:
          kafka: {type: kafka, flavor: confluent}
        """,
        [
            "{f}:3: external_services.kafka.flavor: 'confluent' is not valid;"
            " input should be 'apache' or 'tansu'"
        ],
    ),
    (
        "port-on-all-interfaces",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            ports:
              - "0.0.0.0:19092:9092"
        """,
        [
            "{f}:6: external_services.kafka.ports[0]: port '0.0.0.0:19092:9092': envctl publishes"
            " on 127.0.0.1 only; write 'HOST:CONTAINER' without an address"
        ],
    ),
    (
        "port-not-a-number",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            ports: [kafka]
        """,
        [
            "{f}:5: external_services.kafka.ports[0]: port 'kafka' is not 'CONTAINER'"
            " or 'HOST:CONTAINER'"
        ],
    ),
    (
        "port-out-of-range",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            ports:
              - 70000
        """,
        ["{f}:6: external_services.kafka.ports[0].container: must be at most 65535, not 70000"],
    ),
    (
        "topic-partitions-zero",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            topics:
              - name: orders
                partitions: 0
        """,
        ["{f}:7: external_services.kafka.topics[0].partitions: must be at least 1, not 0"],
    ),
    (
        "duplicate-topics",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            topics:
              - orders
              - name: orders
                partitions: 3
        """,
        ["{f}:5: external_services.kafka.topics: topic 'orders' is listed twice"],
    ),
    (
        "unknown-step-kind",
        """
        name: x
        steps:
          - publish: {topic: a, value: 1}
          - pubish: {topic: a, value: 2}
        """,
        [
            "{f}:2: steps: step 1: unknown step kind 'pubish' — did you mean 'publish'?"
            f" (valid: {STEP_KINDS})"
        ],
    ),
    (
        "step-with-two-kinds",
        """
        name: x
        steps:
          - {publish: {}, sleep: 1}
        """,
        [f"{{f}}:2: steps: step 0 must have exactly one kind ({STEP_KINDS}), found publish, sleep"],
    ),
    (
        "timeout-profile-neither-service-nor-type",
        """
        name: x
        external_services:
          kafka:
            type: kafka
        timeout_profiles:
          kafak: {startup: 10}
          postgres: {startup: 10}
        """,
        [
            "{f}:6: timeout_profiles.kafak: 'kafak' is neither a service nor a service type"
            " of this scenario — did you mean 'kafka'?",
            "{f}:7: timeout_profiles.postgres: 'postgres' is neither a service nor a service"
            " type of this scenario",
        ],
    ),
    (
        "timeout-not-positive",
        """
        name: x
        timeout_profiles:
          kafka: {startup: -1}
        """,
        ["{f}:3: timeout_profiles.kafka.startup: must be greater than 0, not -1"],
    ),
    (
        "service-name-not-lower-case",
        """
        name: x
        external_services:
          Kafka:
            type: kafka
        """,
        [
            "{f}:2: external_services: service name 'Kafka' must be lower-case letters,"
            " digits, '-' or '_', starting with a letter"
        ],
    ),
    (
        "env-value-not-scalar",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            env:
              A: [1, 2]
        """,
        ["{f}:6: external_services.kafka.env.A: must be text, not a list"],
    ),
    (
        "unset-variable",
        """
        name: x
        external_services:
          kafka:
            type: kafka
            image: ${KAFKA_IMAGE}
        """,
        [
            "{f}:5: external_services.kafka.image: environment variable KAFKA_IMAGE is not set;"
            " set it or write ${{KAFKA_IMAGE:-default}}"
        ],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [pytest.param(text, expected, id=case_id) for case_id, text, expected in BROKEN],
)
def test_broken_file_reports_exact_problems(
    write_scenario: Callable[..., Path], text: str, expected: list[str]
) -> None:
    path = write_scenario("scenario_broken.yaml", text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert str(info.value).splitlines() == [line.format(f=path) for line in expected]
    assert len(info.value.problems) == len(expected)


def test_every_problem_of_a_file_is_reported_at_once(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    f = tmp_path / "s.yaml"
    lines = problems_of(
        """
        name: x
        dependency_mode: reel
        external_services:
          kafka:
            type: kafka
            imgae: foo
            depends_on: [zk]
            topics:
              - name: orders
                partitions: 0
          pg:
            type: zzz_unknown
        timeout_profiles:
          nothing: {startup: 1}
        steps:
          - pubish: {}
        """
    )
    assert lines == [
        f"{f}:2: dependency_mode: 'reel' is not valid; input should be 'real' or 'mock'",
        f"{f}:6: external_services.kafka.imgae: unknown key — did you mean 'image'?",
        f"{f}:7: external_services.kafka.depends_on[0]: service 'kafka' depends on 'zk',"
        " which is not defined",
        f"{f}:10: external_services.kafka.topics[0].partitions: must be at least 1, not 0",
        f"{f}:12: external_services.pg.type: unknown service type 'zzz_unknown' (valid: {TYPES})",
        f"{f}:14: timeout_profiles.nothing: 'nothing' is neither a service nor a service type"
        " of this scenario",
        f"{f}:15: steps: step 0: unknown step kind 'pubish' — did you mean 'publish'?"
        f" (valid: {STEP_KINDS})",
    ]


def test_duplicate_key_does_not_hide_other_problems(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    f = tmp_path / "s.yaml"
    lines = problems_of(
        """
        name: x
        name: y
        dependency_mode: reel
        """
    )
    assert lines == [
        f"{f}:2: name: duplicate key (an earlier value would be lost)",
        f"{f}:3: dependency_mode: 'reel' is not valid; input should be 'real' or 'mock'",
    ]


def test_problems_are_sorted_by_line(problems_of: Callable[..., list[str]]) -> None:
    lines = problems_of(
        """
        steps:
          - nope: {}
        external_services:
          kafka: {type: kafak}
        dependency_mode: reel
        """
    )
    numbers = [int(line.split(":")[1]) for line in lines]
    assert numbers == sorted(numbers)
    assert len(lines) == 4  # steps, service type, dependency_mode, and the missing name


def test_config_error_carries_structured_problems(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario(
        "s.yaml",
        """
        name: x
        dependency_mode: reel
        """,
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == (str(path), 2, "dependency_mode")
    assert info.value.exit_code == 2


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert str(info.value) == f"{path}: file does not exist"


def test_empty_file_reports_missing_name_without_line(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario("s.yaml", "")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert str(info.value) == f"{path}: name: required key is missing"


def test_path_given_as_string_is_shown_as_given(
    write_scenario: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    write_scenario("sub/s.yaml", "name: x\ndependency_mode: reel\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_scenario("sub/s.yaml", {})
    assert str(info.value).startswith("sub/s.yaml:2: dependency_mode: ")


def test_bad_cleanup_after_scalar_is_reported_at_its_key(
    problems_of: Callable[..., list[str]],
) -> None:
    lines = problems_of("name: x\ncleanup_after: sometimes\n")
    assert len(lines) == 1
    assert ": cleanup_after: " in lines[0]
    assert "'sometimes'" in lines[0]


def test_bad_cleanup_map_value_is_reported_at_its_key(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    lines = problems_of("name: x\ncleanup_after: {containers: maybe}\n")
    assert lines == [
        f"{tmp_path / 's.yaml'}:2: cleanup_after.containers: 'maybe' is not valid;"
        " expected true/false or 'on_success'"
    ]


@pytest.mark.parametrize("port", ["1:2:3:4", "0.0.0.0:1:19092:9092"])
def test_port_with_too_many_parts_is_refused(
    problems_of: Callable[..., list[str]], port: str
) -> None:
    lines = problems_of(
        f"""
        name: x
        external_services:
          kafka:
            type: kafka
            ports: ["{port}"]
        """
    )
    assert len(lines) == 1
    assert f"port '{port}'" in lines[0]


@pytest.mark.parametrize("item", ["{kafka: {condition: healthy}}", "[kafka]"])
def test_depends_on_item_that_is_not_a_name(
    problems_of: Callable[..., list[str]], tmp_path: Path, item: str
) -> None:
    lines = problems_of(
        f"""
        name: x
        external_services:
          kafka: {{type: kafka}}
          app:
            type: kafka
            depends_on: [{item}]
        """
    )
    assert len(lines) == 1
    assert lines[0].startswith(
        f"{tmp_path / 's.yaml'}:6: external_services.app.depends_on[0]: must be text, not a "
    )


def test_unknown_key_without_close_match_lists_the_valid_keys(
    problems_of: Callable[..., list[str]], tmp_path: Path
) -> None:
    (line,) = problems_of(
        """
        name: x
        external_services:
          kafka:
            type: kafka
            zzzz: 1
        """
    )
    prefix = f"{tmp_path / 's.yaml'}:5: external_services.kafka.zzzz: unknown key (valid: "
    assert line.startswith(prefix)
    valid = line.removeprefix(prefix).removesuffix(")").split(", ")
    assert valid == sorted(valid)
    assert {"depends_on", "image", "ports", "topics", "type"} <= set(valid)
