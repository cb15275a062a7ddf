"""Reports of runs: the run folder (:mod:`envctl.report.run_folder`), the audit log (JSON
lines), JUnit XML and JSON results."""

from __future__ import annotations

from envctl.report.audit import AuditLog, RecordedRun, read_run
from envctl.report.junit import junit_xml, write_junit
from envctl.report.results import results_json, write_results
from envctl.report.run_folder import runs_root as runs_dir

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
