"""Values cut to a size a person reads (and a report carries): long strings, long lists and
deep structures are shortened with a note of what was left out.

Used wherever envctl shows recorded values: ``run --json``, the audit log's step outputs
stay whole (replay needs them), the failure bundle and the HTML report show cut copies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_TEXT = 2000
"""Characters of one string value."""
MAX_ITEMS = 50
"""Items of one list or mapping."""
MAX_DEPTH = 12


def cut(value: Any, *, text: int = MAX_TEXT, items: int = MAX_ITEMS, depth: int = MAX_DEPTH) -> Any:
    """``value`` with strings over ``text`` characters, lists/mappings over ``items`` entries
    and nesting deeper than ``depth`` shortened; what was cut is said in place."""
    if isinstance(value, str):
        if len(value) <= text:
            return value
        return value[:text] + f"… [{len(value) - text} more characters]"
    if isinstance(value, bytes):
        return cut(value.decode("utf-8", "replace"), text=text, items=items, depth=depth)
    if depth <= 0 and isinstance(value, Mapping | list | tuple):
        return f"[{type(value).__name__} nested too deep to show]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for index, (key, inner) in enumerate(value.items()):
            if index >= items:
                out["…"] = f"{len(value) - items} more entries"
                break
            out[str(key)] = cut(inner, text=text, items=items, depth=depth - 1)
        return out
    if isinstance(value, list | tuple):
        shown = [cut(v, text=text, items=items, depth=depth - 1) for v in list(value)[:items]]
        if len(value) > items:
            shown.append(f"… {len(value) - items} more items")
        return shown
    return value
