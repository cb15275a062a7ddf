"""Process-wide state of the mock tools, one object per (kind, namespace). Outside the
``envctl.tools.mock`` package (which re-exports every type's double) so the doubles in
``envctl/services/<type>/mock.py`` can use it without importing each other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_LOCK = threading.Lock()
_STATES: dict[tuple[str, str], Any] = {}


def shared_state(kind: str, namespace: str, create: Callable[[], T]) -> T:
    """The state of ``kind`` (``event_bus``, ``kv``, ``sql``) in ``namespace``, made once."""
    with _LOCK:
        key = (kind, namespace)
        if key not in _STATES:
            _STATES[key] = create()
        return _STATES[key]


def reset_mock_state(namespace: str | None = None) -> None:
    """Forget the mock state of ``namespace`` (every namespace when None).

    Tools built earlier keep the state they hold; build new ones afterwards.
    """
    with _LOCK:
        for key in [k for k in _STATES if namespace is None or k[1] == namespace]:
            state = _STATES.pop(key)
            close = getattr(state, "close", None)
            if close is not None:
                close()
