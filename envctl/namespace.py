"""A run's namespace: logical names (``orders``) and the physical names they stand for.

Every run has one, made of the scenario's ``naming:`` templates, its run id and scenario
name. Topics, consumer groups, PostgreSQL databases and Redis keys the run creates live
inside it, so two runs of one scenario against one shared broker or database never see each
other's data. Scenario code, steps and tools use logical names and resolve them here::

    ns = env.namespace
    ns.topic("orders")        # 'envctl.3f2a9c1d.orders'
    ns.group("billing")       # 'envctl.3f2a9c1d.billing'
    ns.database("envctl")     # 'envctl_3f2a9c1d_envctl'
    ns.key("user:1")          # 'envctl:3f2a9c1d:user:1'

Redis isolation is a key prefix, not a DB index: prefixes are unlimited (16 DB indexes
are not), need no allocation between concurrent runs, and work where ``SELECT`` does not
(Redis Cluster, most managed Redis).

Messages name a topic, database or key the way the scenario does, with the physical name
beside it where the run has one (:func:`shown`)::

    ns.shown_topic("orders")                      # "'orders' (envctl.3f2a9c1d.orders)"
    ns.shown_physical_topic("envctl.3f2a9c1d.x")  # "'x' (envctl.3f2a9c1d.x)"
    shown("orders")                               # "'orders'" (a mock: logical names only)

Ownership (what cleanup may delete by pattern) needs ``{run}`` in the template: a template
without it names resources other runs share, and only what the run recorded is removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from envctl.scenario.spec import NamingTemplates, template_fields

if TYPE_CHECKING:
    from envctl.scenario.models import Scenario

POSTGRES_NAME_MAX = 63
_QUOTED = re.compile(r"'([^'\s]+)'")


def shown(logical: str, physical: str | None = None) -> str:
    """How a message names a topic, database or key: the scenario's (logical) name, and the
    physical one beside it when it differs (``'orders' (envctl.3f2a9c1d.orders)``)."""
    if physical is None or physical == logical:
        return f"'{logical}'"
    return f"'{logical}' ({physical})"


@dataclass(frozen=True)
class Namespace:
    """Logical -> physical names of one run. Pure: builds names, talks to nothing."""

    run_id: str
    scenario: str
    templates: NamingTemplates = field(default_factory=NamingTemplates)

    @classmethod
    def for_run(cls, scenario: Scenario, run_id: str) -> Namespace:
        return cls(run_id=run_id, scenario=scenario.name, templates=scenario.naming)

    # -- logical -> physical -------------------------------------------------------------
    def _render(self, template: str, name: str = "") -> str:
        return template.format(name=name, run=self.run_id, scenario=self.scenario)

    def topic(self, logical: str) -> str:
        return self._render(self.templates.topic, logical)

    def group(self, logical: str) -> str:
        return self._render(self.templates.group, logical)

    def database(self, logical: str) -> str:
        """The physical PostgreSQL database; ValueError when longer than PostgreSQL allows."""
        physical = self._render(self.templates.database, logical)
        if len(physical.encode()) > POSTGRES_NAME_MAX:
            raise ValueError(
                f"database name '{physical}' (naming.database for '{logical}') is longer than "
                f"PostgreSQL's {POSTGRES_NAME_MAX} bytes; shorten the name or the template"
            )
        return physical

    @property
    def key_prefix(self) -> str:
        return self._render(self.templates.key_prefix)

    def key(self, logical: str) -> str:
        return self.key_prefix + logical

    # -- physical -> logical ---------------------------------------------------------------
    def logical_topic(self, physical: str) -> str | None:
        return _match(self.templates.topic, physical, self.run_id, self.scenario)

    def logical_group(self, physical: str) -> str | None:
        return _match(self.templates.group, physical, self.run_id, self.scenario)

    def logical_database(self, physical: str) -> str | None:
        return _match(self.templates.database, physical, self.run_id, self.scenario)

    def logical_key(self, physical: str) -> str | None:
        prefix = self.key_prefix
        return physical[len(prefix) :] if physical.startswith(prefix) else None

    # -- in messages (see :func:`shown`) ------------------------------------------------------
    def shown_topic(self, logical: str) -> str:
        return shown(logical, self.topic(logical))

    def shown_group(self, logical: str) -> str:
        return shown(logical, self.group(logical))

    def shown_database(self, logical: str) -> str:
        try:
            return shown(logical, self.database(logical))
        except ValueError:  # too long for PostgreSQL: named by its logical name alone
            return shown(logical)

    def shown_key(self, logical: str) -> str:
        return shown(logical, self.key(logical))

    def shown_physical_topic(self, physical: str) -> str:
        """A physical topic named in a message: its logical name first when the run made it."""
        logical = self.logical_topic(physical)
        return shown(physical) if logical is None else shown(logical, physical)

    def shown_physical_group(self, physical: str) -> str:
        logical = self.logical_group(physical)
        return shown(physical) if logical is None else shown(logical, physical)

    def shown_topics_in(self, text: str) -> str:
        """``text`` (a client's or broker's message) with each quoted topic of this run shown
        by its logical name, the physical one beside: ``topic 'envctl.r1.orders' ...`` ->
        ``topic 'orders' (envctl.r1.orders) ...``. Other quoted words stay as they are."""

        def replace(match: re.Match[str]) -> str:
            physical = match.group(1)
            if self.logical_topic(physical) in (None, physical):
                return match.group(0)
            return self.shown_physical_topic(physical)

        return _QUOTED.sub(replace, text)

    # -- ownership ---------------------------------------------------------------------------
    def owns(self, kind: str) -> bool:
        """Whether names of ``kind`` (topic, group, database, key_prefix) are unique to this
        run, so that anything matching the template may be removed with it."""
        template = getattr(self.templates, kind)
        return "run" in template_fields(template)

    def owns_topic(self, physical: str) -> bool:
        return self.owns("topic") and self.logical_topic(physical) is not None

    def owns_group(self, physical: str) -> bool:
        return self.owns("group") and self.logical_group(physical) is not None

    def owns_database(self, physical: str) -> bool:
        return self.owns("database") and self.logical_database(physical) is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "scenario": self.scenario,
            "templates": self.templates.model_dump(),
            "key_prefix": self.key_prefix,
        }


def _match(template: str, physical: str, run_id: str, scenario: str) -> str | None:
    """The ``{name}`` part of ``physical`` when it was made from ``template``, else None."""
    pattern = ""
    for literal, field_name, _spec, _conv in _parse(template):
        pattern += re.escape(literal)
        if field_name == "name":
            pattern += "(?P<name>.+)"
        elif field_name == "run":
            pattern += re.escape(run_id)
        elif field_name == "scenario":
            pattern += re.escape(scenario)
    match = re.fullmatch(pattern, physical)
    return match.group("name") if match else None


def _parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    import string

    return list(string.Formatter().parse(template))
