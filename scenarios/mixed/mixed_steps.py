"""Python steps of the mixed scenarios: the order handler, imported from its scenario."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "envctl_orders_app", Path(__file__).resolve().parents[1] / "integration" / "orders_app.py"
)
assert _spec is not None and _spec.loader is not None
_orders_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_orders_app)


def handle(ctx: Any, source: str, confirmed: str) -> dict[str, Any]:
    return _orders_app.handle_orders(ctx, source, confirmed)  # type: ignore[no-any-return]
