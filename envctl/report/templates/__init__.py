"""The HTML templates of the failure bundle, the run-all report and the dashboard (jinja2,
autoescaped; styles inline so every page opens offline)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

HERE = Path(__file__).parent


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def style() -> str:
    """The shared stylesheet, inlined into every page."""
    return (HERE / "style.css").read_text(encoding="utf-8")
