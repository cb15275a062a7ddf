"""Logical names in steps, physical names on real services: the run's namespace, applied to
the tools the runner hands to steps and ``call`` functions.

The engine creates a run's topics (and groups, keys) under physical names
(``envctl.<run>.orders``, see :mod:`envctl.namespace`); steps and scenario code keep using
the logical ones (``orders``). These proxies translate arguments on the way in (topic,
topics, group, keys) and results on the way out (a message's or delivery's topic, listed
keys and groups), for the sync and the async face alike. Mock tools need none of this:
their state is already private to the run.

The proxies follow the tool protocols (:class:`~envctl.tools.protocols.EventBus`,
:class:`~envctl.tools.protocols.KeyValueStore`); a service type picks one in its plugin's
``namespaced_tool`` hook. When the tools accept a namespace themselves, :func:`namespaced`
is the one call to drop.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from envctl.services.registry import plugin_for
from envctl.tools.errors import ToolError

_TOPIC_FIRST = {"publish", "consume", "create_topic"}


def namespaced(tool: Any, service_type: str, namespace: Any) -> Any:
    """``tool`` speaking logical names, or ``tool`` itself when there is nothing to map
    (the type's plugin chooses the proxy: ``ServicePlugin.namespaced_tool``)."""
    if namespace is None:
        return tool
    return plugin_for(service_type).namespaced_tool(tool, namespace)


def _name_topics(exc: ToolError, namespace: Any) -> None:
    """Name the run's topics in a tool's error as the scenario does, the physical name beside
    (``topic 'orders' (envctl.3f2a9c1d.orders) does not exist``); its ``topic`` becomes the
    logical name, as a mock's error has it."""
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (namespace.shown_topics_in(exc.args[0]), *exc.args[1:])
    topic = getattr(exc, "topic", None)
    logical = namespace.logical_topic(topic) if isinstance(topic, str) else None
    if logical is not None:
        exc.topic = logical  # type: ignore[attr-defined]


def _maybe_async(result: Any, convert: Callable[[Any], Any], namespace: Any = None) -> Any:
    if inspect.isawaitable(result):

        async def converted() -> Any:
            try:
                value = await result
            except ToolError as exc:
                if namespace is not None:
                    _name_topics(exc, namespace)
                raise
            return convert(value)

        return converted()
    return convert(result)


class _Proxy:
    def __init__(self, tool: Any, namespace: Any) -> None:
        self._tool = tool
        self._ns = namespace

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tool, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._tool!r})"


class NamespacedEventBus(_Proxy):
    """An event bus whose topics and groups are the run's logical names."""

    def _logical(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self._logical(v) for v in value]
        topic = getattr(value, "topic", None)
        if isinstance(topic, str) and dataclasses.is_dataclass(value):
            logical = self._ns.logical_topic(topic)
            if logical is not None:
                return dataclasses.replace(value, topic=logical)  # type: ignore[type-var]
        if hasattr(value, "poll") and hasattr(value, "commit"):
            # each face keeps its own protocol: `async with` / `async for` on the async one
            if hasattr(type(value), "__aiter__"):
                return NamespacedAsyncSubscription(value, self)
            return NamespacedSubscription(value, self)
        return value

    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ns = self._ns
        args_list = list(args)
        if name in _TOPIC_FIRST:
            if args_list:
                args_list[0] = ns.topic(args_list[0])
            elif "topic" in kwargs:
                kwargs["topic"] = ns.topic(kwargs["topic"])
        if name == "subscribe":
            topics: Any = args_list[0] if args_list else kwargs.get("topics", [])
            mapped = ns.topic(topics) if isinstance(topics, str) else [ns.topic(t) for t in topics]
            if args_list:
                args_list[0] = mapped
            else:
                kwargs["topics"] = mapped
            if len(args_list) > 1:
                args_list[1] = ns.group(args_list[1])
        if kwargs.get("group") is not None:
            kwargs["group"] = ns.group(kwargs["group"])
        try:
            result = getattr(self._tool, name)(*args_list, **kwargs)
        except ToolError as exc:
            _name_topics(exc, ns)
            raise
        if name == "list_consumer_groups":
            return _maybe_async(
                result,
                lambda groups: sorted(g for g in map(ns.logical_group, groups) if g is not None),
                ns,
            )
        return _maybe_async(result, self._logical, ns)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tool, name)
        if name == "aio":
            return NamespacedEventBus(attr, self._ns)
        if not callable(attr) or name in ("close", "cleanup"):
            return attr

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, args, kwargs)

        return method


class NamespacedSubscription(_Proxy):
    """A subscription yielding messages with logical topic names."""

    def __init__(self, subscription: Any, bus: NamespacedEventBus) -> None:
        super().__init__(subscription, bus._ns)
        self._bus = bus

    def __iter__(self) -> Iterator[Any]:
        messages = iter(self._tool)
        while True:
            try:
                message = next(messages)
            except StopIteration:
                return
            except ToolError as exc:
                _name_topics(exc, self._ns)
                raise
            yield self._bus._logical(message)

    def __next__(self) -> Any:
        try:
            return self._bus._logical(next(self._tool))
        except ToolError as exc:
            _name_topics(exc, self._ns)
            raise

    def poll(self, timeout: float = 1.0) -> Any:
        try:
            return _maybe_async(self._tool.poll(timeout), self._bus._logical, self._ns)
        except ToolError as exc:
            _name_topics(exc, self._ns)
            raise

    def __enter__(self) -> NamespacedSubscription:
        self._tool.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._tool.__exit__(*exc)


class NamespacedAsyncSubscription(_Proxy):
    """The async face's subscription, yielding messages with logical topic names.

    Special methods are looked up on the type, never through ``__getattr__``: each one the
    async protocol has (``async with``, ``async for``) is spelled out here.
    """

    def __init__(self, subscription: Any, bus: NamespacedEventBus) -> None:
        super().__init__(subscription, bus._ns)
        self._bus = bus

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        try:
            return self._bus._logical(await self._tool.__anext__())
        except ToolError as exc:
            _name_topics(exc, self._ns)
            raise

    async def poll(self, timeout: float = 1.0) -> Any:
        try:
            return self._bus._logical(await self._tool.poll(timeout))
        except ToolError as exc:
            _name_topics(exc, self._ns)
            raise

    async def commit(self) -> None:
        await self._tool.commit()

    async def close(self) -> None:
        await self._tool.close()

    async def __aenter__(self) -> NamespacedAsyncSubscription:
        await self._tool.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._tool.__aexit__(*exc)


class NamespacedKeyValueStore(_Proxy):
    """A key-value store whose keys are the run's logical keys (a prefix on the server)."""

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._tool, name)
        if name == "aio":
            return NamespacedKeyValueStore(attr, self._ns)
        if not callable(attr) or name == "close":
            return attr
        ns = self._ns

        def method(*args: Any, **kwargs: Any) -> Any:
            if name == "delete":
                return attr(*(ns.key(k) for k in args), **kwargs)
            if name == "keys":
                pattern = args[0] if args else kwargs.pop("pattern", "*")
                return _maybe_async(
                    attr(ns.key(pattern), **kwargs),
                    lambda keys: sorted(k for k in map(ns.logical_key, keys) if k is not None),
                )
            if args:
                return attr(ns.key(args[0]), *args[1:], **kwargs)
            if "key" in kwargs:
                kwargs["key"] = ns.key(kwargs["key"])
            return attr(**kwargs)

        return method
