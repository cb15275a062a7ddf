"""What the SQL types' spec models share: the fields every one has (:class:`SqlSpecFields`,
each type declares them in its own words and order) and the checks on them
(:class:`SqlSpecBase`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, Self

from pydantic import model_validator

from envctl.scenario.spec import ServiceMode, ServiceSpecBase
from envctl.services.sql.seed import SqlSeed


class SqlSpecFields(Protocol):
    """The fields every SQL type's spec has."""

    @property
    def database(self) -> str: ...

    @property
    def databases(self) -> list[str]: ...

    @property
    def seed(self) -> Sequence[SqlSeed]: ...


class SqlSpecBase(ServiceSpecBase):
    """The base of a SQL type's spec model: no fields of its own (so each type's come in its
    own order), only the checks every SQL type makes."""

    @model_validator(mode="after")
    def _no_password_for_cloud(self) -> Self:
        if self.mode == ServiceMode.CLOUD and "password" in self.model_fields_set:
            raise ValueError(
                "mode: cloud takes its password from ENVCTL_<SERVICE>_PASSWORD, never from "
                "the scenario file; remove password"
            )
        return self
