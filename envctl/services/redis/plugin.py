"""Redis: the official image's contract, readiness by ``PING`` over the published port."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

from envctl.namespace import Namespace
from envctl.scenario.spec import ServiceSpecBase, StrictModel, service_variable
from envctl.services.base import (
    Endpoints,
    PhaseTimeouts,
    ProbeFailed,
    ServiceHandle,
    ServicePlugin,
    mask_url,
    secret,
    with_password,
)
from envctl.services.healthcheck import HealthCheck, NoHealthCheck

REDIS_PORT = 6379
REDIS_IMAGE = "redis:7"


class RedisSeed(StrictModel):
    """Keys written under the run's key prefix before the scenario runs."""

    from_: str = Field(
        alias="from",
        description="YAML/JSON file: a mapping key: value, or a list of {key, value, type, ttl} "
        "(type: string, hash, list, set, zset; ttl in seconds).",
    )


class RedisSpec(ServiceSpecBase):
    """A Redis server (image ``redis`` or one that answers the same protocol)."""

    type: Literal["redis"]
    seed: list[RedisSeed] = Field(
        default_factory=list, description="Seed files of keys, written in order."
    )


class RedisService(ServicePlugin[RedisSpec]):
    type_name: ClassVar[str] = "redis"
    spec_model = RedisSpec
    default_image: ClassVar[str] = REDIS_IMAGE
    client_modules: ClassVar[tuple[str, ...]] = ("redis",)
    data_module: ClassVar[str | None] = "envctl.services.redis.data"
    native_module: ClassVar[str | None] = "envctl.services.redis.native"
    service_port: ClassVar[int | None] = REDIS_PORT
    default_timeouts: ClassVar[PhaseTimeouts] = PhaseTimeouts(
        startup=30, health_check=30, setup=10, seed=30
    )

    def container_env(self, host_ports: Mapping[int, int]) -> dict[str, str]:
        return {}

    def endpoints(self, host_ports: Mapping[int, int]) -> Endpoints:
        port = host_ports[REDIS_PORT]
        return {"url": f"redis://127.0.0.1:{port}/0", "host": "127.0.0.1", "port": port}

    def external_endpoints(self, url: str, credentials: Mapping[str, str]) -> Endpoints:
        from envctl.errors import ServiceFailed

        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ServiceFailed(
                self.context.service,
                f"url '{url.split('@')[-1]}' is not a Redis URL; write redis://HOST:PORT/DB "
                "(or rediss:// for TLS)",
            )
        from envctl.scenario.spec import ServiceMode

        password = credentials.get("PASSWORD")
        if self.spec.mode == ServiceMode.CLOUD and not password and parts.password is None:
            raise ServiceFailed(
                self.context.service,
                f"mode: cloud needs {service_variable(self.context.service, 'PASSWORD')} in the "
                "environment (secrets are never read from the scenario file)",
            )
        real = with_password(url, password) if password else url
        result: Endpoints = {"url": mask_url(real), "_url": real}
        if parts.scheme != "unix":
            try:
                result["port"] = parts.port or REDIS_PORT
            except ValueError:
                raise ServiceFailed(
                    self.context.service, f"url '{url.split('@')[-1]}' has an invalid port"
                ) from None
            result["host"] = parts.hostname or "localhost"
        return result

    # -- lifecycle -------------------------------------------------------------------
    def probe(self, handle: ServiceHandle, timeout: float) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One attempt per call: the engine owns retrying and the deadline.
        client = redis.Redis.from_url(
            secret(handle.endpoints, "url"),
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            answered = client.ping()
        except redis.RedisError as exc:
            raise ProbeFailed(f"PING failed: {' '.join(str(exc).split())}") from None
        finally:
            client.close()
        if answered is not True:
            raise ProbeFailed(f"PING answered {answered!r}")

    # -- data --------------------------------------------------------------------------
    resource_kinds: ClassVar[tuple[str, ...]] = ("databases",)
    """The run's key space counts as its database (cleanup_after: databases)."""
    supports_snapshot: ClassVar[bool] = True

    def setup(self, handle: ServiceHandle, timeout: float) -> None:
        handle.endpoints["key_prefix"] = self.namespace.key_prefix

    def reach(self, handle: ServiceHandle) -> dict[str, str]:
        url = handle.endpoints.get("url", "")
        pattern = self.namespace.key_prefix + "*"
        return {"databases": f"redis-cli -u '{url}' --scan --pattern '{pattern}'"}

    # -- what code outside this package asks ---------------------------------------------
    @classmethod
    def tool_factories(cls) -> Sequence[Any]:
        from envctl.services.redis.factories import FACTORIES  # the tools load on first use

        return FACTORIES

    serves: ClassVar[frozenset[str]] = frozenset({"key_value"})

    @classmethod
    def container_health_check(
        cls, spec: ServiceSpecBase, image: str, start_period: float
    ) -> HealthCheck | NoHealthCheck:
        # PING must answer PONG: a server still loading its data answers an error.
        return HealthCheck(
            ("CMD-SHELL", f"redis-cli -h 127.0.0.1 -p {REDIS_PORT} ping | grep -q PONG"),
            start_period=start_period,
        )

    standard_compose: ClassVar[bool] = True

    @classmethod
    def recognizes_compose_image(cls, name: str) -> bool:
        return name == "redis"

    def resource_names(self, kind: str, handle: ServiceHandle | None) -> list[str]:
        if kind == "databases":  # the run's key space: its key prefix
            return [self.namespace.key_prefix + "*"]
        return super().resource_names(kind, handle)

    @classmethod
    def resources_phrase(cls, kinds: Collection[str]) -> str:
        return "keys"

    @classmethod
    def diff_snapshots(cls, before: Path, after: Path) -> dict[str, Any]:
        from envctl.services.redis.diff import diff_redis

        return diff_redis(before, after)

    @classmethod
    def format_snapshot_diff(cls, diff: dict[str, Any]) -> list[str]:
        from envctl.services.redis.diff import format_diff

        return format_diff(diff)

    @classmethod
    def snapshot_summary(cls, details: Mapping[str, Any]) -> str:
        return f"{details['keys']} keys"

    @classmethod
    def namespaced_tool(cls, tool: Any, namespace: Namespace) -> Any:
        if not namespace.key_prefix:
            return tool
        from envctl.tools.naming import NamespacedKeyValueStore

        return NamespacedKeyValueStore(tool, namespace)

    @classmethod
    def seed_mock(cls, tool: Any, seed: Any, path: Path, service: str) -> None:
        from envctl.services.redis.mock import seed_double

        seed_double(tool, path, service)

    shares_by_namespace: ClassVar[bool] = True

    @classmethod
    def reset_shared(cls, spec: ServiceSpecBase, tool: Any, isolated: bool) -> None:
        keys = tool.keys("*")
        if keys:
            tool.delete(*keys)
