"""``type: echo``: a TCP echo server, readiness by a real round trip.

The smallest complete service type: a spec model, container settings, a probe over the
service's own protocol, an export health check. It runs a Perl echo server on any image
with Perl (the default: envctl's Debian test base) and is registered by this package's
entry point ``echo = "envctl_echo:EchoService"`` in group ``envctl.services``.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from envctl.scenario.spec import ServiceSpecBase
from envctl.services.base import (
    Endpoints,
    PhaseTimeouts,
    ProbeFailed,
    ServiceHandle,
    ServicePlugin,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck

ECHO_PORT = 7
SERVER = (
    "use IO::Socket::INET; $| = 1;"
    "my $s = IO::Socket::INET->new(LocalPort => shift, Listen => 5, ReuseAddr => 1) or die $!;"
    "while (my $c = $s->accept) { while (my $l = <$c>) { print $c $l } close $c }"
)


class EchoSpec(ServiceSpecBase):
    """A TCP echo server: every line sent comes back."""

    type: Literal["echo"]
    greeting: str = Field(default="ping", description="The line the readiness probe sends.")


class EchoService(ServicePlugin[EchoSpec]):
    type_name: ClassVar[str] = "echo"
    spec_model = EchoSpec
    default_image: ClassVar[str] = "envctl-test/debian-base:bookworm"
    service_port: ClassVar[int | None] = ECHO_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(startup=30, health_check=20)
    serves: ClassVar[frozenset[str]] = frozenset()

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        return {}

    def container_command(self) -> list[str]:
        return ["perl", "-e", SERVER, str(ECHO_PORT)]

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        return {"address": f"127.0.0.1:{host_ports[ECHO_PORT]}"}

    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        host, port = str(handle.endpoints["address"]).rsplit(":", 1)
        line = f"{self.spec.greeting}\n".encode()
        try:
            with socket.create_connection((host, int(port)), timeout=timeout) as conn:
                conn.sendall(line)
                answer = conn.recv(len(line))
        except OSError as exc:
            raise ProbeFailed(f"no echo: {exc}") from None
        if answer != line:
            raise ProbeFailed(f"sent {line!r}, got {answer!r}")

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        return HealthCheck(
            ("CMD", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{ECHO_PORT}"),
            start_period=start_period,
        )

    @classmethod
    def external_url(
        cls,
        spec: ServiceSpecBase,
        endpoints: Mapping[str, Any],
        ports: Sequence[tuple[int, int, str]],
    ) -> str | None:
        return str(endpoints["address"])
