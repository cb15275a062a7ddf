"""The seed entries both SQL types share (envctl/services/sql/seed.py): the model's checks, in
each type's words, and the seeding loop around loading one file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from envctl.errors import SeedError
from envctl.services.base import PhaseTimeouts, ServiceContext, ServiceHandle
from envctl.services.registry import plugin_for
from envctl.services.sql.seed import seed_plan


def service(kind: str, tmp_path: Path, **fields: Any) -> Any:
    plugin = plugin_for(kind)
    context = ServiceContext(
        run_id="ab12cd34",
        scenario="s",
        service="db",
        network_alias="db",
        timeouts=PhaseTimeouts(),
        scenario_dir=tmp_path,
    )
    return plugin(plugin.spec_model.model_validate({"type": kind, **fields}), context)


@pytest.mark.parametrize(
    ("kind", "words"),
    [("postgres", "the table to COPY into"), ("mysql", "the table to load into")],
)
def test_a_csv_seed_needs_a_table_in_each_types_words(kind: str, words: str) -> None:
    model = plugin_for(kind).spec_model
    with pytest.raises(ValidationError, match=f"needs table: \\({words}\\)"):
        model.model_validate({"type": kind, "seed": [{"from": "rows.csv"}]})
    with pytest.raises(ValidationError, match="takes no table"):
        model.model_validate({"type": kind, "seed": [{"from": "a.sql", "table": "t"}]})


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_seed_plan_names_each_database_and_records_what_was_loaded(
    kind: str, tmp_path: Path
) -> None:
    for name in ("a.sql", "b.sql"):
        (tmp_path / name).write_text("SELECT 1;\n")
    plugin = service(
        kind,
        tmp_path,
        databases=["other"],
        seed=[{"from": "a.sql"}, {"from": "b.sql", "database": "other"}],
    )
    handle = ServiceHandle(name="db", endpoints={})
    steps = seed_plan(plugin, handle, timeout=30)
    first = next(steps)
    assert first.path == tmp_path / "a.sql"
    assert first.database == plugin.namespace.database("envctl")
    assert first.target == f"database 'envctl' ({first.database})"
    assert 0 < first.seconds_left <= 30
    assert "seeded" not in handle.resources  # not loaded yet
    second = next(steps)
    assert second.database == plugin.namespace.database("other")
    assert handle.resources["seeded"] == ["a.sql"]
    assert list(steps) == []
    assert handle.resources["seeded"] == ["a.sql", "b.sql"]
    assert str(second.failed("db", "gone")).endswith(
        f"seeding b.sql into database 'other' ({second.database}): gone"
    )


def test_a_seed_into_an_undeclared_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    plugin = service("postgres", tmp_path, seed=[{"from": "a.sql"}])
    plugin.spec.seed[0].database = "elsewhere"  # past the load-time check
    with pytest.raises(SeedError, match="'elsewhere' is neither `database` nor in `databases`"):
        next(seed_plan(plugin, ServiceHandle(name="db", endpoints={}), timeout=30))
