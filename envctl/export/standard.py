"""The ready-made compose files in ``compose/``: Kafka, Postgres and Redis on their own.

They are what ``envctl compose export`` writes for the smallest scenario of each type,
with the default images. Regenerate them with ``python -m envctl.export.standard``
(``--check`` says whether the committed files are up to date).

A shipped file cannot ask the engine that will run it, so it has the portable form
(no healthcheck ``start_interval``, which compose refuses on Docker Engine < 25).
"""

from __future__ import annotations

import sys
from pathlib import Path

from envctl.export.compose import StartIntervalChoice, compose_project, render_compose
from envctl.scenario.models import Scenario
from envctl.services.registry import plugins

COMMAND = "python -m envctl.export.standard"
PORTABLE = StartIntervalChoice(
    False, "a shipped file runs on any Docker Engine (compose refuses it before 25)"
)


def standard_types() -> list[str]:
    """The registered types with a ready-made file (``ServicePlugin.standard_compose``)."""
    return [name for name, plugin in plugins().items() if plugin.standard_compose]


def standard_scenario(service_type: str) -> Scenario:
    """The smallest scenario with one service of the type, named after it."""
    return Scenario.model_validate(
        {
            "name": service_type,
            "dependency_mode": "real",
            "external_services": {service_type: {"type": service_type}},
        }
    )


def standard_files() -> dict[str, str]:
    """File name -> text of every ready-made compose file."""
    return {
        f"{kind}.yaml": render_compose(
            compose_project(standard_scenario(kind), start_interval=PORTABLE.include),
            COMMAND,
            PORTABLE,
        )
        for kind in standard_types()
    }


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    folders = [a for a in args if not a.startswith("--")]
    folder = Path(folders[0]) if folders else Path(__file__).resolve().parents[2] / "compose"
    stale = []
    for name, text in standard_files().items():
        path = folder / name
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            continue
        stale.append(str(path))
        if not check:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if check and stale:
        print(f"out of date: {', '.join(stale)}; run {COMMAND}", file=sys.stderr)
        return 1
    for written in stale if not check else []:
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
