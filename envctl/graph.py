"""The dependency graph over a scenario's services (networkx), and its start order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from envctl.errors import ConfigError


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


def find_cycle(depends_on: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as ``[a, b, a]``, or None."""
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


def _digraph(depends_on: Mapping[str, Sequence[str]]) -> nx.DiGraph:
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(sorted(depends_on))
    for service, deps in depends_on.items():
        for dep in deps:
            if dep in depends_on:
                graph.add_edge(dep, service)
    return graph


class ServiceGraph:
    """Services as nodes, an edge from each dependency to its dependent."""

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
        self._graph = _digraph(depends_on)

    @property
    def services(self) -> list[str]:
        return list(nx.lexicographical_topological_sort(self._graph))

    def dependencies(self, service: str) -> list[str]:
        return sorted(self._graph.predecessors(service))

    def dependents(self, service: str) -> list[str]:
        return sorted(self._graph.successors(service))

    def all_dependencies(self, service: str) -> list[str]:
        """Every service ``service`` needs, directly or not."""
        return sorted(nx.ancestors(self._graph, service))

    def all_dependents(self, service: str) -> list[str]:
        """Every service that needs ``service``, directly or not."""
        return sorted(nx.descendants(self._graph, service))

    def levels(self) -> list[list[str]]:
        """Start order as levels: each level needs only services of earlier levels."""
        return [sorted(generation) for generation in nx.topological_generations(self._graph)]

    def to_dot(self, name: str = "scenario") -> str:
        lines = [f'digraph "{name}" {{', "  rankdir=LR;"]
        lines += [f'  "{node}";' for node in self.services]
        lines += [f'  "{a}" -> "{b}";' for a, b in sorted(self._graph.edges)]
        lines.append("}")
        return "\n".join(lines)
