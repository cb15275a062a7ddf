"""The checks every SQL type's spec makes (envctl/services/sql/spec.py)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from envctl.services.registry import plugin_for


@pytest.mark.parametrize("kind", ["postgres", "mysql"])
def test_cloud_mode_never_takes_a_password_from_the_file(kind: str) -> None:
    model = plugin_for(kind).spec_model
    with pytest.raises(ValidationError, match=r"from ENVCTL_<SERVICE>_PASSWORD.*remove password"):
        model.model_validate({"type": kind, "mode": "cloud", "password": "secret"})
    assert model.model_validate({"type": kind, "mode": "cloud"}).mode.value == "cloud"
    assert model.model_validate({"type": kind, "password": "secret"}).mode.value == "docker"
