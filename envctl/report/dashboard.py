"""``envctl dashboard``: a live page of what envctl is doing on this machine.

It shows the running environments and each service's health — probed live over the
service's real protocol (the readiness probe), so a stopped or paused service turns red
within a refresh —, the scenarios running now with their current step (read from the audit
logs being written), and the recent results (from the history). The page updates itself
every ``interval`` seconds from ``/api/state`` (JSON) without reloading.

The server is the standard library's ``ThreadingHTTPServer`` bound to 127.0.0.1 only: two
routes on loopback need no web framework or front-end build, and no dependency a user would
have to install. It runs until Ctrl-C.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from envctl.report.bundle import mask
from envctl.report.history import History, history_path
from envctl.report.run_folder import AUDIT_FILE

if TYPE_CHECKING:
    from envctl.settings import Settings

PROBE_TIMEOUT = 1.0
"""Seconds one live probe may take before the service shows as unhealthy."""
RUNNING_WINDOW = 6 * 3600
"""An audit log without an end that was written to in this many seconds counts as running."""
LOOPBACK = "127.0.0.1"


@dataclass
class DashboardState:
    """Collects what the page shows; one instance per server, reused across refreshes."""

    settings: Settings
    runs_root: Path
    _environments: dict[str, Any] = field(default_factory=dict)
    _plugins: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:  # one refresh at a time: probes are not run twice in parallel
            return {
                "now": datetime.now(UTC).isoformat(timespec="seconds"),
                "environments": self._environments_now(),
                "running": running_scenarios(self.runs_root),
                "recent": [
                    {
                        "run_id": r.run_id,
                        "scenario": r.scenario,
                        "status": r.status,
                        "seconds": round(r.seconds, 2),
                        "finished": r.finished,
                    }
                    for r in History(history_path(self.runs_root)).recent(20)
                ],
            }

    def _environments_now(self) -> list[dict[str, Any]]:
        from envctl.errors import EnvctlError
        from envctl.runtime.combined import Runtimes
        from envctl.status import environments

        runtimes = Runtimes.for_settings(self.settings)
        try:
            runs = environments(runtimes)
        except EnvctlError as exc:
            return [{"error": str(exc)}]
        for run in runs:
            health = self._probe_run(run, runtimes)
            for name, info in run["services"].items():
                info["health"], info["detail"] = health.get(name, ("unknown", "no record"))
                info["endpoints"] = {k: mask(str(v)) for k, v in info["endpoints"].items()}
        return runs

    def _probe_run(self, run: dict[str, Any], runtimes: Any) -> dict[str, tuple[str, str]]:
        """Service -> (healthy | unhealthy | down | unknown, detail)."""
        from envctl.environment import build_plugin, environment_from_record, read_record
        from envctl.errors import EnvctlError

        out: dict[str, tuple[str, str]] = {}
        env = self._environments.get(run["run_id"])
        if env is None:
            try:
                record = read_record(self.runs_root / run["run_id"])
                if record is not None:
                    env = environment_from_record(record, self.settings, lambda: runtimes)
            except EnvctlError as exc:
                return dict.fromkeys(run["services"], ("unknown", str(exc)))
            if env is not None:
                self._environments[run["run_id"]] = env
        for name, info in run["services"].items():
            status = str(info.get("status", ""))
            if status not in ("running", "ready", "up"):
                out[name] = ("down", f"{info.get('runtime', 'docker')} status: {status}")
                continue
            if env is None or name not in env.services:
                out[name] = ("unknown", "no run record to probe with")
                continue
            key = f"{run['run_id']}/{name}"
            if key not in self._plugins:
                self._plugins[key] = build_plugin(env.scenario, name, env.run_id, self.settings)
            out[name] = probe_service(self._plugins[key], env.services[name].handle)
        return out


def probe_service(plugin: Any, handle: Any) -> tuple[str, str]:
    """One live probe of a running service: (healthy | unhealthy, detail)."""
    from envctl.services.base import ProbeFailed

    if handle is None:
        return ("unknown", "not started by envctl")
    began = time.monotonic()
    try:
        plugin.probe(handle, PROBE_TIMEOUT)
    except ProbeFailed as exc:
        return ("unhealthy", str(exc).splitlines()[0][:200] if str(exc) else "probe failed")
    except OSError as exc:
        return ("unhealthy", f"{type(exc).__name__}: {exc}"[:200])
    return ("healthy", f"answered in {(time.monotonic() - began) * 1000:.0f} ms")


def running_scenarios(runs_root: Path) -> list[dict[str, Any]]:
    """Scenarios whose audit log has a start and no end, with their current step."""
    out: list[dict[str, Any]] = []
    if not runs_root.is_dir():
        return out
    horizon = time.time() - RUNNING_WINDOW
    for folder in runs_root.iterdir():
        log = folder / AUDIT_FILE
        try:
            if log.stat().st_mtime < horizon:
                continue
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        start = next((e for e in events if e.get("event") == "run.start"), None)
        if start is None or any(e.get("event") in ("run.end", "run_all.end") for e in events):
            continue
        steps = start.get("steps") or []
        done = [e for e in events if e.get("event") == "step"]
        phase = next((e.get("phase") for e in reversed(events) if e.get("event") == "phase"), None)
        current = len(done)
        kind = next(iter(steps[current]), "?") if current < len(steps) and steps[current] else None
        out.append(
            {
                "run_id": start.get("run_id", folder.name),
                "scenario": start.get("scenario"),
                "step": f"{current + 1} of {len(steps)}: {kind}" if kind else "after the steps",
                "last_phase": phase,
                "failed_steps": sum(1 for e in done if e.get("status") == "failed"),
            }
        )
    return sorted(out, key=lambda r: str(r["scenario"]))


def page(interval: float) -> str:
    from envctl.report.templates import environment, style

    return (
        environment()
        .get_template("dashboard.html.j2")
        .render(style=style(), interval_ms=int(interval * 1000))
    )


def serve(
    state: DashboardState,
    port: int = 0,
    interval: float = 2.0,
    ready: Callable[[str], None] | None = None,
) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:``port`` (0: a free one); call ``serve_forever`` on it."""
    html = page(interval).encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", html)
            elif self.path == "/api/state":
                body = json.dumps(state.snapshot(), default=str).encode("utf-8")
                self._send(200, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found")

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet: the terminal shows only the address

    server = ThreadingHTTPServer((LOOPBACK, port), Handler)
    server.daemon_threads = True
    if ready is not None:
        ready(f"http://{LOOPBACK}:{server.server_address[1]}/")
    return server
