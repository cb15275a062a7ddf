"""Correlation ids: one id follows a chain of messages through every service it touches.

Every message an event bus publishes carries the header ``correlation_id``: the one given in
``headers``, else the id of the innermost :func:`correlation_scope`, else a new uuid4. To
carry the id of a message being handled into what handling it publishes::

    for message in bus.subscribe("orders", group="billing"):
        with correlation_scope(message):          # or message.correlation_id
            bus.publish("invoices", {...})        # carries the order's correlation id

The scope lives in a :mod:`contextvars` variable, so it follows ``await`` and
``asyncio.to_thread`` and never leaks between threads or tasks.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from envctl.tools.protocols import Message

_CURRENT: ContextVar[str | None] = ContextVar("envctl_correlation_id", default=None)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def current_correlation_id() -> str | None:
    """The id of the innermost :func:`correlation_scope`, or None outside any."""
    return _CURRENT.get()


@contextmanager
def correlation_scope(correlation_id: str | Message | None = None) -> Iterator[str]:
    """Publish everything inside the block with one correlation id; yields that id.

    Pass a :class:`Message` to continue its chain (a message without an id starts a new one),
    a string to use it, or nothing for a fresh uuid4 shared by the whole block.
    """
    if isinstance(correlation_id, Message):
        correlation_id = correlation_id.correlation_id
    value = correlation_id or new_correlation_id()
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


def correlation_for(headers: dict[str, str]) -> str:
    """The id a message with these headers is published with (see the module doc)."""
    from envctl.tools.protocols import CORRELATION_HEADER

    return headers.get(CORRELATION_HEADER) or _CURRENT.get() or new_correlation_id()
