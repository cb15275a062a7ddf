"""Environment profiles: one scenario, different surroundings (laptop, CI, staging).

A profile is an overlay, chosen with ``--profile NAME`` or ``ENVCTL_PROFILE=NAME``, and
defined under ``profiles:`` in the project config (``envctl.yaml``, for every scenario) or in
a scenario file (for that scenario)::

    profiles:
      ci:
        description: shared runners are slow
        timeout_scale: 2              # every timeout of every service, doubled
      staging:
        cleanup_after: false
        services:
          kafka:                      # a service name, a service type, or "*"
            mode: external
            url: ${STAGING_KAFKA:?set STAGING_KAFKA}
            timeouts: {health_check: 120}

Per service a profile may change ``mode``, ``image``, ``url``, ``cleanup_after`` and
``timeouts`` (seconds per phase, as in ``timeout_profiles``); for the whole scenario
``timeout_scale`` and ``cleanup_after``. Nothing else: an overlay changes exactly what it
says. Several profiles apply in order: ``ENVCTL_PROFILE=ci,external``.

Built in (a project may not redefine them):

- ``external``: every service whose ``ENVCTL_<SERVICE>_URL`` is set runs in
  ``mode: external`` at that address — what GitHub job services or any containers started
  by someone else need (``envctl ci github --strategy services`` sets it).

:func:`apply_profile` works on a scenario's raw data *before* validation, so the loader
calls it between reading (``extends`` merged, ``${VARS}`` resolved) and validating; the
model then checks the result like any scenario.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationError

from envctl.errors import ConfigError, Problem
from envctl.scenario.spec import (
    CleanupSetting,
    ServiceMode,
    StrictModel,
    TimeoutProfile,
    service_variable,
)
from envctl.scenario.timeouts import PHASES, profile_entry
from envctl.services import registry

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario

PROFILE_VARIABLE = "ENVCTL_PROFILE"
BUILTIN_PROFILES: dict[str, str] = {
    "external": "services whose ENVCTL_<SERVICE>_URL is set run in mode: external there",
}
ALL_SERVICES = "*"


class ServiceOverlay(StrictModel):
    """What a profile changes in one service (or every service of a type, or ``*``)."""

    mode: ServiceMode | None = Field(default=None, description="docker | external | cloud")
    image: str | None = Field(
        default=None,
        description="Container image (ENVCTL_IMAGE_<TYPE> and the project's images: still win).",
    )
    url: str | None = Field(default=None, description="Address in external/cloud mode.")
    cleanup_after: CleanupSetting | None = Field(
        default=None, description="This service's cleanup_after."
    )
    timeouts: TimeoutProfile | None = Field(
        default=None,
        description="Seconds per phase, set as given (after timeout_scale): {health_check: 120}.",
    )


class Profile(StrictModel):
    """An overlay on a scenario, selected with --profile NAME or ENVCTL_PROFILE."""

    description: str = Field(default="", description="What the profile is for.")
    timeout_scale: float | None = Field(
        default=None, gt=0, description="Multiplies every timeout of every service."
    )
    cleanup_after: CleanupSetting | None = Field(
        default=None, description="The scenario's cleanup_after."
    )
    services: dict[str, ServiceOverlay] = Field(
        default_factory=dict,
        description="Overlays by service name, service type, or '*' for every service.",
    )


def _profile_names(profiles: dict[str, Profile]) -> dict[str, Profile]:
    import re

    for name in profiles:
        if name in BUILTIN_PROFILES:
            raise ValueError(f"profile '{name}' is built in; choose another name")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
            raise ValueError(
                f"profile name '{name}' must be letters, digits, '_', '.' or '-' "
                "(a comma separates profiles in ENVCTL_PROFILE)"
            )
    return profiles


Profiles = Annotated[dict[str, Profile], AfterValidator(_profile_names)]
"""``profiles:`` of the project config or a scenario."""


def profile_names(selected: str | None) -> list[str]:
    """``"ci, external"`` -> ``["ci", "external"]``; None or empty -> ``[]``."""
    return [n.strip() for n in (selected or "").split(",") if n.strip()]


def known_profiles(
    raw_scenario: Mapping[str, Any], project_profiles: Mapping[str, Any]
) -> dict[str, str]:
    """Every profile a scenario may use -> where it is defined."""
    known = {name: "built in" for name in BUILTIN_PROFILES}
    for name in project_profiles:
        known[str(name)] = "project config"
    scenario_profiles = raw_scenario.get("profiles")
    if isinstance(scenario_profiles, Mapping):
        for name in scenario_profiles:
            where = "scenario" if str(name) not in project_profiles else "project config, scenario"
            known[str(name)] = where
    return known


def apply_profile(
    raw_scenario: Mapping[str, Any],
    profile_name: str | None,
    project_profiles: Mapping[str, Profile | Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The scenario's raw data with the named profile(s) laid over it (a new dict).

    ``profile_name`` may list several, comma-separated, applied in order. For each, the
    project's definition applies first, then the scenario's own of the same name. A name
    defined nowhere is a :class:`ConfigError` listing the known ones. ``environ`` is what
    the built-in ``external`` profile reads ``ENVCTL_<SERVICE>_URL`` from.

    A scenario's own profile that is not valid is skipped here: validating the result
    reports it, with its line.
    """
    data = copy.deepcopy(dict(raw_scenario))
    names = profile_names(profile_name)
    if not names:
        return data
    project = _validated(project_profiles or {})
    scenario_raw = data.get("profiles")
    scenario_raw = scenario_raw if isinstance(scenario_raw, Mapping) else {}
    for name in names:
        found = False
        if name in BUILTIN_PROFILES:
            _apply_external(data, environ or {})
            found = True
        if name in project:
            _apply(data, project[name], name, strict=False)
            found = True
        if name in scenario_raw:
            found = True
            try:
                profile = Profile.model_validate(scenario_raw[name])
            except ValidationError:
                continue  # the model reports it with file and line
            _apply(data, profile, name, strict=True)
        if not found:
            known = known_profiles(data, project)
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" — did you mean '{close[0]}'?" if close else ""
            listed = ", ".join(f"{n} ({where})" for n, where in sorted(known.items()))
            raise ConfigError(f"unknown profile '{name}'{hint}; known profiles: {listed}")
    return data


def _validated(profiles: Mapping[str, Profile | Mapping[str, Any]]) -> dict[str, Profile]:
    result: dict[str, Profile] = {}
    for name, value in profiles.items():
        if isinstance(value, Profile):
            result[name] = value
            continue
        try:
            result[name] = Profile.model_validate(value)
        except ValidationError as exc:
            raise ConfigError(f"project profile '{name}': {exc}") from None
    return result


# -- overlays ------------------------------------------------------------------------------------


def _services(data: dict[str, Any]) -> dict[str, Any]:
    services = data.get("external_services")
    return services if isinstance(services, dict) else {}


def _apply_external(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for name, spec in _services(data).items():
        if isinstance(spec, dict) and environ.get(service_variable(str(name), "URL")):
            spec["mode"] = ServiceMode.EXTERNAL.value


def _apply(data: dict[str, Any], profile: Profile, name: str, *, strict: bool) -> None:
    services = _services(data)
    if profile.timeout_scale is not None:
        _scale_timeouts(data, profile.timeout_scale)
    for key, overlay in profile.services.items():
        targets = _targets(services, key)
        if not targets:
            if strict:
                choices = [*services, *_types(services)]
                close = difflib.get_close_matches(key, [str(c) for c in choices], n=1)
                hint = f" — did you mean '{close[0]}'?" if close else ""
                raise ConfigError(
                    f"profile '{name}': services.{key}: no service or service type '{key}' "
                    f"in this scenario{hint}"
                )
            continue  # a project profile speaks of every scenario; this one has no such service
        for target in targets:
            _overlay_service(data, services[target], target, overlay)
    if "cleanup_after" in profile.model_fields_set:
        data["cleanup_after"] = _plain(profile.cleanup_after)


def _types(services: Mapping[str, Any]) -> list[str]:
    return sorted(
        {str(s.get("type")) for s in services.values() if isinstance(s, dict) and s.get("type")}
    )


def _targets(services: Mapping[str, Any], key: str) -> list[str]:
    if key == ALL_SERVICES:
        return list(services)
    if key in services:
        return [key]
    return [
        name
        for name, spec in services.items()
        if isinstance(spec, dict) and spec.get("type") == key
    ]


def _overlay_service(data: dict[str, Any], spec: Any, name: str, overlay: ServiceOverlay) -> None:
    if not isinstance(spec, dict):
        return
    for field in ("mode", "image", "url", "cleanup_after"):
        if field in overlay.model_fields_set:
            spec[field] = _plain(getattr(overlay, field))
    if overlay.timeouts is not None:
        given = overlay.timeouts.model_dump(exclude_unset=True)
        profiles = data.setdefault("timeout_profiles", {})
        if isinstance(profiles, dict):
            current = _current_timeouts(profiles, name, spec)
            profiles[name] = {**current, **given}


def _current_timeouts(
    profiles: Mapping[str, Any], name: str, spec: Mapping[str, Any]
) -> dict[str, Any]:
    """The timeout entry that applies to a service now: by name, else by its type."""
    entry = profile_entry(profiles, name, str(spec.get("type")))
    return dict(entry) if isinstance(entry, Mapping) else {}


def _scale_timeouts(data: dict[str, Any], scale: float) -> None:
    """Write every phase of each service's effective timeouts, multiplied, under its name.

    Effective: the entry by the service's name, else by its type, else the type's default
    (as the engine resolves them). All are read before any is written: a service named like
    a type (``kafka``) must not be scaled again through another service of that type.
    """
    profiles = data.setdefault("timeout_profiles", {})
    if not isinstance(profiles, dict):
        return  # not a mapping: validation reports it
    scaled_all: dict[str, dict[str, Any]] = {}
    for name, spec in _services(data).items():
        plugin = registry.find(spec.get("type")) if isinstance(spec, dict) else None
        if plugin is None:
            continue  # an unknown type: validation reports it
        current = _current_timeouts(profiles, str(name), spec)
        scaled: dict[str, Any] = {}
        for phase in PHASES:
            value = current.get(phase)
            if value is None:
                value = getattr(plugin.default_timeouts, phase)
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = value * scale
            scaled[phase] = value  # a non-number stays for validation to report
        scaled_all[str(name)] = scaled
    profiles.update(scaled_all)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    if isinstance(value, ServiceMode):
        return value.value
    return value


# -- what changed ----------------------------------------------------------------------------------


def profile_changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Every difference between two raw scenarios, as ``key.path: old -> new`` lines
    (values as JSON)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        lines: list[str] = []
        for key in [*before, *(k for k in after if k not in before)]:
            child = f"{path}.{key}" if path else str(key)
            if key not in after:
                lines.append(f"{child}: {_shown(before[key])} -> (removed)")
            elif key not in before:
                lines.append(f"{child}: (unset) -> {_shown(after[key])}")
            else:
                lines.extend(profile_changes(before[key], after[key], child))
        return lines
    if before != after:
        return [f"{path}: {_shown(before)} -> {_shown(after)}"]
    return []


def _shown(value: Any) -> str:
    import json

    return json.dumps(value, default=str)


# -- on a loaded scenario -------------------------------------------------------------------------


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """A validated scenario back as raw data: what its file says, ``extends`` merged."""
    return scenario.model_dump(mode="json", by_alias=True, exclude_unset=True)


def validated(data: Mapping[str, Any], like: Scenario) -> Scenario:
    """``data`` validated as a scenario that keeps ``like``'s file (and tree)."""
    try:
        result = type(like).model_validate(dict(data))
    except ValidationError as exc:
        where = str(like.source) if like.source is not None else like.name
        raise ConfigError(
            [
                Problem(where, None, ".".join(str(p) for p in err["loc"]), err["msg"])
                for err in exc.errors(include_url=False)
            ]
        ) from None
    result.__pydantic_private__ = dict(like.__pydantic_private__ or {})
    return result


def apply_profile_to_scenario(
    scenario: Scenario,
    profile_name: str | None,
    project_profiles: Mapping[str, Profile | Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Scenario:
    """:func:`apply_profile` on an already loaded scenario (validated again afterwards).

    The loader should apply profiles to the raw data instead (problems then carry line
    numbers); this serves code that holds a loaded scenario.
    """
    if not profile_names(profile_name):
        return scenario
    data = apply_profile(scenario_data(scenario), profile_name, project_profiles, environ)
    return validated(data, scenario)
