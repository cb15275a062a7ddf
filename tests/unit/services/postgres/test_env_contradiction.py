"""`env:` that contradicts what envctl sets for Postgres is refused (issue 10 §4)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envctl.scenario.models import Scenario


@pytest.mark.parametrize(
    ("name", "key"),
    [("POSTGRES_PASSWORD", "password"), ("POSTGRES_USER", "user"), ("POSTGRES_DB", "database")],
)
def test_env_against_the_dsn_is_a_validation_error(name: str, key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Scenario.model_validate(
            {"name": "s", "external_services": {"db": {"type": "postgres", "env": {name: "x"}}}}
        )
    assert f"env {name} contradicts the DSN envctl hands out; write {key}:" in str(caught.value)


def test_other_env_is_fine() -> None:
    Scenario.model_validate(
        {"name": "s", "external_services": {"db": {"type": "postgres", "env": {"TZ": "UTC"}}}}
    )
