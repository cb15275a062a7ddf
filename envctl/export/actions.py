"""Output for GitHub Actions: workflow commands and the job's step summary.

Inside Actions (``GITHUB_ACTIONS=true``) a runner prints:

- ``::group::TITLE`` … ``::endgroup::`` around each scenario's output, so the log folds;
- ``::error file=F,line=L,title=T::MESSAGE`` for a failed step or an invalid scenario, so
  the failure is annotated on the file and line in the pull request;
- a Markdown table of the scenarios appended to the file named by ``$GITHUB_STEP_SUMMARY``.

The functions here only build strings (and one appends to a file); callers decide where
output goes. Values are escaped as the runner expects: ``%``, CR and LF in a message;
also ``:`` and ``,`` in a property.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
STATUS_ICONS = {
    "passed": "✅",
    "failed": "❌",
    "error": "❌",
    "skipped": "⏭️",
    "degraded": "⚠️",
}


def in_github_actions(environ: Mapping[str, str]) -> bool:
    """True inside a GitHub Actions job."""
    return environ.get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """Escape a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=``, ``title=``, ...)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", **properties: object) -> str:
    """One workflow command line: ``::name key=value,...::message``.

    Properties whose value is None are left out.
    """
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def group(title: str) -> str:
    return command("group", title)


def endgroup() -> str:
    return "::endgroup::"


def error(
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    end_line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    """An error annotation, on ``file``:``line`` when given."""
    return command("error", message, file=file, line=line, endLine=end_line, col=col, title=title)


def warning(
    message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
) -> str:
    return command("warning", message, file=file, line=line, title=title)


def notice(message: str, *, title: str | None = None) -> str:
    return command("notice", message, title=title)


class Echo(Protocol):
    def __call__(self, line: str) -> None: ...


@contextmanager
def grouped(title: str, echo: Echo, environ: Mapping[str, str]) -> Iterator[None]:
    """Fold what is printed inside into a group, when running inside Actions."""
    active = in_github_actions(environ)
    if active:
        echo(group(title))
    try:
        yield
    finally:
        if active:
            echo(endgroup())


def summary_markdown(result: Mapping[str, Any], title: str = "envctl") -> str:
    """A Markdown summary of a run's ``result.json`` (``{run_id, profile, scenarios}``)."""
    scenarios: Mapping[str, Mapping[str, Any]] = result.get("scenarios", {})
    counts: dict[str, int] = {}
    for entry in scenarios.values():
        status = str(entry.get("status", "?"))
        counts[status] = counts.get(status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no scenarios"
    profile = result.get("profile")
    lines = [
        f"### {title}: run `{result.get('run_id', '?')}`"
        + (f" (profile `{profile}`)" if profile else ""),
        "",
        tally,
        "",
        "| scenario | status | seconds | reason |",
        "| --- | --- | ---: | --- |",
    ]
    for name, entry in scenarios.items():
        status = str(entry.get("status", "?"))
        icon = STATUS_ICONS.get(status, "")
        seconds = entry.get("seconds")
        shown = f"{seconds:.1f}" if isinstance(seconds, int | float) else "-"
        reason = _cell(str(entry.get("reason", "") or ""))
        lines.append(f"| {_cell(name)} | {icon} {status} | {shown} | {reason} |".replace("  ", " "))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def summary_path(environ: Mapping[str, str]) -> Path | None:
    """The step summary file of the current step, when there is one."""
    value = environ.get(SUMMARY_VARIABLE)
    return Path(value) if value else None


def append_summary(path: Path, markdown: str) -> None:
    """Append to the step summary (the runner shows the file's Markdown on the run page)."""
    with path.open("a", encoding="utf-8") as stream:
        stream.write(markdown if markdown.endswith("\n") else markdown + "\n")
