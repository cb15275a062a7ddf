"""OpenTelemetry: each run as a trace, when the standard ``OTEL_EXPORTER_OTLP_*`` variables
say where to send it.

The trace is built from the run's audit log after the run (every event there carries its
time), through the OpenTelemetry SDK, so it shows in whatever tracing backend a team uses:

    envctl run <scenario>                      scenario, run id, mode, outcome
    ├── service <name>                         type, image
    │   └── create / start / ready / setup / seed
    ├── step <i> <kind>                        service, status, error
    ├── fault <kind> <service>                 (fault injection)
    ├── expectations, snapshot_*, cleanup, ...
    └── ...

Building it afterwards instead of holding spans open during the run keeps the SDK out of
runs that do not export (nothing is imported unless the variables are set) and makes a trace
of a killed run impossible to leave half-sent. Exported over OTLP/HTTP (protobuf) with the
SDK's exporter (``pip install 'envctl[otel]'``); ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_ENDPOINT`` (+ ``/v1/traces``), ``OTEL_EXPORTER_OTLP_HEADERS`` and
``OTEL_SERVICE_NAME`` are honoured.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from envctl.report.bundle import SERVICE_PHASES, mask
from envctl.report.run_folder import AUDIT_FILE

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
EXPORT_TIMEOUT = 5.0
"""Seconds the export may take at the end of a run before it is given up (with a warning)."""


def wanted(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARS)


def _ns(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1_000_000_000)


def emit_trace(run_dir: Path, provider: Any) -> None:
    """Spans of the run recorded in ``run_dir`` through ``provider`` (a TracerProvider)."""
    from envctl.report.audit import read_events

    events = [e for e in read_events(run_dir / AUDIT_FILE) if e.get("ts")]
    if not events:
        return
    tracer = provider.get_tracer("envctl")
    start = next((e for e in events if e.get("event") == "run.start"), events[0])
    end = next((e for e in reversed(events) if e.get("event") == "run.end"), events[-1])
    mode = next((e for e in events if e.get("event") == "decision.mode"), {})
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    root = tracer.start_span(
        f"envctl run {start.get('scenario', '?')}",
        start_time=_ns(start["ts"]),
        attributes={
            "envctl.scenario": str(start.get("scenario", "")),
            "envctl.run_id": str(start.get("run_id", "")),
            "envctl.mode": str(mode.get("label") or mode.get("mode") or ""),
            "envctl.outcome": str(end.get("status", "unfinished")),
        },
    )
    if end.get("status") in ("failed", "error"):
        root.set_status(Status(StatusCode.ERROR, mask(str(end.get("reason") or ""))[:500]))
    context = trace.set_span_in_context(root)

    first, last = _ns(start["ts"]), _ns(end["ts"])

    def child(name: str, event: Mapping[str, Any], attributes: dict[str, Any]) -> Any:
        # the audit log's times are rounded to the millisecond: keep children inside the run
        stop = min(max(_ns(event["ts"]), first), last)
        began = max(stop - int(float(event.get("seconds") or 0.0) * 1_000_000_000), first)
        span = tracer.start_span(name, context=context, start_time=began, attributes=attributes)
        return span, stop

    up = next((e for e in events if e.get("event") == "phase" and e.get("phase") == "up"), None)
    up_start = _ns(up["ts"]) - int(float(up.get("seconds") or 0) * 1e9) if up else None
    for event in events:
        kind = event.get("event")
        if kind == "service" and up_start is not None:
            timings = event.get("timings") or {}
            at = up_start + int(float(event.get("started_at") or 0.0) * 1e9)
            total = sum(float(timings.get(p) or 0.0) for p in SERVICE_PHASES)
            service = tracer.start_span(
                f"service {event.get('service')}",
                context=context,
                start_time=at,
                attributes={
                    "envctl.service": str(event.get("service")),
                    "envctl.service.type": str(event.get("type")),
                    "envctl.image": str(event.get("image") or ""),
                    "envctl.status": str(event.get("status")),
                },
            )
            inner = trace.set_span_in_context(service)
            for phase in SERVICE_PHASES:
                seconds = float(timings.get(phase) or 0.0)
                if seconds <= 0:
                    continue
                span = tracer.start_span(phase, context=inner, start_time=at)
                at += int(seconds * 1e9)
                span.end(end_time=at)
            service.end(
                end_time=up_start + int((float(event.get("started_at") or 0) + total) * 1e9)
            )
        elif kind == "step":
            span, stop = child(
                f"step {event.get('index')} {event.get('kind')}",
                event,
                {
                    "envctl.step.index": int(event.get("index") or 0),
                    "envctl.step.kind": str(event.get("kind")),
                    "envctl.service": str(event.get("service") or ""),
                    "envctl.status": str(event.get("status")),
                },
            )
            if event.get("status") == "failed":
                span.set_status(Status(StatusCode.ERROR, mask(str(event.get("error") or ""))[:500]))
            span.end(end_time=stop)
        elif kind == "phase" and event.get("service") is None and event.get("phase") != "up":
            span, stop = child(str(event.get("phase")), event, {})
            span.end(end_time=stop)
        elif isinstance(kind, str) and kind.startswith("fault") and event.get("service"):
            span, stop = child(
                f"{kind} {event.get('kind') or event.get('action') or ''} {event.get('service')}",
                event,
                {"envctl.service": str(event.get("service"))},
            )
            span.end(end_time=stop)
    root.end(end_time=_ns(end["ts"]))


def export_run(run_dir: Path, environ: Mapping[str, str]) -> str | None:
    """Send the run's trace to the OTLP endpoint the environment names; a warning (never an
    exception) when that cannot be done."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        return (
            "OTEL_EXPORTER_OTLP_* is set but the OpenTelemetry SDK is not installed: "
            "pip install 'envctl[otel]'"
        )
    endpoint = environ.get(ENDPOINT_VARS[0], "").strip()
    if not endpoint:
        endpoint = environ.get(ENDPOINT_VARS[1], "").strip().rstrip("/") + "/v1/traces"
    headers = dict(
        item.split("=", 1)
        for item in environ.get("OTEL_EXPORTER_OTLP_HEADERS", "").split(",")
        if "=" in item
    )
    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": environ.get("OTEL_SERVICE_NAME", "").strip() or "envctl"}
        )
    )
    exporter = OTLPSpanExporter(endpoint=endpoint, headers=headers, timeout=EXPORT_TIMEOUT)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    try:
        emit_trace(run_dir, provider)
        flushed = provider.force_flush(timeout_millis=int(EXPORT_TIMEOUT * 1000))
    except (OSError, ValueError) as exc:
        return f"cannot export the run's trace to {endpoint}: {exc}"
    finally:
        provider.shutdown()
    return None if flushed else f"the run's trace was not accepted by {endpoint} in time"
