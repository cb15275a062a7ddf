"""The fault kinds (standard library only: the CLI lists them without loading the models,
so ``envctl --help`` stays fast)."""

from __future__ import annotations

CONTAINER_KINDS = ("kill", "stop", "start", "restart", "pause", "cpu", "memory")
"""Faults done to the container itself through the runtime seam."""
PROXY_KINDS = ("latency", "loss", "bandwidth", "reset", "timeout")
"""Faults done by envctl's TCP proxy on the path between the tests (host) and a service."""
FAULT_KINDS = (*CONTAINER_KINDS, "partition", *PROXY_KINDS)
