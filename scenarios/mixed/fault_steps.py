"""Python steps of the fault scenarios: a client with a timeout, a consumer with a breaker.

They talk to the services only through the tools, so they run unchanged against real
services (faults done to the containers and the fault proxy) and against mocks (faults
simulated by the doubles).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

RESULT_TIMEOUT = 30.0
"""Seconds any one call may take in all, however slow the faulted service is."""


class CallTimedOut(Exception):
    """The client gave up waiting (its timeout), as an application would."""


def _bounded(pool: ThreadPoolExecutor, call: Any, timeout: float) -> Any:
    """``call()`` with a client-side timeout; a call that times out is left to finish."""
    future: Future[Any] = pool.submit(call)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise CallTimedOut(f"no answer within {timeout:g}s") from None


def get_with_timeout(ctx: Any, key: str, timeout: float, expect_timeout: bool) -> dict[str, Any]:
    """GET ``key`` as a client with a ``timeout`` would: times out under enough latency."""
    cache = ctx.tool("redis")
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(cache.get, key)
        try:
            value = future.result(timeout=timeout)
            timed_out = False
        except FutureTimeout:
            timed_out = True
            value = future.result(timeout=RESULT_TIMEOUT)  # let it finish before the next step
    if timed_out != expect_timeout:
        raise AssertionError(
            f"GET {key} {'timed out' if timed_out else 'answered'} with a {timeout:g}s timeout"
        )
    return {"timed_out": timed_out, "value": value}


def store_with_breaker(
    ctx: Any, count: int, attempt_timeout: float, failures_to_open: int, within: float
) -> dict[str, Any]:
    """Store ``count`` payments as a consumer with retries and a circuit breaker would.

    Each attempt has ``attempt_timeout``; after ``failures_to_open`` failures in a row the
    breaker opens and the next attempt waits for the stuck one (half-open) instead of
    piling up more. Retries back off exponentially (tenacity) until ``within`` seconds.
    Inserts are idempotent: against a frozen database a timed-out attempt is not a failed
    one, it commits once the database thaws (the duplicate a naive retry then makes is
    exactly the bug this scenario is for).
    """
    store = ctx.tool("postgres")
    failures = opened = total_failures = 0
    stored = []
    with ThreadPoolExecutor(1) as pool:
        for n in range(1, count + 1):

            def insert(n: int = n) -> Any:
                # idempotent: an attempt that timed out on our side may still commit later
                return store.execute(
                    "INSERT INTO payments VALUES (%s, %s) ON CONFLICT (id) DO NOTHING", [n, n * 10]
                )

            for attempt in Retrying(
                stop=stop_after_delay(within),
                wait=wait_exponential(multiplier=0.05, max=0.5),
                retry=retry_if_exception_type(Exception),
                reraise=True,
            ):
                with attempt:
                    open_ = failures >= failures_to_open
                    try:
                        _bounded(pool, insert, RESULT_TIMEOUT if open_ else attempt_timeout)
                    except Exception:
                        failures += 1
                        total_failures += 1
                        opened += failures == failures_to_open
                        raise
                    failures = 0
            stored.append(n)
    if total_failures == 0:
        raise AssertionError("the database never failed: was the fault applied?")
    return {"stored": len(stored), "failures": total_failures, "breaker_opened": opened}
