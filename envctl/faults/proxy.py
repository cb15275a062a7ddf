"""envctl's fault proxy: a TCP proxy between the tests (host) and one service.

Why hand-rolled: Toxiproxy (the reference, whose toxics these mirror) is a Go server that is
neither on PyPI nor in Debian, so it cannot be installed where envctl runs without a
registry; the kernel feature Pumba uses (``tc netem``) is missing on kernels built without
``sch_netem`` (this project's CI among them). This module needs only the standard library
and works wherever envctl does.

It runs as its own process (``python -m envctl.faults.proxy``) so it outlives the command
that started it (``envctl up`` leaves the environment up). Its life is tied to its
service's container: once told the container's id (``{"watch": ID}``) it waits, through
the Docker API, for that container to be removed and then exits, so whatever removes the
container (``envctl down``, ``envctl gc``, a run's cleanup, ``docker rm``) ends the proxy
too. Until then it exits when the process that started it dies (a pidfd, no polling).
The container carries the ``io.envctl.fault-proxy`` label with the proxy's pid and ports.

The service's clients connect to the proxy's port, which is the port the service advertises
(Kafka's advertised listener points here); the proxy forwards to the port the container
publishes. With no fault set it forwards bytes unchanged. Faults (set over the control port,
one JSON object per line, answered by ``{"ok": true}``):

- ``delay`` / ``jitter`` (seconds): every chunk the service sends waits ``delay ± jitter``
  before it is forwarded, order kept (latency: a round trip grows by ``delay``);
- ``rate`` (bytes/second): chunks are paced to that rate (bandwidth);
- ``loss`` (0..1): that share of new connections is dropped at once (reset). A TCP stream
  cannot lose bytes without corrupting them, so loss is modelled per connection, which is
  what a client sees when a connection's packets stop arriving (Toxiproxy has no packet
  loss either);
- ``mode``: ``pass`` (default); ``reset`` (open connections are reset, new ones reset on
  accept); ``timeout`` (connections hang: nothing is forwarded until the mode changes,
  the bytes wait in the socket buffers); ``refuse`` (a partition from the host: open
  connections reset, new ones closed at once).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import struct
import sys
import time
from typing import Any

CHUNK = 65536


class Toxics:
    """The proxy's current faults; read by every connection before each chunk."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.jitter = 0.0
        self.rate = 0.0
        self.loss = 0.0
        self.mode = "pass"
        self.changed = asyncio.Event()

    def set(self, values: dict[str, Any]) -> None:
        self.delay = float(values.get("delay", 0.0))
        self.jitter = float(values.get("jitter", 0.0))
        self.rate = float(values.get("rate", 0.0))
        self.loss = float(values.get("loss", 0.0))
        mode = str(values.get("mode", "pass"))
        if mode not in ("pass", "reset", "timeout", "refuse"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.changed.set()
        self.changed = asyncio.Event()

    def to_dict(self) -> dict[str, Any]:
        return {
            "delay": self.delay,
            "jitter": self.jitter,
            "rate": self.rate,
            "loss": self.loss,
            "mode": self.mode,
        }


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dropped connection looks to the peer."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.done = asyncio.Event()
        self.watching: asyncio.Future[None] | None = None
        self.toxics = Toxics()
        self.connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    def apply(self, values: dict[str, Any]) -> None:
        self.toxics.set(values)
        if self.toxics.mode in ("reset", "refuse"):
            for client, upstream in list(self.connections):
                _reset(client)
                _reset(upstream)
            self.connections.clear()

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        toxics = self.toxics
        if toxics.mode in ("reset", "refuse") or (toxics.loss and random.random() < toxics.loss):
            _reset(client_w)
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(client_w)
            return
        pair = (client_w, up_w)
        self.connections.add(pair)
        try:
            await asyncio.gather(
                self.pipe(client_r, up_w, delayed=False), self.pipe(up_r, client_w, delayed=True)
            )
        finally:
            self.connections.discard(pair)
            for writer in pair:
                with contextlib.suppress(Exception):
                    writer.close()

    async def pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, delayed: bool
    ) -> None:
        """Forward one direction, chunk by chunk, honouring the current toxics.

        Latency is added to what the service sends (as Toxiproxy's downstream latency), so
        a request/response round trip grows by ``delay``. Delayed chunks keep their order:
        each is due ``delay ± jitter`` after it was read, never before the previous one.
        """
        toxics = self.toxics
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def read() -> None:
            while True:
                while toxics.mode == "timeout":
                    await toxics.changed.wait()  # hang: leave the bytes in the socket
                try:
                    data = await reader.read(CHUNK)
                except (ConnectionError, OSError):
                    data = b""
                if toxics.mode == "timeout" and data:
                    while toxics.mode == "timeout":
                        await toxics.changed.wait()
                delay = 0.0
                if delayed:
                    delay = toxics.delay + random.uniform(-toxics.jitter, toxics.jitter)
                await queue.put((time.monotonic() + max(0.0, delay), data))
                if not data:
                    return

        async def write() -> None:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # the injected latency itself
                if not data:
                    with contextlib.suppress(Exception):
                        writer.write_eof()
                    return
                if toxics.rate > 0:
                    await asyncio.sleep(len(data) / toxics.rate)  # the bandwidth limit
                writer.write(data)
                await writer.drain()

        reading = asyncio.ensure_future(read())
        try:
            await write()
        except (ConnectionError, OSError):
            pass
        finally:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading

    async def control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                try:
                    request = json.loads(line)
                    if request.get("set") is not None:
                        self.apply(dict(request["set"]))
                    if request.get("watch") and self.watching is None:
                        self.watching = asyncio.ensure_future(self.watch(str(request["watch"])))
                    answer: dict[str, Any] = {"ok": True, "toxics": self.toxics.to_dict()}
                except (ValueError, TypeError, AttributeError) as exc:
                    answer = {"ok": False, "error": str(exc)}
                writer.write((json.dumps(answer) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    async def watch(self, container: str) -> None:
        """Exit once the container is removed (or the Docker API cannot tell any more)."""

        def wait_removed() -> None:
            from envctl.runtime.docker import DockerRuntime

            with contextlib.suppress(Exception):
                DockerRuntime.connect(os.environ).wait_removed(container)

        await asyncio.to_thread(wait_removed)
        self.done.set()


def _watch_owner(loop: asyncio.AbstractEventLoop, owner: int, proxy: Proxy) -> None:
    """Exit when ``owner`` dies before it told us which container to follow."""
    try:
        fd = os.pidfd_open(owner)
    except OSError:
        proxy.done.set()  # already gone
        return

    def owner_died() -> None:
        loop.remove_reader(fd)
        os.close(fd)
        if proxy.watching is None:
            proxy.done.set()

    loop.add_reader(fd, owner_died)


async def serve(listen_port: int, upstream_host: str, upstream_port: int, owner: int) -> None:
    proxy = Proxy(upstream_host, upstream_port)
    if owner:
        _watch_owner(asyncio.get_running_loop(), owner, proxy)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen_port)
    control = await asyncio.start_server(proxy.control, "127.0.0.1", 0)
    listen = server.sockets[0].getsockname()[1]
    control_port = control.sockets[0].getsockname()[1]
    # The one line the starter waits for; nothing is written to stdout afterwards.
    sys.stdout.write(json.dumps({"listen": listen, "control": control_port}) + "\n")
    sys.stdout.flush()
    sys.stdout.close()
    async with server, control:
        await proxy.done.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m envctl.faults.proxy")
    parser.add_argument("--listen-port", type=int, default=0)
    parser.add_argument("--upstream", required=True, help="127.0.0.1:PORT")
    parser.add_argument("--owner-pid", type=int, default=0)
    args = parser.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen_port, host or "127.0.0.1", int(port), args.owner_pid))


if __name__ == "__main__":
    main()
