"""The README's no-registry block covers every image the shipped scenarios run.

The block (after ``<!-- no-registry -->`` in README.md) builds the local images and sets
``ENVCTL_IMAGE_<TYPE>``; a user who pastes it must be able to run ``envctl run-all`` and
``pytest scenarios/`` without a registry. So every container service of every shipped
scenario, its image resolved as envctl resolves it (override > scenario's ``image:`` > the
type's default), must come out as an image ``scripts/build-test-images`` builds.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from envctl.environment import resolve_image
from envctl.scenario import ServiceMode
from envctl.scenario.discovery import scenario_files
from envctl.services.registry import plugin_for
from envctl.settings import Settings

REPO = Path(__file__).resolve().parents[2]


def no_registry_block(readme: str) -> str:
    """The shell block that follows the ``<!-- no-registry -->`` marker."""
    marker = readme.index("<!-- no-registry -->")
    found = re.search(r"```bash\n(.*?)```", readme[marker:], re.S)
    assert found, "no ```bash block after <!-- no-registry --> in README.md"
    return found.group(1)


def block_environment(block: str) -> dict[str, str]:
    """The ``NAME=value`` words of the block (``export A=1 B=2``, line continuations)."""
    words = shlex.split(block.replace("\\\n", " "), comments=True)
    return dict(w.split("=", 1) for w in words if re.fullmatch(r"[A-Z_][A-Z0-9_]*=.+", w))


def built_images() -> set[str]:
    """The tags scripts/build-test-images builds (its ``TAGS`` table)."""
    script = (REPO / "scripts" / "build-test-images").read_text()
    table = re.search(r"declare -A TAGS=\((.*?)\n\)", script, re.S)
    assert table, "no TAGS table in scripts/build-test-images"
    return set(re.findall(r"\[[\w-]+\]=(\S+)", table.group(1)))


def uncovered(environ: dict[str, str]) -> list[str]:
    """``scenario: service (type) runs IMAGE`` for each container image not built locally."""
    settings = Settings.load(environ=environ, cwd=REPO).with_scenarios_dir(REPO / "scenarios")
    local = built_images()
    missing = []
    for file in scenario_files(settings.scenarios_dir):
        scenario = settings.load_scenario(file)
        for name, spec in scenario.external_services.items():
            if spec.mode != ServiceMode.DOCKER:
                continue
            image, source = resolve_image(spec, plugin_for(spec.type).default_image, settings)
            if image not in local:
                missing.append(f"{scenario.name}: {name} ({spec.type}) runs {image} ({source})")
    return missing


def test_the_block_builds_the_images_and_covers_every_shipped_scenario() -> None:
    block = no_registry_block((REPO / "README.md").read_text())
    assert "scripts/build-test-images" in block
    environ = block_environment(block)
    assert set(environ.values()) <= built_images(), environ
    assert uncovered(environ) == []


def test_an_image_the_block_leaves_out_is_reported() -> None:
    """Without the generic override, the application containers keep registry images."""
    environ = block_environment(no_registry_block((REPO / "README.md").read_text()))
    del environ["ENVCTL_IMAGE_GENERIC"]
    missing = uncovered(environ)
    assert "multi_service: app (generic) runs debian:bookworm-slim (scenario)" in missing
    assert "orders_e2e_real: app (generic) runs postgres:16 (scenario)" in missing


@pytest.mark.parametrize("variable", ["ENVCTL_IMAGE_KAFKA", "ENVCTL_IMAGE_POSTGRES"])
def test_a_type_default_the_block_leaves_out_is_reported(variable: str) -> None:
    environ = block_environment(no_registry_block((REPO / "README.md").read_text()))
    del environ[variable]
    missing = uncovered(environ)
    assert any("(default)" in line for line in missing), missing
