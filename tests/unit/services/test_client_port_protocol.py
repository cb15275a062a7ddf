"""`ports: ["9092/udp"]` publishes a UDP port beside Kafka's TCP client port, never instead
of it (issue 10 §3b)."""

from __future__ import annotations

from pathlib import Path

from envctl.environment import build_plugin
from envctl.scenario.models import Scenario
from envctl.settings import Settings


def test_udp_port_does_not_replace_the_tcp_client_port(tmp_path: Path) -> None:
    scenario = Scenario.model_validate(
        {
            "name": "udp",
            "dependency_mode": "real",
            "external_services": {"kafka": {"type": "kafka", "ports": ["9092/udp"]}},
        }
    )
    plugin = build_plugin(scenario, "kafka", "r1", Settings.load(environ={}, cwd=tmp_path))
    ports = sorted((p.container, p.protocol) for p in plugin.ports())
    assert ports == [(9092, "tcp"), (9092, "udp")]
