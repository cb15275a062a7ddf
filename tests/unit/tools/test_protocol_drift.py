"""The drift check finds every API difference between a real tool and its mock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pytest

from envctl.scenario import Scenario
from envctl.scenario.spec import DependencyMode
from envctl.tools import (
    MockToolFactory,
    RealToolFactory,
    ToolRegistry,
    ToolRequest,
    check_protocols,
    format_divergences,
    resolve_tools,
)
from envctl.tools.drift import Divergence, compare_classes
from envctl.tools.errors import ProtocolDriftWarning
from envctl.tools.protocols import KeyValueStore

MOCK = DependencyMode.MOCK
REAL = DependencyMode.REAL


class RealCache:
    requires_registry = True

    def get(self, key: str) -> str | None:
        return None

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        return None

    def delete(self, *keys: str) -> int:
        return 0

    def keys(self, pattern: str = "*") -> list[str]:
        return []

    def hgetall(self, key: str) -> dict[str, str]:
        return {}

    def hset(self, key: str, mapping: Mapping[str, str]) -> int:
        return 0

    def close(self) -> None:
        return None

    @property
    def aio(self) -> Any:
        return None

    def flush(self) -> None:
        return None


class DriftedCache:
    """Everything a mock can get wrong."""

    def get(self, key: str, default: str | None = None) -> str | None:  # extra parameter
        return default

    def set(self, key: str, value: str, *, ttl: float | None = None) -> None:  # kind
        return None

    def delete(self, *keys: str) -> bool:  # return annotation
        return False

    def keys(self, pattern: str = "?") -> list[str]:  # default
        return []

    async def hgetall(self, key: str) -> dict[str, str]:  # coroutine instead of method
        return {}

    def hset(self, key: str, mapping: Mapping[str, str]) -> int:
        return 0

    def close(self) -> None:
        return None

    @property
    def aio(self) -> Any:
        return None

    def reset(self) -> None:  # mock-only helper
        return None

    # flush: missing


class CacheReal(RealToolFactory):
    service_type: ClassVar[str] = "cache"
    tool_class: ClassVar[type[Any]] = RealCache
    protocol: ClassVar[type[Any]] = KeyValueStore

    def create(self, request: ToolRequest) -> Any:
        return RealCache()


class CacheMock(MockToolFactory):
    service_type: ClassVar[str] = "cache"
    tool_class: ClassVar[type[Any]] = DriftedCache

    def create(self, request: ToolRequest) -> Any:
        return DriftedCache()


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry(entry_points=False)


def by_member(divergences: list[Divergence]) -> dict[str, str]:
    return {d.member: d.kind for d in divergences}


def test_builtin_pairs_have_no_drift(registry: ToolRegistry) -> None:
    assert check_protocols(registry) == []
    assert format_divergences([]).startswith("no protocol drift")


def test_a_divergent_pair_is_reported_member_by_member(registry: ToolRegistry) -> None:
    registry.register(CacheReal())
    registry.register(CacheMock())
    found = [d for d in check_protocols(registry) if d.service_type == "cache"]
    assert by_member(found) == {
        "get": "parameters",
        "set": "parameters",
        "delete": "return",
        "keys": "parameters",
        "hgetall": "kind",
        "flush": "missing",
        "reset": "missing",
    }
    keys = next(d for d in found if d.member == "keys")
    assert keys.real_detail == "method (pattern='*') -> list[str]"
    assert keys.mock_detail == "method (pattern='?') -> list[str]"
    assert keys.real.endswith("RealCache") and keys.mock.endswith("DriftedCache")
    setter = next(d for d in found if d.member == "set")
    assert setter.mock_detail == "method (key, value, *, ttl=None) -> None"
    hgetall = next(d for d in found if d.member == "hgetall")
    assert hgetall.mock_detail.startswith("coroutine method")
    assert {d.face for d in found} == {"sync"}


def test_members_the_protocol_requires_are_checked_on_both_sides() -> None:
    class Bare:
        def get(self, key: str) -> str | None:
            return None

    found = compare_classes(Bare, Bare, service_type="x", face="sync", protocol=KeyValueStore)
    assert {d.member for d in found} == {"set", "delete", "keys", "hgetall", "hset", "close", "aio"}
    assert all("protocol KeyValueStore has it" in d.real_detail for d in found)


def test_async_faces_are_compared_too() -> None:
    class RealAsync:
        async def get(self, key: str) -> str | None:
            return None

    class MockAsync:
        def get(self, key: str) -> str | None:  # forgot async
            return None

    class Real(CacheReal):
        async_tool_class: ClassVar[type[Any] | None] = RealAsync

    class Mock(CacheMock):
        tool_class: ClassVar[type[Any]] = RealCache
        async_tool_class: ClassVar[type[Any] | None] = MockAsync

    registry = ToolRegistry(builtins=False, entry_points=False)
    registry.register(Real())
    registry.register(Mock())
    found = check_protocols(registry)
    get = next(d for d in found if d.face == "async" and d.member == "get")
    assert get.kind == "kind"


def test_a_type_without_counterpart_is_unpaired(registry: ToolRegistry) -> None:
    registry.register(CacheReal())
    (found,) = [d for d in check_protocols(registry) if d.service_type == "cache"]
    assert found.kind == "unpaired"
    assert found.mock_detail == "no mock factory registered"


def test_format_lists_each_divergence(registry: ToolRegistry) -> None:
    registry.register(CacheReal())
    registry.register(CacheMock())
    text = format_divergences(check_protocols(registry))
    assert text.splitlines()[0] == "cache:"
    assert "  [sync] keys: parameters differ" in text
    assert "      real tests" not in text  # module names, not file paths
    assert text.splitlines()[-1] == "7 divergences"
    get = next(d for d in check_protocols(registry) if d.member == "get")
    assert str(get).startswith("cache [sync] get: parameters differ — real ")


def test_resolving_a_divergent_pair_warns_once(
    registry: ToolRegistry, scenario: Callable[..., Scenario], namespace: str
) -> None:
    registry.register(CacheReal())
    registry.register(CacheMock())

    from envctl.scenario.spec import ServiceSpecBase

    # The scenario model knows no 'cache' type: resolve over a hand-made spec instead.
    model = scenario({"kv": {"type": "redis"}})
    spec = ServiceSpecBase.model_validate({"type": "cache"})
    model.external_services["kv"] = spec  # type: ignore[assignment]
    with pytest.warns(ProtocolDriftWarning, match="service type 'cache' differ") as record:
        resolve_tools(model, None, MOCK, namespace=namespace, registry=registry)
    assert "keys: parameters differ" in str(record[0].message)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ProtocolDriftWarning)
        resolve_tools(model, None, MOCK, namespace=namespace, registry=registry)
