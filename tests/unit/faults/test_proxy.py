"""The fault proxy against a local echo server (no Docker): pass-through, latency, reset,
timeout, and its life bound to its owner."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from envctl.faults.proxies import ProxyProcess, is_proxy, set_toxics, start_proxy, stop_proxy
from envctl.retry import poll_until

WAIT = 10.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def proxy() -> Iterator[ProxyProcess]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    started = start_proxy(server.server_address[1])
    try:
        yield started
    finally:
        stop_proxy(started)
        server.shutdown()
        server.server_close()
    assert not is_proxy(started.pid)


def echo(port: int, payload: bytes = b"ping", timeout: float = WAIT) -> float:
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("closed")
            got += chunk
    assert got == payload
    return time.monotonic() - t0


def test_pass_through_and_latency(proxy: ProxyProcess) -> None:
    assert echo(proxy.listen) < 0.2
    assert set_toxics(proxy, {"delay": 0.3})["delay"] == 0.3
    assert 0.3 <= echo(proxy.listen) < 0.3 + 0.5
    set_toxics(proxy, {})
    assert echo(proxy.listen) < 0.2


def test_reset_and_refuse(proxy: ProxyProcess) -> None:
    for mode in ("reset", "refuse"):
        set_toxics(proxy, {"mode": mode})
        with pytest.raises(OSError):
            echo(proxy.listen)
    set_toxics(proxy, {})
    echo(proxy.listen)


def test_timeout_holds_bytes_until_reverted(proxy: ProxyProcess) -> None:
    set_toxics(proxy, {"mode": "timeout"})
    with pytest.raises(TimeoutError):
        echo(proxy.listen, timeout=0.3)
    set_toxics(proxy, {})
    echo(proxy.listen)


def test_a_bad_request_is_refused(proxy: ProxyProcess) -> None:
    from envctl.faults.proxies import FaultProxyFailed

    with pytest.raises(FaultProxyFailed, match="unknown mode"):
        set_toxics(proxy, {"mode": "explode"})


def test_the_proxy_exits_with_its_owner_before_it_is_bound() -> None:
    code = (
        "from envctl.faults.proxies import start_proxy; "
        "print(start_proxy(1).pid, flush=True)"  # the owner exits right after
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=WAIT, check=True
    )
    pid = int(out.stdout.split()[0])
    assert poll_until(lambda: not is_proxy(pid), WAIT)
