"""YAML text for files people read and diff: key order kept, block style, literal blocks."""

from __future__ import annotations

import re
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key (`steps:\n  - run: ...`), as GitHub's docs do.
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _none(dumper: yaml.SafeDumper, _value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")  # `pull_request:`, not `null`


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # Short lists of plain values read best on one line: `branches: [main]`.
    flow = (
        bool(value)
        and all(isinstance(v, str | int) and not isinstance(v, bool) for v in value)
        and all("\n" not in str(v) for v in value)
        and sum(len(str(v)) + 2 for v in value) <= 60
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(list, _list)
_Dumper.add_representer(type(None), _none)


def render_yaml(data: Any, header: str = "") -> str:
    """``data`` as block-style YAML, keys in insertion order, after ``header`` comment lines."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=1000)
    # `on` is a boolean to YAML 1.1 readers, so PyYAML quotes the key; GitHub reads it as
    # the key `on` either way, and people write it bare.
    text = re.sub(r"^'on':", "on:", text, flags=re.MULTILINE)
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + text
