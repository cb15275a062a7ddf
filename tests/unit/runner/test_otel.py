"""OpenTelemetry export: the span tree of a run (SDK in-memory exporter), and a real
OTLP/HTTP receiver on 127.0.0.1 getting the trace when OTEL_EXPORTER_OTLP_ENDPOINT is set."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from envctl.report.otel import emit_trace, export_run
from envctl.runner import Runner, run_all
from envctl.settings import Settings

FAILING = """
name: traced
external_services:
  kafka: {type: kafka, topics: [orders]}
steps:
  - publish: {topic: orders, value: {id: 1}}
  - expect_message: {topic: orders, match: {value.id: 2}, within: 0.2}
"""


@pytest.fixture
def recorded(runner: Runner, scenario_file: Callable[[str, str], Path]) -> Path:
    scenario_file("unit/scenario_traced.yaml", FAILING)
    outcome = run_all(runner).outcomes[0]
    assert outcome.status == "failed" and outcome.run_dir
    return Path(outcome.run_dir)


def test_span_tree_of_a_run(recorded: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    emit_trace(recorded, provider)
    spans = {span.name: span for span in exporter.get_finished_spans()}
    root = spans["envctl run traced"]
    assert root.parent is None
    assert root.attributes is not None
    assert root.attributes["envctl.outcome"] == "failed"
    assert root.attributes["envctl.mode"] == "mock"
    assert root.attributes["envctl.run_id"] == recorded.name
    assert root.status.status_code.name == "ERROR"
    publish, expect = spans["step 0 publish"], spans["step 1 expect_message"]
    for child in (publish, expect, spans["steps"]):
        assert child.parent is not None and child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id
        assert root.start_time <= child.start_time <= child.end_time <= root.end_time
    assert expect.status.status_code.name == "ERROR"
    # in order, with their own durations (audit times are rounded to the millisecond)
    assert publish.end_time <= expect.start_time + 2_000_000


class _Receiver(BaseHTTPRequestHandler):
    got: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).got.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    _Receiver.got = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Receiver.got
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_exports_over_otlp_http_when_the_variables_say_so(
    recorded: Path, receiver: tuple[str, list[ExportTraceServiceRequest]], tmp_path: Path
) -> None:
    endpoint, got = receiver
    assert export_run(recorded, {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}) is None
    names = {
        span.name
        for request in got
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    }
    assert {"envctl run traced", "step 0 publish", "step 1 expect_message"} <= names
    service_names = {
        attr.value.string_value
        for request in got
        for resource in request.resource_spans
        for attr in resource.resource.attributes
        if attr.key == "service.name"
    }
    assert service_names == {"envctl"}


def test_runner_exports_each_run(
    settings: Settings,
    scenario_file: Callable[[str, str], Path],
    receiver: tuple[str, list[ExportTraceServiceRequest]],
    tmp_path: Path,
) -> None:
    endpoint, got = receiver
    scenario_file("unit/scenario_traced.yaml", FAILING)
    environ = {**settings.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
    traced = Runner(
        Settings.load(environ=environ, cwd=tmp_path, scenarios_dir=tmp_path / "scenarios"),
        runs_root=tmp_path / "runs",
    )
    outcome = run_all(traced).outcomes[0]
    assert not [w for w in outcome.warnings if "trace" in w]
    assert got, "the receiver got no trace"
