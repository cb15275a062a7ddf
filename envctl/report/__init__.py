"""Reports of runs: the audit log (JSON lines), JUnit XML and JSON results."""

from __future__ import annotations

from envctl.report.audit import AuditLog, RecordedRun, read_run, runs_dir
from envctl.report.junit import junit_xml, write_junit
from envctl.report.results import results_json, write_results

__all__ = [
    "AuditLog",
    "RecordedRun",
    "junit_xml",
    "read_run",
    "results_json",
    "runs_dir",
    "write_junit",
    "write_results",
]
