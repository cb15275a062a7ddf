"""The failure bundle: one self-contained HTML file per run that shows what happened.

Written as ``bundle.html`` in the run's folder (beside the raw files it is made from:
``audit.jsonl``, ``logs/*.log``, ``snapshots/``, ``diff.txt``) for every failed run, and for
every run under ``--trace on`` (``ENVCTL_TRACE``; Playwright's ``retain-on-failure`` is the
default here too). It opens offline — styles inline, the timeline an inline SVG, no script
or font fetched — and shows:

- the outcome, and the failing step with expected vs seen;
- a timeline: each service's create/start/ready/setup/seed, each step, faults,
  expectations, snapshots and cleanup, on one time axis;
- every step's inputs and outputs (cut to a readable length);
- the environment: services, images, endpoints and ports, the mode and why, versions;
- the data "after" (the scenario's after snapshot, or the checkpoint envctl takes when a
  real run fails): topics with their last messages, tables, keys — previews of the files;
- the services' logs (the tail shown; the whole file linked) and the audit log.

Secrets never reach it: the audit log holds no secret fields, and anything shaped like
``scheme://user:password@`` is masked again on the way in.
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envctl.report.audit import read_events
from envctl.report.cut import cut
from envctl.report.run_folder import AUDIT_FILE, LOGS_DIR, SNAPSHOTS_DIR

BUNDLE_FILE = "bundle.html"
TRACE_ENV = "ENVCTL_TRACE"
TRACE_MODES = ("retain-on-failure", "on", "off")
LOG_TAIL = 200
EVENTS_SHOWN = 1500
PREVIEW_LINES = 20
PREVIEW_TEXT = 300
_SECRET_URL = re.compile(r"(\w+://[^/\s:@]+:)[^@\s/]+@")
SERVICE_PHASES = ("image", "create", "start", "ready", "setup", "seed")


def mask(text: str) -> str:
    return _SECRET_URL.sub(r"\1***@", text)


def parse_trace(value: str | None, environ: Mapping[str, str]) -> str:
    """``--trace`` (or ``ENVCTL_TRACE``): retain-on-failure (default), on or off."""
    from envctl.errors import ConfigError

    source = "--trace" if value is not None else TRACE_ENV
    chosen = (value if value is not None else environ.get(TRACE_ENV, "")).strip().lower()
    if not chosen:
        return TRACE_MODES[0]
    if chosen not in TRACE_MODES:
        raise ConfigError(
            f"{source}: {chosen[:40]!r} is not a trace mode; use one of {', '.join(TRACE_MODES)}"
        )
    return chosen


def wants_bundle(status: str, trace: str) -> bool:
    """Whether a run that ended ``status`` gets a bundle under ``trace``."""
    if trace == "on":
        return True
    if trace == "off":
        return False
    return status in ("failed", "error")


@dataclass
class Bar:
    lane: str
    label: str
    start: float
    end: float
    kind: str
    """service | step | phase | fault"""
    status: str = "passed"


@dataclass
class BundleData:
    run_id: str
    scenario: str
    status: str
    reason: str | None
    seconds: float
    mode: dict[str, Any]
    bars: list[Bar]
    steps: list[dict[str, Any]]
    failing: dict[str, Any] | None
    expectations: list[dict[str, Any]]
    services: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    data: list[dict[str, Any]]
    diff: str | None
    events: list[str]
    events_total: int
    versions: dict[str, str]
    errors: list[str] = field(default_factory=list)


def collect(run_dir: Path) -> BundleData:
    """What the bundle shows, read from the run's folder."""
    events = list(read_events(run_dir / AUDIT_FILE))
    nothing: dict[str, Any] = {}
    start = next((e for e in events if e.get("event") == "run.start"), nothing)
    end = next((e for e in reversed(events) if e.get("event") == "run.end"), nothing)
    mode = next((e for e in events if e.get("event") == "decision.mode"), nothing)
    steps = [e for e in events if e.get("event") == "step"]
    failing = next((s for s in steps if s.get("status") == "failed"), None)
    expectations = [e for e in events if e.get("event") == "expectation"]
    errors = [str(e.get("message", "")) for e in events if e.get("event") == "error"]
    total = float(end.get("t") or (events[-1].get("t") if events else 0.0) or 0.0)
    return BundleData(
        run_id=str(start.get("run_id") or end.get("run_id") or run_dir.name),
        scenario=str(start.get("scenario", "?")),
        status=str(end.get("status", "unfinished")),
        reason=end.get("reason"),
        seconds=float(end.get("seconds") or total),
        mode={k: v for k, v in mode.items() if k not in ("ts", "t", "run_id", "event")},
        bars=_bars(events),
        steps=[_shown(s) for s in steps],
        failing=_shown(failing) if failing else None,
        expectations=[_shown(e) for e in expectations],
        services=_services(events),
        logs=_logs(run_dir),
        data=_data(run_dir),
        diff=_read(run_dir / "diff.txt", 20000),
        events=[mask(json.dumps(cut(e, text=400, items=30), default=str)) for e in events][
            :EVENTS_SHOWN
        ],
        events_total=len(events),
        versions=_versions(),
        errors=[mask(e) for e in errors],
    )


def _shown(event: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: (mask(v) if isinstance(v, str) else cut(v, text=600, items=20))
        for k, v in event.items()
        if k not in ("ts", "run_id")
    }


def _bars(events: list[dict[str, Any]]) -> list[Bar]:
    bars: list[Bar] = []
    up = next((e for e in events if e.get("event") == "phase" and e.get("phase") == "up"), None)
    up_start = float(up["t"]) - float(up.get("seconds") or 0.0) if up else 0.0
    for event in events:
        if event.get("event") != "service":
            continue
        name = str(event.get("service"))
        at = up_start + float(event.get("started_at") or 0.0)
        for phase in SERVICE_PHASES:
            seconds = float((event.get("timings") or {}).get(phase) or 0.0)
            if seconds <= 0:
                continue
            bars.append(Bar(f"service {name}", phase, at, at + seconds, "service"))
            at += seconds
    for event in events:
        kind, t = event.get("event"), float(event.get("t") or 0.0)
        seconds = float(event.get("seconds") or 0.0)
        if kind == "step":
            label = f"{event.get('index')}: {event.get('kind')}"
            bars.append(
                Bar("steps", label, t - seconds, t, "step", str(event.get("status", "passed")))
            )
        elif (
            kind == "phase"
            and event.get("service") is None
            and event.get("phase")
            not in (
                "up",
                "steps",
            )
        ):
            phase = str(event.get("phase"))
            bars.append(Bar("run", phase, t - seconds, t, "phase"))
        elif isinstance(kind, str) and kind.startswith("fault") and event.get("service"):
            bars.append(
                Bar(
                    f"fault {event.get('service')}",
                    str(event.get("kind") or event.get("action") or kind),
                    t - seconds if seconds else t,
                    t if seconds else t + 0.05,
                    "fault",
                )
            )
    return bars


def _services(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    decided = {e.get("service"): e for e in events if e.get("event") == "decision.service"}
    seen = {e.get("service"): e for e in events if e.get("event") == "service"}
    out = []
    for name in [*decided, *(n for n in seen if n not in decided)]:
        decision, service = decided.get(name, {}), seen.get(name, {})
        out.append(
            {
                "name": name,
                "type": service.get("type") or decision.get("type"),
                "mode": decision.get("dependency_mode"),
                "why": decision.get("source"),
                "image": service.get("image") or decision.get("image"),
                "image_source": decision.get("image_source"),
                "container": service.get("container"),
                "status": service.get("status", "not started"),
                "endpoints": mask(json.dumps(cut(service.get("endpoints") or {}), default=str)),
                "timings": service.get("timings") or {},
            }
        )
    return out


def _read(path: Path, limit: int) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return mask(cut(text, text=limit))


def _logs(run_dir: Path) -> list[dict[str, Any]]:
    folder = run_dir / LOGS_DIR
    out = []
    for path in sorted(folder.glob("*.log")) if folder.is_dir() else []:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        tail = lines[-LOG_TAIL:]
        out.append(
            {
                "service": path.stem,
                "tail": mask("\n".join(cut(line, text=500) for line in tail)),
                "lines": len(lines),
                "shown": len(tail),
                "href": f"{LOGS_DIR}/{path.name}",
            }
        )
    return out


def _data(run_dir: Path) -> list[dict[str, Any]]:
    """Previews of the newest data checkpoint: ``failure`` or ``after``."""
    for name in ("failure", "after"):
        folder = run_dir / SNAPSHOTS_DIR / name
        manifest_file = folder / "manifest.json"
        if not manifest_file.is_file():
            continue
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        out = []
        for service, entry in (manifest.get("services") or {}).items():
            files = []
            for rel in sorted(entry.get("files") or {}):
                files.append({"name": rel, "preview": _preview(folder / service / rel)})
            out.append(
                {
                    "checkpoint": name,
                    "service": service,
                    "type": entry.get("type"),
                    "details": cut(entry.get("details") or {}, items=20),
                    "files": files,
                }
            )
        return out
    return []


def _preview(path: Path) -> str:
    """The last lines of a JSON-lines file (newest data last), else the file's start."""
    try:
        with path.open(encoding="utf-8", errors="replace") as stream:
            text = stream.read(400_000)
    except OSError:
        return ""
    lines = text.splitlines()
    if path.suffix == ".jsonl":
        chosen = lines[-PREVIEW_LINES:]
        more = len(lines) - len(chosen)
        shown = [cut(line, text=PREVIEW_TEXT) for line in chosen]
        return mask((f"… {more} earlier lines\n" if more else "") + "\n".join(shown))
    return mask("\n".join(cut(line, text=PREVIEW_TEXT) for line in lines[:PREVIEW_LINES]))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for package in ("envctl", "confluent-kafka", "psycopg", "redis", "docker"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            continue
    return out


# -- rendering --------------------------------------------------------------------------------

COLORS = {
    "service": "#5b8def",
    "step": "#3aa675",
    "phase": "#9a8cd1",
    "fault": "#e08a2c",
    "failed": "#d64545",
}


def timeline_svg(bars: Iterable[Bar], width: int = 960) -> str:
    """The bars as an inline SVG: one row per lane, a time axis in seconds."""
    items = list(bars)
    if not items:
        return '<p class="muted">nothing was timed</p>'
    lanes: list[str] = []
    for bar in items:
        if bar.lane not in lanes:
            lanes.append(bar.lane)
    total = max(bar.end for bar in items) or 1.0
    left, row, top = 150, 22, 22
    scale = (width - left - 10) / total
    height = top + row * len(lanes) + 10
    parts = [
        f'<svg class="timeline" role="img" aria-label="timeline of the run" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    ticks = _ticks(total)
    for tick in ticks:
        x = left + tick * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{height - 6}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{top - 8}" font-size="10" text-anchor="middle" '
            f'fill="#666">{tick:g}s</text>'
        )
    for index, lane in enumerate(lanes):
        y = top + index * row
        parts.append(
            f'<text x="4" y="{y + 14}" font-size="11" fill="#333">{_esc(lane[:24])}</text>'
        )
    for bar in items:
        y = top + lanes.index(bar.lane) * row + 3
        x = left + max(bar.start, 0.0) * scale
        w = max((bar.end - max(bar.start, 0.0)) * scale, 2.0)
        color = COLORS["failed"] if bar.status == "failed" else COLORS.get(bar.kind, "#888")
        took = bar.end - bar.start
        title = f"{bar.lane}: {bar.label} {bar.start:.3f}s → {bar.end:.3f}s ({took:.3f}s)"
        parts.append(
            f'<g class="bar {bar.kind} {bar.status}"><title>{_esc(title)}</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row - 6}" rx="3" '
            f'fill="{color}"/>'
        )
        if w > 40:
            parts.append(
                f'<text x="{x + 3:.1f}" y="{y + 12}" font-size="10" fill="#fff">'
                f"{_esc(bar.label[: int(w / 6)])}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(total: float) -> list[float]:
    for step in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600):
        if total / step <= 12:
            return [round(i * step, 3) for i in range(int(total / step) + 1)]
    return [0.0, total]


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def render(data: BundleData) -> str:
    from envctl.report.templates import environment, style

    template = environment().get_template("bundle.html.j2")
    return template.render(d=data, timeline=timeline_svg(data.bars), dumps=_dumps, style=style())


def _dumps(value: Any) -> str:
    return mask(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def write_bundle(run_dir: Path) -> Path:
    """Write ``bundle.html`` into ``run_dir`` from what is there; returns its path."""
    html = render(collect(run_dir))
    path = run_dir / BUNDLE_FILE
    tmp = path.with_name(f".{BUNDLE_FILE}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
