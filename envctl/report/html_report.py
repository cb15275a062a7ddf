"""The run-all HTML report: every scenario's status and time per phase, the failures linked
to their bundles, and trends across runs from the local history (durations over the last
runs, pass rate, flaky scenarios). One self-contained file (styles inline, charts inline
SVG), written as ``report.html`` in the run-all's folder and with ``run-all --html FILE``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envctl.report.bundle import mask
from envctl.report.cut import cut
from envctl.report.history import Row, Trend

REPORT_FILE = "report.html"
COLORS = {"passed": "#3aa675", "failed": "#d64545", "error": "#d64545"}


@dataclass(frozen=True)
class ScenarioLine:
    name: str
    status: str
    seconds: float
    reason: str | None
    phases: dict[str, float]
    bundle: str | None
    run_id: str
    trend: Trend


def sparkline(runs: Sequence[Row], width: int = 140, height: int = 26) -> str:
    """The last runs' durations as bars, coloured by status, newest on the right."""
    if not runs:
        return '<span class="muted">first run</span>'
    top = max(r.seconds for r in runs) or 1.0
    step = width / max(len(runs), 1)
    bars = []
    for i, row in enumerate(runs):
        h = max(2.0, (height - 2) * row.seconds / top)
        color = COLORS.get(row.status, "#c9962b")
        bars.append(
            f'<rect x="{i * step + 1:.1f}" y="{height - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{color}"><title>{row.finished[:19]} {row.status} '
            f"{row.seconds:.2f}s</title></rect>"
        )
    return (
        f'<svg class="spark" width="{width}" height="{height}" role="img" '
        f'aria-label="durations of the last {len(runs)} runs">{"".join(bars)}</svg>'
    )


def link(target: str | None, report: Path) -> str | None:
    """``target`` relative to the report's folder (the report and runs move together)."""
    if not target:
        return None
    try:
        return os.path.relpath(target, report.parent)
    except ValueError:
        return Path(target).resolve().as_uri()


def render_report(
    *,
    run_id: str,
    seconds: float,
    counts: dict[str, int],
    lines: Sequence[ScenarioLine],
    report: Path,
    extra: dict[str, Any] | None = None,
) -> str:
    from envctl.report.templates import environment, style

    phase_names: list[str] = []
    for line in lines:
        for name in line.phases:
            if name not in phase_names:
                phase_names.append(name)
    flaky = [line.name for line in lines if line.trend.flaky]
    template = environment().get_template("report.html.j2")
    return template.render(
        style=style(),
        run_id=run_id,
        seconds=seconds,
        counts={k: v for k, v in counts.items() if v},
        lines=lines,
        phase_names=phase_names,
        flaky=flaky,
        sparkline=sparkline,
        link=lambda target: link(target, report),
        short=lambda text: mask(str(cut(text or "", text=400))),
        extra=extra or {},
    )


def write_report(path: Path, html: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
