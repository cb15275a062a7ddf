"""Seed entries of the SQL types: the model of one ``seed:`` entry and the seeding loop.

The loop is what both types do around loading one file: the entry's database must be one
of the run's, the seed phase's timeout bounds all files together, and what was seeded is
recorded on the handle. How a file is loaded (statements, ``COPY``, batched ``INSERT``s)
stays with each type.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from pydantic import Field, model_validator

from envctl.errors import SeedError, ServiceFailed
from envctl.namespace import shown
from envctl.scenario.spec import StrictModel

if TYPE_CHECKING:
    from envctl.services.base import ServiceHandle
    from envctl.services.sql.plugin import SqlService


class SqlSeed(StrictModel):
    """A seed file: ``.sql`` (its statements) or ``.csv`` (rows into ``table``).

    Each type subclasses it to say in its own words how the file is loaded (``loads_csv``
    and the ``table`` field's description)."""

    loads_csv: ClassVar[str] = "load into"
    """Completes "needs table: (the table to ...)" for a CSV entry without one."""

    from_: str = Field(alias="from", description="SQL or CSV file, relative to the scenario file.")
    table: str | None = Field(default=None, description="CSV: the table the rows go into.")
    database: str | None = Field(
        default=None, description="Logical database to seed; default: the service's database."
    )
    header: bool = Field(default=True, description="CSV: the first line names the columns.")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="CSV delimiter.")

    @model_validator(mode="after")
    def _kind(self) -> SqlSeed:
        suffix = Path(self.from_).suffix.lower()
        if suffix == ".csv" and not self.table:
            raise ValueError(
                f"CSV seed '{self.from_}' needs table: (the table to {self.loads_csv})"
            )
        if suffix == ".sql" and self.table:
            raise ValueError(f"SQL seed '{self.from_}' takes no table:")
        if suffix not in (".sql", ".csv"):
            raise ValueError(f"seed '{self.from_}' must be a .sql or .csv file")
        return self


def seed_overran(service: str, timeout: float, display: str | None = None) -> ServiceFailed:
    """The seed phase's timeout ran out (before ``display``, or while seeding it)."""
    what = f"seeding {display}" if display else "seeding"
    return ServiceFailed(
        service,
        f"{what} did not finish within {timeout:.0f}s; raise timeout_profiles.{service}.seed",
    )


class SeedStep(NamedTuple):
    """One seed entry to load, as :func:`seed_plan` hands it out."""

    entry: SqlSeed
    path: Path
    """The seed file (resolved)."""
    database: str
    """The physical database the file goes into."""
    seconds_left: float
    """What is left of the seed phase's timeout."""
    target: str
    """The database as messages name it: ``database 'app' (envctl_<run>_app)``."""

    def failed(self, service: str, reason: str) -> ServiceFailed:
        """Loading the file failed for ``reason`` (the server's or driver's, one line)."""
        return ServiceFailed(service, f"seeding {self.entry.from_} into {self.target}: {reason}")


def seed_plan(plugin: SqlService[Any], handle: ServiceHandle, timeout: float) -> Iterator[SeedStep]:
    """Each seed entry, in order, with its database and the seconds left.

    The caller loads the file into the database within the seconds left; when it comes
    back for the next entry, this one counts as seeded (``handle.resources["seeded"]``).
    A load that raises ends the loop, and its entry is not recorded.
    """
    service = plugin.context.service
    spec = plugin.sql_spec
    deadline = time.monotonic() + timeout
    databases = plugin.physical_databases()
    for entry in spec.seed:
        path = plugin.seed_file(entry.from_)
        logical = entry.database or spec.database
        if logical not in databases:
            raise SeedError(
                entry.from_,
                None,
                f"service '{service}': database '{logical}' is neither `database` nor in "
                "`databases`",
            )
        left = deadline - time.monotonic()
        if left <= 0:
            raise seed_overran(service, timeout)
        physical = databases[logical]
        yield SeedStep(entry, path, physical, left, f"database {shown(logical, physical)}")
        handle.resources.setdefault("seeded", []).append(entry.from_)
