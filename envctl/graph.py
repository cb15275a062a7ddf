"""The dependency graph over a scenario's services, and its start order.

Order comes from the standard library (``graphlib``, ``heapq``): importing networkx costs the
CLI 150-450 ms on every start, for graphs of a handful of services. networkx is imported
only to name a cycle once one is known to exist (its cycle search gives the messages users
see, e.g. ``cache -> db -> cache``).
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envctl.errors import ConfigError

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class MissingDependency:
    service: str
    index: int
    missing: str


def missing_dependencies(depends_on: Mapping[str, Sequence[str]]) -> list[MissingDependency]:
    """Every ``depends_on`` entry that names no defined service."""
    return [
        MissingDependency(service, index, dep)
        for service, deps in depends_on.items()
        for index, dep in enumerate(deps)
        if dep not in depends_on
    ]


def _has_cycle(depends_on: Mapping[str, Sequence[str]]) -> bool:
    sorter = graphlib.TopologicalSorter(
        {s: [d for d in deps if d in depends_on] for s, deps in depends_on.items()}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError:
        return True
    return False


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, a]``, or None."""
    if not _has_cycle(depends_on):
        return None
    import networkx as nx  # only to name the cycle (see the module docstring)

    graph = _digraph(depends_on)
    # nx.find_cycle without a source restarts its search from every node (quadratic on a
    # long chain); a strongly connected component with an edge holds a cycle, and one
    # search from inside it finds it (both linear).
    component = next(
        (
            c
            for c in nx.strongly_connected_components(graph)
            if len(c) > 1 or graph.has_edge(next(iter(c)), next(iter(c)))
        ),
        None,
    )
    if component is None:
        return None
    start = min(component)
    try:
        edges = nx.find_cycle(graph.subgraph(component), source=start)
    except nx.NetworkXNoCycle:  # pragma: no cover - a component of 2+ nodes has a cycle
        return None
    # Edges point dependency -> dependent; print the cycle in "depends on" direction.
    nodes = [edges[0][0], *(v for _, v in edges)]
    return list(reversed(nodes))


def format_cycle(cycle: Iterable[str]) -> str:
    return " -> ".join(cycle)


def _digraph(depends_on: Mapping[str, Sequence[str]]) -> nx.DiGraph[str]:
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(sorted(depends_on))
    for service, deps in depends_on.items():
        for dep in deps:
            if dep in depends_on:
                graph.add_edge(dep, service)
    return graph


class ServiceGraph:
    """Services as nodes, an edge from each dependency to its dependent (acyclic)."""

    def __init__(self, depends_on: Mapping[str, Sequence[str]]) -> None:
        problems = [
            f"service '{m.service}' depends on '{m.missing}', which is not defined"
            for m in missing_dependencies(depends_on)
        ]
        cycle = find_cycle(depends_on)
        if cycle:
            problems.append(f"dependency cycle: {format_cycle(cycle)}")
        if problems:
            raise ConfigError("; ".join(problems))
        self._preds: dict[str, set[str]] = {
            s: {d for d in deps if d in depends_on} for s, deps in depends_on.items()
        }
        self._succs: dict[str, set[str]] = {s: set() for s in depends_on}
        for service, deps in self._preds.items():
            for dep in deps:
                self._succs[dep].add(service)

    @property
    def services(self) -> list[str]:
        """Topological order, the smallest name first among those ready (as networkx's
        lexicographical_topological_sort)."""
        waiting = {s: len(d) for s, d in self._preds.items()}
        ready = [s for s, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            service = heapq.heappop(ready)
            order.append(service)
            for dependent in self._succs[service]:
                waiting[dependent] -= 1
                if waiting[dependent] == 0:
                    heapq.heappush(ready, dependent)
        return order

    def dependencies(self, service: str) -> list[str]:
        return sorted(self._preds[service])

    def dependents(self, service: str) -> list[str]:
        return sorted(self._succs[service])

    def _reach(self, service: str, edges: Mapping[str, set[str]]) -> list[str]:
        seen: set[str] = set()
        todo = list(edges[service])
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(edges[node])
        return sorted(seen)

    def all_dependencies(self, service: str) -> list[str]:
        """Every service ``service`` needs, directly or not."""
        return self._reach(service, self._preds)

    def all_dependents(self, service: str) -> list[str]:
        """Every service that needs ``service``, directly or not."""
        return self._reach(service, self._succs)

    def levels(self) -> list[list[str]]:
        """Start order as levels: each level needs only services of earlier levels."""
        waiting = {s: len(d) for s, d in self._preds.items()}
        level = sorted(s for s, n in waiting.items() if n == 0)
        levels: list[list[str]] = []
        while level:
            levels.append(level)
            following: list[str] = []
            for service in level:
                for dependent in self._succs[service]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        following.append(dependent)
            level = sorted(following)
        return levels

    def to_dot(self, name: str = "scenario") -> str:
        lines = [f'digraph "{name}" {{', "  rankdir=LR;"]
        lines += [f'  "{node}";' for node in self.services]
        edges = sorted((dep, s) for s, deps in self._preds.items() for dep in deps)
        lines += [f'  "{a}" -> "{b}";' for a, b in edges]
        lines.append("}")
        return "\n".join(lines)
