#!/usr/bin/env python3
"""Generate docs/scenario-reference.md (from the pydantic models) and docs/cli.md (from click).

Run after changing a model or a command; tests/unit/test_docs.py fails when the committed
files are out of date.  Usage: scripts/gen_docs.py [--check]
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from envctl.cli import cli  # noqa: E402
from envctl.durations import is_duration  # noqa: E402
from envctl.faults.models import FaultSpec  # noqa: E402
from envctl.scenario.models import Scenario  # noqa: E402
from envctl.scenario.steps import STEP_MODELS, Expected  # noqa: E402
from envctl.services.registry import type_names  # noqa: E402
from envctl.settings import ProjectConfig  # noqa: E402


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return "duration" if is_duration(args[1:]) else _type_name(args[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, __import__("types").UnionType):
        return " \\| ".join(_type_name(a) for a in args if a is not type(None))
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"map of {_type_name(args[1])}"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
        if hasattr(annotation, "__members__"):
            return " \\| ".join(repr(m.value) for m in annotation)  # type: ignore[attr-defined]
        return annotation.__name__
    return str(annotation)


def _models(root: type[BaseModel]) -> list[type[BaseModel]]:
    seen: list[type[BaseModel]] = []

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in seen:
                seen.append(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(root)
    return seen


def _table(model: type[BaseModel], heading: str = "") -> list[str]:
    lines = [f"### {heading or model.__name__}", ""]
    summary = " ".join((model.__doc__ or "").strip().split("\n\n")[0].split())
    if summary:
        lines += [summary, ""]
    lines += ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        key = field.alias or name
        if field.is_required():
            default = "required"
        elif field.default_factory is not None:
            default = f"`{field.default_factory()!r}`"  # type: ignore[call-arg]
        elif type(field.default) is object:  # a sentinel: the key is optional, no default
            default = "not given"
        else:
            value = field.default
            default = f"`{getattr(value, 'value', value)!r}`"
        aliases = (
            f" (alias `{field.validation_alias}`)"
            if isinstance(field.validation_alias, str)
            else ""
        )
        meaning = (field.description or "").replace("|", "\\|")
        kind = "duration" if is_duration(field.metadata) else _type_name(field.annotation)
        lines.append(f"| `{key}`{aliases} | {kind} | {default} | {meaning} |")
    return [*lines, ""]


def scenario_reference() -> str:
    lines = [
        "# Scenario file reference",
        "",
        "Generated from the models in `envctl/scenario/` and `envctl/services/` by",
        "`scripts/gen_docs.py`; `envctl schema` prints the same as JSON Schema.",
        "Unknown keys are errors. Service types: "
        + ", ".join(f"`{t}`" for t in type_names())
        + ".",
        "",
        "A `duration` is a number of seconds (`90`, `1.5`) or a string with units",
        "(`1.5s`, `250ms`, `2m`, `1h30m`, `2d`; the grammar: `envctl/durations.py`).",
        "",
        "## Scenario",
        "",
    ]
    for model in _models(Scenario):
        lines += _table(model)
    lines += [
        "## Steps (`steps:`)",
        "",
        "Each step is `{KIND: body}`; a step waits at most an hour (`within`, `timeout`,",
        "`sleep`).",
        "",
    ]
    for kind, step in STEP_MODELS.items():
        lines += _table(step, f"`{kind}`")
    lines += ["## Expectations (`expected:`)", ""]
    for model in _models(Expected):
        lines += _table(model)
    lines += ["## Faults (`faults:`, and the `fault` step)", ""]
    for model in _models(FaultSpec):
        lines += _table(model)
    lines += ["## Project config (`envctl.yaml`)", ""]
    for model in _models(ProjectConfig):
        lines += _table(model)
    return "\n".join(lines).rstrip() + "\n"


def cli_reference() -> str:
    lines = [
        "# CLI reference",
        "",
        "Generated from the click commands by `scripts/gen_docs.py`.",
        "",
    ]
    ctx = click.Context(cli, info_name="envctl", terminal_width=100, max_content_width=100)
    lines += ["## envctl", "", "```", cli.get_help(ctx), "```", ""]
    for name in sorted(cli.list_commands(ctx)):  # type: ignore[attr-defined]
        command = cli.get_command(ctx, name)  # type: ignore[attr-defined]
        assert command is not None
        sub = click.Context(
            command, info_name=name, parent=ctx, terminal_width=100, max_content_width=100
        )
        lines += [f"## envctl {name}", "", "```", command.get_help(sub), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    outputs = {
        REPO / "docs" / "scenario-reference.md": scenario_reference(),
        REPO / "docs" / "cli.md": cli_reference(),
    }
    stale = [p for p, text in outputs.items() if not p.exists() or p.read_text() != text]
    if "--check" in sys.argv:
        if stale:
            raise SystemExit(f"out of date: {', '.join(map(str, stale))}; run scripts/gen_docs.py")
        return
    for path, text in outputs.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    print(f"wrote {len(outputs)} files")


if __name__ == "__main__":
    main()
