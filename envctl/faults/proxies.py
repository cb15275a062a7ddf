"""Starting, steering and ending fault proxies (see :mod:`envctl.faults.proxy`).

A proxied service's container carries :data:`LABEL_FAULT_PROXY` (pid, ports); the proxy
follows the container (:func:`bind_proxy`) and exits when it is removed, by whatever path.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from envctl.errors import EnvctlError
from envctl.runtime.base import ManagedResource

LABEL_FAULT_PROXY = "io.envctl.fault-proxy"
PROXY_START_TIMEOUT = 10.0
"""Seconds a new proxy process has to report its ports."""
PROXY_CONTROL_TIMEOUT = 5.0
"""Seconds a proxy has to answer a control request."""
PROXY_STOP_TIMEOUT = 5.0
"""Seconds a proxy has to exit after SIGTERM before it gets SIGKILL."""
_MODULE = "envctl.faults.proxy"


class FaultProxyFailed(EnvctlError):
    """A fault proxy could not be started or steered."""


@dataclass(frozen=True)
class ProxyProcess:
    pid: int
    listen: int
    """The 127.0.0.1 port clients use (and the service advertises)."""
    control: int
    upstream: int
    """The 127.0.0.1 port the container publishes."""

    def to_label(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_label(cls, text: str) -> ProxyProcess | None:
        try:
            data = json.loads(text)
            return cls(
                int(data["pid"]), int(data["listen"]), int(data["control"]), int(data["upstream"])
            )
        except (ValueError, KeyError, TypeError):
            return None


def start_proxy(
    upstream: int, listen: int = 0, *, timeout: float = PROXY_START_TIMEOUT
) -> ProxyProcess:
    """Start a proxy process forwarding ``127.0.0.1:listen`` (0: a free port) to
    ``127.0.0.1:upstream``; return once it listens."""
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)  # the child must import this very envctl
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            _MODULE,
            "--listen-port",
            str(listen),
            "--upstream",
            f"127.0.0.1:{upstream}",
            "--owner-pid",
            str(os.getpid()),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C in the terminal is for envctl, which reverts
        env=env,
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    line = b""
    deadline = time.monotonic() + timeout
    try:
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    finally:
        selector.close()
        process.stdout.close()
    try:
        ports = json.loads(line)
        return ProxyProcess(process.pid, int(ports["listen"]), int(ports["control"]), upstream)
    except (ValueError, KeyError):
        process.kill()
        process.wait(timeout)
        where = f"127.0.0.1:{listen}" if listen else "a free 127.0.0.1 port"
        raise FaultProxyFailed(
            f"the fault proxy did not start on {where} within {timeout:g}s "
            f"(exit code {process.poll()}); is the port free?"
        ) from None


def bind_proxy(proxy: ProxyProcess, container_id: str) -> None:
    """From now on the proxy lives as long as that container (it exits when it is removed)."""
    _request(proxy, {"watch": container_id}, PROXY_CONTROL_TIMEOUT)


def set_toxics(
    proxy: ProxyProcess, values: Mapping[str, Any], *, timeout: float = PROXY_CONTROL_TIMEOUT
) -> dict[str, Any]:
    """Set the proxy's faults (``{}``: none). Returns what the proxy now applies."""
    return dict(_request(proxy, {"set": dict(values)}, timeout).get("toxics", {}))


def _request(proxy: ProxyProcess, request: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    try:
        with socket.create_connection(("127.0.0.1", proxy.control), timeout=timeout) as sock:
            sock.sendall((json.dumps(dict(request)) + "\n").encode())
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError as exc:
        raise FaultProxyFailed(
            f"the fault proxy (pid {proxy.pid}, control 127.0.0.1:{proxy.control}) does not "
            f"answer: {exc}"
        ) from None
    data: dict[str, Any] = json.loads(answer or b"{}")
    if not data.get("ok"):
        raise FaultProxyFailed(f"the fault proxy refused {dict(request)}: {data.get('error')}")
    return data


def is_proxy(pid: int) -> bool:
    """The process ``pid`` is one of our proxies (not a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return _MODULE.encode() in cmdline


def stop_proxy(proxy: ProxyProcess, *, timeout: float = PROXY_STOP_TIMEOUT) -> None:
    if not is_proxy(proxy.pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proxy.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_proxy(proxy.pid) and time.monotonic() < deadline:
        _reap(proxy.pid, deadline - time.monotonic())
    if is_proxy(proxy.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(proxy.pid, signal.SIGKILL)
        _reap(proxy.pid, timeout)


def _reap(pid: int, timeout: float) -> None:
    """Wait for ``pid`` to end: reaped when it is our child, else polled via pidfd."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
    except ChildProcessError:
        pass
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        selector = selectors.DefaultSelector()
        selector.register(fd, selectors.EVENT_READ)
        selector.select(max(0.0, timeout))
        selector.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    finally:
        os.close(fd)


def proxy_of(labels: Mapping[str, str]) -> ProxyProcess | None:
    text = labels.get(LABEL_FAULT_PROXY)
    return ProxyProcess.from_label(text) if text else None


def stop_proxies(resources: Iterable[ManagedResource]) -> None:
    """End the fault proxies of these containers (before they are removed)."""
    for resource in resources:
        if resource.kind == "container":
            proxy = proxy_of(resource.labels)
            if proxy is not None:
                stop_proxy(proxy)
