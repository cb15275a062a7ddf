"""One grammar for durations (envctl.durations), and each caller's own bounds kept."""

from __future__ import annotations

import math
import typing
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from envctl.durations import (
    UNITS,
    DurationError,
    format_duration,
    is_duration,
    parse_duration,
)
from envctl.errors import ConfigError
from envctl.faults.models import FaultSpec
from envctl.gc import parse_duration as older_than
from envctl.scenario.compose import parse_duration as compose_duration
from envctl.scenario.spec import MAX_STEP_SECONDS
from envctl.scenario.steps import STEP_MODELS, Expected, ExpectRecoveryStep
from envctl.scenario.timeouts import parse_ttl


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90", 90.0),
        (90, 90.0),
        (1.5, 1.5),
        ("1.5", 1.5),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1m30s", 90.0),
        ("1h0m5s", 3605.0),
        ("500us", 0.0005),
        ("500µs", 0.0005),
        ("10ns", 1e-8),
        ("  15m\n", 900.0),
        ("0", 0.0),
        ("0s", 0.0),
    ],
)
def test_the_grammar(text: object, expected: float) -> None:
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    ["", "soon", "2 h", "1h 30m", "1h30", "-5s", "-1", "2H", "1.s", ".5s", "5x", "1e3", "nan"],
)
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError, match=r"is not a duration; write e\.g\. 90, 1\.5s"):
        parse_duration(text)


@pytest.mark.parametrize("value", [True, None, [1], {"s": 1}])
def test_other_types_are_not_durations(value: object) -> None:
    with pytest.raises(DurationError, match="is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [-1, -0.5, math.nan])
def test_negative_and_nan_numbers_are_refused(value: float) -> None:
    with pytest.raises(DurationError, match="must be 0 or more"):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.inf, 10**400, "9" * 400 + "d"])
def test_endless_values_are_refused(value: object) -> None:
    with pytest.raises(DurationError, match="too long"):
        parse_duration(value)


def test_bounds_and_where_in_messages() -> None:
    assert parse_duration("0s") == 0
    with pytest.raises(
        DurationError, match=r"^ttl: '0s' is not a duration: it must be more than 0$"
    ):
        parse_duration("0s", where="ttl", positive=True)
    with pytest.raises(DurationError, match=r"^--x: '3h' is too long: at most 2h$"):
        parse_duration("3h", where="--x", maximum=7200)
    assert parse_duration("2h", maximum=7200) == 7200
    long = "x" * 100 + "s"
    with pytest.raises(DurationError) as caught:
        parse_duration(long)
    assert len(str(caught.value).splitlines()) == 1 and "..." in str(caught.value)


def test_a_duration_error_is_a_config_error_and_a_value_error() -> None:
    """The CLI prints it as one line (exit 2); a pydantic validator reports it at its field."""
    assert issubclass(DurationError, ConfigError) and issubclass(DurationError, ValueError)
    assert DurationError("x").exit_code == 2


_PARTS = st.lists(
    st.tuples(st.integers(0, 10**6), st.sampled_from(sorted(UNITS))), min_size=1, max_size=5
)


@given(_PARTS)
def test_parts_add_up(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == pytest.approx(sum(n * UNITS[u] for n, u in parts))


@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_a_number_is_seconds(value: float) -> None:
    assert parse_duration(value) == value
    assert parse_duration(f"{value:.6f}") == pytest.approx(value, abs=1e-6)


@given(st.integers(0, 10**9), st.sampled_from(["d", "h", "m", "s", "ms"]))
def test_format_then_parse_round_trips(count: int, unit: str) -> None:
    seconds = count * UNITS[unit]
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


@given(st.text(max_size=12))
def test_any_text_is_a_duration_or_one_clear_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except DurationError as exc:
        assert str(exc).count("\n") == 0
    else:
        assert math.isfinite(value) and value >= 0


# -- each caller keeps its bounds -------------------------------------------------------------


def test_gc_older_than_allows_zero_up_to_a_hundred_years() -> None:
    assert older_than("0s") == timedelta(0)
    assert older_than("1h30m") == timedelta(minutes=90)
    assert older_than("36500d") == timedelta(days=36500)
    with pytest.raises(ConfigError, match=r"^--older-than: '36501d' is too long: at most 36500d$"):
        older_than("36501d")
    with pytest.raises(ConfigError, match=r"^--older-than: 'soon' is not a duration"):
        older_than("soon")


def test_ttl_must_be_more_than_zero() -> None:
    assert parse_ttl("10m", "ttl") == 600
    assert parse_ttl(90, "ttl") == 90
    with pytest.raises(ConfigError, match=r"^ENVCTL_REUSE_TTL: '0' is not a duration: it must be"):
        parse_ttl("0", "ENVCTL_REUSE_TTL")


def test_compose_reads_go_durations_and_says_none_otherwise() -> None:
    assert compose_duration("1m30s") == 90
    assert compose_duration("1h") == 3600
    assert compose_duration("soon") is None
    assert compose_duration("10 s") is None
    assert compose_duration(math.inf) is None


def test_fault_and_step_durations_keep_their_field_bounds() -> None:
    spec = FaultSpec.model_validate(
        {"kind": "latency", "service": "k", "duration": "1m30s", "delay": "250ms", "at": 0}
    )
    assert (spec.duration, spec.delay, spec.at) == (90.0, 0.25, 0.0)
    with pytest.raises(ValidationError, match="greater than 0"):  # duration: gt=0
        FaultSpec.model_validate({"kind": "stop", "service": "k", "duration": "0s"})
    with pytest.raises(ValidationError, match=r"is not a duration; write e\.g\."):
        FaultSpec.model_validate({"kind": "stop", "service": "k", "duration": "2 h"})
    assert ExpectRecoveryStep.model_validate({"service": "k", "within": "2m"}).within == 120


# -- every duration of steps, expected: and faults -------------------------------------------

_BASE: dict[str, dict[str, object]] = {
    "expect_message": {"topic": "t"},
    "consume": {"topic": "t"},
    "http": {"service": "web"},
    "sleep": {},
    "call": {"function": "m:f"},
    "expect_recovery": {"service": "k"},
    "no_message_lost": {"topic": "t"},
    "fault": {"kind": "latency", "service": "k", "delay": 0.1},
    "expected": {},
    "faults": {"kind": "latency", "service": "k", "delay": 0.1},
}
_MODELS = {**STEP_MODELS, "expected": Expected, "faults": FaultSpec}

STEP_WAITS = [
    ("expect_message", "within"),
    ("consume", "within"),
    ("http", "timeout"),
    ("sleep", "seconds"),
    ("call", "timeout"),
    ("expect_recovery", "within"),
    ("no_message_lost", "within"),
    ("expected", "within"),
    ("expected", "settle"),
]
"""Waits of a step (or of expected:): at most an hour."""

DURATIONS = [
    *STEP_WAITS,
    ("fault", "duration"),
    ("fault", "delay"),
    ("fault", "jitter"),
    ("faults", "duration"),
    ("faults", "delay"),
    ("faults", "jitter"),
    ("faults", "at"),
]


@pytest.mark.parametrize(("kind", "key"), DURATIONS)
@pytest.mark.parametrize(
    ("text", "expected"), [(90, 90.0), ("1.5s", 1.5), ("250ms", 0.25), ("2m", 120.0)]
)
def test_every_duration_of_steps_expected_and_faults_reads_the_grammar(
    kind: str, key: str, text: object, expected: float
) -> None:
    model = _MODELS[kind].model_validate({**_BASE[kind], key: text})
    assert getattr(model, key) == pytest.approx(expected)


@pytest.mark.parametrize(("kind", "key"), STEP_WAITS)
def test_step_waits_stay_at_most_an_hour(kind: str, key: str) -> None:
    assert MAX_STEP_SECONDS == 3600
    assert getattr(_MODELS[kind].model_validate({**_BASE[kind], key: "1h"}), key) == 3600
    with pytest.raises(ValidationError, match="less than or equal to 3600"):
        _MODELS[kind].model_validate({**_BASE[kind], key: "1h0m1s"})
    with pytest.raises(ValidationError, match=r"'2 s' is not a duration; write e\.g\."):
        _MODELS[kind].model_validate({**_BASE[kind], key: "2 s"})


def test_sleep_takes_a_duration_alone() -> None:
    assert STEP_MODELS["sleep"].model_validate("500ms").seconds == 0.5  # type: ignore[attr-defined]
    assert STEP_MODELS["sleep"].model_validate(2).seconds == 2  # type: ignore[attr-defined]


NOT_DURATIONS = {"percent", "kbps", "cpus"}
"""Numbers of steps and faults that are not times."""


def _floats_and_durations(annotation: object, metadata: list[object]) -> tuple[bool, bool]:
    """Whether a field's type holds a float, and whether that float is a Duration."""
    if annotation is float:
        return True, is_duration(metadata)
    floats = durations = False
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Annotated:
            inner, *marks = typing.get_args(arg)
            floats, durations = floats or inner is float, durations or is_duration(marks)
        elif arg is float:
            floats = True
    return floats, durations


@pytest.mark.parametrize("kind", sorted(_MODELS))
def test_no_time_field_takes_only_plain_numbers(kind: str) -> None:
    """A new float field of a step, expected: or a fault is a Duration unless listed above."""
    for name, field in _MODELS[kind].model_fields.items():
        floats, durations = _floats_and_durations(field.annotation, field.metadata)
        if floats and name not in NOT_DURATIONS:
            assert durations, f"{kind}.{name} takes only a plain number: make it a Duration"
