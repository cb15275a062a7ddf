"""JUnit XML for ``envctl run-all --junit FILE``: one test case per scenario.

passed -> a plain test case; failed -> ``<failure>``; config error -> ``<error>``;
skipped -> ``<skipped>`` with the reason; degraded -> a passed case with a
``<system-out>`` note, or a ``<failure>`` under ``--strict``.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envctl.runner.outcome import ScenarioOutcome


def junit_xml(
    outcomes: Sequence[ScenarioOutcome], *, suite: str = "envctl", strict: bool = False
) -> ET.Element:
    cases: list[ET.Element] = []
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total = 0.0
    for outcome in outcomes:
        counts["tests"] += 1
        total += outcome.seconds
        case = ET.Element(
            "testcase",
            {
                "classname": f"envctl.{outcome.category or 'scenarios'}",
                "name": outcome.name,
                "time": f"{outcome.seconds:.3f}",
            },
        )
        status = outcome.status
        if status == "failed" or (status == "degraded" and strict):
            counts["failures"] += 1
            message = outcome.reason or "failed"
            if status == "degraded":
                message = f"degraded (--strict): {message}"
            failure = ET.SubElement(case, "failure", {"message": message.splitlines()[0][:500]})
            failure.text = outcome.details()
        elif status == "error":
            counts["errors"] += 1
            error = ET.SubElement(
                case, "error", {"message": (outcome.reason or "error").splitlines()[0][:500]}
            )
            error.text = outcome.reason
        elif status == "skipped":
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", {"message": outcome.reason or "skipped"})
        if status == "degraded" and not strict:
            out = ET.SubElement(case, "system-out")
            out.text = f"degraded: {outcome.reason}"
        props = ET.SubElement(case, "properties")
        for key, value in (
            ("status", status),
            ("run_id", outcome.run_id),
            ("dependency_mode", outcome.mode_label),
        ):
            ET.SubElement(props, "property", {"name": key, "value": str(value)})
        cases.append(case)
    root = ET.Element("testsuites", {k: str(v) for k, v in counts.items()})
    root.set("time", f"{total:.3f}")
    suite_el = ET.SubElement(
        root, "testsuite", {"name": suite, **{k: str(v) for k, v in counts.items()}}
    )
    suite_el.set("time", f"{total:.3f}")
    suite_el.extend(cases)
    return root


def write_junit(
    path: Path, outcomes: Sequence[ScenarioOutcome], *, suite: str = "envctl", strict: bool = False
) -> None:
    from envctl.report.output import write_output

    tree = ET.ElementTree(junit_xml(outcomes, suite=suite, strict=strict))
    ET.indent(tree)
    buffer = io.BytesIO()
    tree.write(buffer, encoding="utf-8", xml_declaration=True)
    write_output(path, buffer.getvalue())
