"""Failure bundles, the run-all HTML report and the history, from mock-mode runs (no Docker).

The browser-level checks (what a person sees) are in
tests/integration/test_observability_browser.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.report.bundle import BUNDLE_FILE, collect, mask, parse_trace, write_bundle
from envctl.report.cut import cut
from envctl.report.history import History, history_path
from envctl.runner import Runner, run_all

FAILING = """
name: bad
external_services:
  kafka: {type: kafka, topics: [orders]}
steps:
  - publish: {topic: orders, key: "1", value: {id: 1, blob: "BIG"}}
  - expect_message: {topic: orders, match: {value.id: 2}, within: 0.2}
"""

PASSING = """
name: good
external_services:
  kafka: {type: kafka, topics: [t]}
steps:
  - publish: {topic: t, value: 1}
"""


@pytest.fixture
def tree(scenario_file: Callable[[str, str], Path]) -> None:
    scenario_file("unit/scenario_bad.yaml", FAILING.replace("BIG", "x" * 300_000))
    scenario_file("unit/scenario_good.yaml", PASSING)


def test_a_failed_run_gets_a_self_contained_bundle(runner: Runner, tree: None) -> None:
    result = run_all(runner)
    bad = next(o for o in result.outcomes if o.name == "bad")
    good = next(o for o in result.outcomes if o.name == "good")
    assert bad.status == "failed" and bad.bundle is not None
    assert good.bundle is None  # retain-on-failure: passed runs get none
    html = Path(bad.bundle).read_text()
    assert "Failing step 1: expect_message" in html
    assert "a message matching {&#34;value.id&#34;: 2}" in html  # expected vs seen
    assert "<svg" in html and 'class="bar step failed"' in html  # the timeline
    # self-contained: nothing fetched from anywhere
    for needle in ("<script src", "<link ", "http://", "https://"):
        assert needle not in html
    # values are cut: a 300 kB value does not make a 300 kB bundle
    assert len(html) < 200_000
    assert "more characters]" in html
    assert bad.to_dict()["bundle"] == bad.bundle


def test_bundle_is_small_and_fast(runner: Runner, tree: None) -> None:
    outcome = run_all(runner, names=["bad"]).outcomes[0]
    assert outcome.run_dir is not None
    t0 = time.perf_counter()
    path = write_bundle(Path(outcome.run_dir))
    took = time.perf_counter() - t0
    size = path.stat().st_size
    print(f"bundle {size} bytes in {took:.3f}s")  # figures for the closing note, not asserts
    assert size < 1_000_000


def test_trace_modes(runner: Runner, tree: None, settings: object) -> None:
    assert parse_trace(None, {}) == "retain-on-failure"
    assert parse_trace(None, {"ENVCTL_TRACE": "on"}) == "on"
    with pytest.raises(ConfigError, match="is not a trace mode; use one of retain-on-failure"):
        parse_trace("sometimes", {})
    runner.trace = "on"
    outcome = run_all(runner, names=["good"]).outcomes[0]
    assert outcome.bundle and (Path(outcome.run_dir or "") / BUNDLE_FILE).is_file()
    runner.trace = "off"
    assert run_all(runner, names=["bad"]).outcomes[0].bundle is None


def test_secrets_are_masked() -> None:
    assert mask("postgresql://app:s3cret@127.0.0.1:5432/db") == (
        "postgresql://app:***@127.0.0.1:5432/db"
    )
    assert mask("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_cut_says_what_it_left_out() -> None:
    assert cut("abc", text=2) == "ab… [1 more characters]"
    assert cut(list(range(5)), items=2) == [0, 1, "… 3 more items"]
    assert cut({"a": {"b": {"c": 1}}}, depth=2) == {"a": {"b": "[dict nested too deep to show]"}}


def test_run_all_report_with_trends_and_links(runner: Runner, tree: None) -> None:
    for _ in range(3):
        result = run_all(runner)
    report = result.directory / "report.html"
    html = report.read_text()
    assert "envctl run-all" in html and 'class="spark"' in html
    assert "0% of 3" in html and "100% of 3" in html  # pass rate over the history
    bad = next(o for o in result.outcomes if o.name == "bad")
    assert f'href="../{bad.run_id}/bundle.html"' in html  # the failure links to its bundle
    rows = History(history_path(runner.runs_root)).of_parent(result.run_id)
    assert {r.scenario: r.status for r in rows} == {"bad": "failed", "good": "passed"}


def test_flaky_means_passed_and_failed_on_the_same_inputs(tmp_path: Path) -> None:
    history = History(tmp_path / "h.sqlite")
    for i, status in enumerate(["passed", "failed", "passed"]):
        history.record(run_id=f"r{i}", scenario="s", status=status, seconds=1.0, inputs="x")
    for i, status in enumerate(["passed", "failed"]):  # different inputs each time: a change
        history.record(run_id=f"q{i}", scenario="t", status=status, seconds=1.0, inputs=f"v{i}")
    trends = history.trends(["s", "t", "never"])
    assert trends["s"].flaky and not trends["t"].flaky
    assert trends["s"].pass_rate == pytest.approx(2 / 3)
    assert trends["never"].runs == [] and trends["never"].pass_rate is None


def test_bundle_of_a_run_that_never_started_anything(tmp_path: Path) -> None:
    folder = tmp_path / "r1"
    folder.mkdir()
    events = [
        {"t": 0.0, "run_id": "r1", "event": "run.start", "scenario": "x"},
        {"t": 0.1, "run_id": "r1", "event": "error", "message": "cannot reach Docker"},
        {"t": 0.2, "run_id": "r1", "event": "run.end", "status": "failed", "seconds": 0.2},
    ]
    (folder / "audit.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    data = collect(folder)
    assert data.status == "failed" and data.errors == ["cannot reach Docker"]
    assert "nothing was timed" in write_bundle(folder).read_text()


def test_compare_reads_the_history_when_the_run_folder_is_gone(runner: Runner, tree: None) -> None:
    import shutil

    from envctl.report.compare import compare, load_run

    first, second = run_all(runner), run_all(runner)
    shutil.rmtree(first.directory)  # pruned
    old = load_run(first.run_id, runner.runs_root)
    assert old.scenarios["bad"]["status"] == "failed"
    comparison = compare(old, load_run(second.run_id, runner.runs_root))
    statuses = {c.name: (c.status_a, c.status_b) for c in comparison.scenarios}
    assert statuses == {"bad": ("failed", "failed"), "good": ("passed", "passed")}
