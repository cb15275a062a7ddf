"""Polling with a deadline, on tenacity: start at a few milliseconds, grow, add jitter.

A ready service is noticed within ~50 ms because the first attempts come quickly and
the interval never grows past ``max_interval``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)

T = TypeVar("T")

FIRST_INTERVAL = 0.005
MAX_INTERVAL = 0.1


def _wait(max_interval: float) -> wait_exponential_jitter:
    return wait_exponential_jitter(
        multiplier=FIRST_INTERVAL, exp_base=1.6, max=max_interval, jitter=FIRST_INTERVAL
    )


def poll_until(
    condition: Callable[[], bool], timeout: float, max_interval: float = MAX_INTERVAL
) -> bool:
    """Call ``condition`` until it returns true or ``timeout`` seconds pass. Exceptions retry."""

    def check() -> None:
        if not condition():
            raise _NotYet

    try:
        retry_call(check, timeout, (Exception,), max_interval=max_interval)
    except Exception:  # noqa: BLE001 - the deadline passed; the caller says what failed
        return False
    return True


class _NotYet(Exception):
    pass


def retry_call(
    action: Callable[[], T],
    timeout: float,
    retry_on: tuple[type[BaseException], ...],
    stop_when: Callable[[], str | None] | None = None,
    max_interval: float = MAX_INTERVAL,
) -> T:
    """Call ``action`` until it returns without raising one of ``retry_on``.

    ``stop_when`` is consulted between attempts; a non-empty string ends the wait early
    (e.g. "container exited with code 1") and is raised as :class:`GaveUp`.
    When the deadline passes, the last exception is re-raised.
    """

    def _should_stop(retry_state: RetryCallState) -> None:
        if stop_when is not None:
            reason = stop_when()
            if reason:
                raise GaveUp(reason)

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=_wait(max_interval),
        retry=retry_if_exception_type(retry_on),
        before_sleep=_should_stop,
        reraise=True,
    )
    return retrying(action)


class GaveUp(Exception):
    """Waiting ended early because waiting longer cannot help."""
