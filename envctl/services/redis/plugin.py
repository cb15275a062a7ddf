"""Redis: the official image's contract, readiness by ``PING`` over the published port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field

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
