"""Which tool each service gets: built-ins, entry points, register_factory, the audit record."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from conftest import UNREACHABLE_DSN, UNREACHABLE_KAFKA, UNREACHABLE_REDIS, quietly

from envctl.scenario import Scenario
from envctl.scenario.spec import DependencyMode
from envctl.services.base import PhaseTimeouts
from envctl.tools import (
    InMemoryEventBus,
    InMemoryKeyValueStore,
    KafkaEventBus,
    MockToolFactory,
    PostgresStore,
    RealToolFactory,
    RedisStore,
    SqliteSqlStore,
    ToolRegistry,
    ToolRequest,
    mock_state_key,
    register_factory,
    resolve_tools,
)
from envctl.tools.errors import (
    ProtocolDriftWarning,
    RequiresRegistryWarning,
    ToolResolutionError,
)
from envctl.tools.registry import ENTRY_POINT_GROUP, default_registry

SERVICES = {
    "kafka": {"type": "kafka", "topics": [{"name": "orders", "partitions": 3}]},
    "db": {"type": "postgres"},
    "cache": {"type": "redis"},
    "app": {"type": "generic", "image": "busybox"},
}
ENDPOINTS: dict[str, dict[str, Any]] = {
    "kafka": {"bootstrap_servers": UNREACHABLE_KAFKA},
    "db": {"dsn": UNREACHABLE_DSN, "host": "127.0.0.1", "port": 1},
    "cache": {"url": UNREACHABLE_REDIS},
}

MOCK = DependencyMode.MOCK
REAL = DependencyMode.REAL


@pytest.fixture
def registry() -> ToolRegistry:
    """Built-ins only: the machine's installed plugins do not leak into these tests."""
    return ToolRegistry(entry_points=False)


@pytest.fixture
def full(scenario: Callable[..., Scenario]) -> Scenario:
    return scenario(SERVICES)


def test_mock_mode_builds_the_doubles(
    full: Scenario, registry: ToolRegistry, namespace: str
) -> None:
    tools = resolve_tools(full, None, DependencyMode.MOCK, namespace=namespace, registry=registry)
    assert isinstance(tools["kafka"], InMemoryEventBus)
    assert isinstance(tools["db"], SqliteSqlStore)
    assert isinstance(tools["cache"], InMemoryKeyValueStore)
    assert "app" not in tools
    assert sorted(tools) == ["cache", "db", "kafka"]
    # the declared topics exist in the mock, as envctl up would have created them
    assert tools.event_bus().publish("orders", "x", partition=2).partition == 2
    assert tools.audit == [
        {
            "service": "kafka",
            "type": "kafka",
            "mode": "mock",
            "factory": "envctl.services.kafka.factories.KafkaMockFactory",
            "source": "builtin",
            "tool": "envctl.services.kafka.mock.InMemoryEventBus",
        },
        {
            "service": "db",
            "type": "postgres",
            "mode": "mock",
            "factory": "envctl.services.postgres.factories.PostgresMockFactory",
            "source": "builtin",
            "tool": "envctl.services.sql.mock.SqliteSqlStore",
        },
        {
            "service": "cache",
            "type": "redis",
            "mode": "mock",
            "factory": "envctl.services.redis.factories.RedisMockFactory",
            "source": "builtin",
            "tool": "envctl.services.redis.mock.InMemoryKeyValueStore",
        },
        {
            "service": "app",
            "type": "generic",
            "mode": "mock",
            "factory": None,
            "source": "no tool for type 'generic'",
            "tool": None,
        },
    ]
    tools.close()


def test_real_mode_builds_real_tools_without_connecting_or_warning(
    full: Scenario, registry: ToolRegistry
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RequiresRegistryWarning)
        tools = resolve_tools(full, ENDPOINTS, REAL, registry=registry)
    bus = tools["kafka"]
    assert isinstance(bus, KafkaEventBus)
    assert bus.bootstrap_servers == UNREACHABLE_KAFKA
    assert isinstance(tools["db"], PostgresStore)
    assert isinstance(tools["cache"], RedisStore)
    assert {c["mode"] for c in tools.audit} == {"real"}
    assert tools.close() == []


def test_mode_per_service(full: Scenario, registry: ToolRegistry, namespace: str) -> None:
    tools = resolve_tools(
        full,
        {"kafka": ENDPOINTS["kafka"]},
        {"kafka": DependencyMode.REAL},  # the rest: the scenario's mode (mock by default)
        namespace=namespace,
        registry=registry,
    )
    assert isinstance(tools["kafka"], KafkaEventBus)
    assert isinstance(tools["db"], SqliteSqlStore)
    assert tools.modes == {
        "kafka": DependencyMode.REAL,
        "db": DependencyMode.MOCK,
        "cache": DependencyMode.MOCK,
        "app": DependencyMode.MOCK,
    }
    tools.close()


def test_mock_tools_of_one_namespace_share_state(
    full: Scenario, registry: ToolRegistry, namespace: str
) -> None:
    first = resolve_tools(full, None, MOCK, namespace=namespace, registry=registry)
    second = resolve_tools(full, None, MOCK, namespace=namespace, registry=registry)
    first.kv_store().set("k", "v")
    assert second.kv_store().get("k") == "v"
    assert InMemoryKeyValueStore(mock_state_key(namespace, "cache")).get("k") == "v"


def test_real_mode_needs_endpoints(full: Scenario, registry: ToolRegistry) -> None:
    with pytest.raises(
        ToolResolutionError, match=r"service 'kafka'.*real mode but has no endpoints"
    ):
        resolve_tools(full, None, REAL, registry=registry)


def test_missing_endpoint_field_is_named(
    scenario: Callable[..., Scenario], registry: ToolRegistry
) -> None:
    with pytest.raises(ToolResolutionError, match="no endpoint 'dsn' \\(it has: host\\)"):
        resolve_tools(
            scenario({"db": {"type": "postgres"}}), {"db": {"host": "x"}}, REAL, registry=registry
        )


def test_timeouts_reach_the_tool(scenario: Callable[..., Scenario], registry: ToolRegistry) -> None:
    services = {"kafka": {"type": "kafka"}}
    from_profile = resolve_tools(
        scenario(services, timeout_profiles={"kafka": {"publish_ack": 3}}),
        ENDPOINTS,
        REAL,
        registry=registry,
    )
    assert from_profile["kafka"].publish_ack == 3
    assert from_profile["kafka"].admin_timeout == 30  # the kafka type's setup default
    given = resolve_tools(
        scenario(services),
        ENDPOINTS,
        REAL,
        timeouts={"kafka": PhaseTimeouts(publish_ack=7, setup=4)},
        registry=registry,
    )
    assert (given["kafka"].publish_ack, given["kafka"].admin_timeout) == (7, 4)


def test_picking_the_only_tool_of_a_kind(
    full: Scenario, scenario: Callable[..., Scenario], registry: ToolRegistry, namespace: str
) -> None:
    tools = resolve_tools(full, None, MOCK, namespace=namespace, registry=registry)
    assert tools.sql_store() is tools["db"]
    assert tools.kv_store("cache") is tools["cache"]
    with pytest.raises(ToolResolutionError, match="service 'db' has no event bus"):
        tools.event_bus("db")
    with pytest.raises(ToolResolutionError, match="no tool for service 'app'"):
        tools["app"]
    two = scenario({"a": {"type": "kafka"}, "b": {"type": "kafka"}})
    both = resolve_tools(two, None, MOCK, namespace=namespace, registry=registry)
    with pytest.raises(ToolResolutionError, match="2 services with a event bus \\(a, b\\)"):
        both.event_bus()


# -- third-party factories ---------------------------------------------------------------------
class NatsBus:
    """A stand-in third-party tool."""

    def __init__(self, request: ToolRequest) -> None:
        self.request = request

    def close(self) -> None:
        return None


class NatsMockFactory(MockToolFactory):
    service_type: ClassVar[str] = "kafka"
    tool_class: ClassVar[type[Any]] = NatsBus

    def create(self, request: ToolRequest) -> NatsBus:
        return NatsBus(request)


class OtherMockFactory(NatsMockFactory):
    pass


class FakeEntryPoint:
    def __init__(self, name: str, value: str, loaded: Any) -> None:
        self.name = name
        self.value = value
        self.group = ENTRY_POINT_GROUP
        self._loaded = loaded

    def load(self) -> Any:
        if isinstance(self._loaded, Exception):
            raise self._loaded
        return self._loaded


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, *points: FakeEntryPoint) -> None:
    import importlib.metadata

    def entry_points(*, group: str) -> list[FakeEntryPoint]:
        return list(points) if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


def test_entry_point_factory_overrides_the_builtin(
    monkeypatch: pytest.MonkeyPatch, scenario: Callable[..., Scenario], namespace: str
) -> None:
    fake_entry_points(
        monkeypatch, FakeEntryPoint("nats", "nats_envctl:FACTORIES", [NatsMockFactory])
    )
    registry = ToolRegistry()
    with pytest.warns(ProtocolDriftWarning, match="service type 'kafka' differ"):
        tools = resolve_tools(
            scenario({"bus": {"type": "kafka"}}),
            None,
            MOCK,
            namespace=namespace,
            registry=registry,
        )
    assert isinstance(tools["bus"], NatsBus)
    assert tools["bus"].request.state_key == f"{namespace}/bus"
    (choice,) = tools.audit
    assert choice["factory"] == f"{__name__}.NatsMockFactory"
    assert choice["source"] == "entry point 'nats = nats_envctl:FACTORIES'"


def test_register_factory_wins_over_entry_points(
    monkeypatch: pytest.MonkeyPatch, scenario: Callable[..., Scenario], namespace: str
) -> None:
    fake_entry_points(monkeypatch, FakeEntryPoint("nats", "x:y", NatsMockFactory()))
    registry = ToolRegistry()
    register_factory(OtherMockFactory, registry=registry)
    with pytest.warns(ProtocolDriftWarning):
        tools = resolve_tools(
            scenario({"bus": {"type": "kafka"}}),
            None,
            MOCK,
            namespace=namespace,
            registry=registry,
        )
    assert tools.audit[0]["factory"] == f"{__name__}.OtherMockFactory"
    assert tools.audit[0]["source"].startswith("register_factory")
    registry.unregister("kafka", DependencyMode.MOCK)
    again = resolve_tools(
        scenario({"bus": {"type": "kafka"}}), None, MOCK, namespace=namespace, registry=registry
    )
    assert again.audit[0]["factory"] == f"{__name__}.NatsMockFactory"


def test_two_entry_points_for_one_key_are_an_error(
    monkeypatch: pytest.MonkeyPatch, scenario: Callable[..., Scenario]
) -> None:
    fake_entry_points(
        monkeypatch,
        FakeEntryPoint("one", "a:b", NatsMockFactory),
        FakeEntryPoint("two", "c:d", OtherMockFactory),
    )
    registry = ToolRegistry()
    with pytest.raises(ToolResolutionError, match="2 installed packages provide the mock tool"):
        resolve_tools(scenario({"bus": {"type": "kafka"}}), None, MOCK, registry=registry)
    # other types are unaffected
    resolve_tools(scenario({"db": {"type": "postgres"}}), None, MOCK, registry=registry)


def test_broken_entry_point_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, FakeEntryPoint("bad", "gone:X", ImportError("no module")))
    with pytest.raises(ToolResolutionError, match=r"entry point 'bad = gone:X'.*ImportError"):
        ToolRegistry()


def test_entry_point_object_must_be_a_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, FakeEntryPoint("odd", "m:x", object()))
    with pytest.raises(ToolResolutionError, match="is not a tool factory"):
        ToolRegistry()


def test_a_type_with_only_a_real_tool_fails_in_mock_mode(
    scenario: Callable[..., Scenario], registry: ToolRegistry
) -> None:
    class QueueRealFactory(RealToolFactory):
        service_type: ClassVar[str] = "generic"
        tool_class: ClassVar[type[Any]] = NatsBus

        def create(self, request: ToolRequest) -> NatsBus:
            return NatsBus(request)

    registry.register(QueueRealFactory())
    with pytest.raises(ToolResolutionError, match="only a real tool is registered"):
        resolve_tools(
            scenario({"q": {"type": "generic", "image": "x"}}), None, MOCK, registry=registry
        )


def test_the_default_registry_is_built_once() -> None:
    assert default_registry() is default_registry()
    assert {"kafka", "postgres", "redis"} <= set(default_registry().service_types())


# -- RequiresRegistryWarning -------------------------------------------------------------------
@pytest.mark.parametrize(
    "build",
    [
        lambda: KafkaEventBus(UNREACHABLE_KAFKA),
        lambda: PostgresStore(UNREACHABLE_DSN),
        lambda: RedisStore(UNREACHABLE_REDIS),
    ],
    ids=["kafka", "postgres", "redis"],
)
def test_real_tools_built_directly_warn(build: Callable[[], Any]) -> None:
    with pytest.warns(RequiresRegistryWarning, match="requires_registry") as record:
        tool = build()
    assert record[0].filename == __file__  # points at the caller
    assert type(tool).requires_registry is True
    tool.close()


def test_async_real_faces_built_directly_warn_once() -> None:
    from envctl.tools import AsyncKafkaEventBus, AsyncPostgresStore, AsyncRedisStore

    for build in (
        lambda: AsyncKafkaEventBus(UNREACHABLE_KAFKA),
        lambda: AsyncPostgresStore(UNREACHABLE_DSN),
        lambda: AsyncRedisStore(UNREACHABLE_REDIS),
    ):
        with pytest.warns(RequiresRegistryWarning) as record:
            build()
        assert len(record) == 1


def test_mocks_built_directly_do_not_warn(namespace: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        InMemoryEventBus(namespace)
        InMemoryKeyValueStore(namespace)
        SqliteSqlStore(namespace)


def test_quietly_helper_builds_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quietly(lambda: KafkaEventBus(UNREACHABLE_KAFKA)).close()
