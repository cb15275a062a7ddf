"""What a person sees: the failure bundle, the run-all report and the live dashboard, opened
in a real headless browser (Debian's chromium driven by Selenium; nothing downloaded).

Each test saves a screenshot in its tmp folder (and in ENVCTL_SCREENSHOTS when set: that is
how docs/images/ is made) and prints where.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import REPO, run_envctl

FAILING = """
name: orders_broken
dependency_mode: real
external_services:
  kafka: {type: kafka, topics: [orders]}
  cache: {type: redis}
steps:
  - publish: {topic: orders, key: "1", value: {id: 1, total: 12.5}}
  - redis: {command: [SET, "order:1", paid]}
  - expect_message: {topic: orders, match: {value.id: 2}, within: 1}
"""
PASSING = """
name: cache_ok
dependency_mode: real
external_services:
  cache: {type: redis}
steps:
  - redis: {command: [SET, k, v]}
  - redis: {command: [GET, k], expect: v}
"""


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        message = "Debian's chromium and chromium-driver are needed (apt-get install them)"
        if os.environ.get("ENVCTL_REQUIRE_DOCKER", "") not in ("", "0", "false"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("ENVCTL_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    print(f"screenshot: {path}")
    return path


def _tree(root: Path) -> Path:
    for name, text in (("orders_broken", FAILING), ("cache_ok", PASSING)):
        path = root / "scenarios" / f"scenario_{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root / "scenarios"


def test_failure_bundle_and_report_in_a_browser(
    browser: Any, test_env: dict[str, str], no_leaks: None, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    scenarios = _tree(tmp_path)
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    for _ in range(2):  # two runs: the report has a trend
        result = run_envctl(
            "--scenarios-dir",
            str(scenarios),
            "run-all",
            "--no-share",  # each scenario's own services: their start-up is on its timeline
            "--json",
            str(tmp_path / "r.json"),
            env=env,
        )
        assert result.returncode == 1, result.stdout + result.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    bundle = Path(data["outcomes"]["orders_broken"]["bundle"])
    assert bundle.is_file() and bundle.stat().st_size < 1_000_000

    browser.get(bundle.as_uri())
    assert browser.find_element(By.ID, "outcome").text == "failed"
    failing = browser.find_element(By.ID, "failing-step").text
    assert "Failing step 2: expect_message" in failing
    assert 'a message matching {"value.id": 2}' in failing  # expected
    assert "none matching" in failing  # seen
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.timeline g.bar")
    kinds = {bar.get_attribute("class") for bar in bars}
    assert "bar step failed" in kinds and "bar service passed" in kinds
    assert "service kafka" in browser.find_element(By.ID, "timeline").text
    data_text = browser.find_element(By.ID, "data").text
    assert "orders" in data_text and "order:1" in data_text  # topic messages, keys
    _screenshot(browser, tmp_path, "bundle")

    report = Path(data["run_id"] and tmp_path / "state" / "runs" / data["run_id"] / "report.html")
    browser.get(report.as_uri())
    rows = {
        row.get_attribute("data-scenario"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "tr.scenario")
    }
    assert set(rows) == {"orders_broken", "cache_ok"}
    assert "failed" in rows["orders_broken"].text and "0% of 2" in rows["orders_broken"].text
    assert "100% of 2" in rows["cache_ok"].text
    assert rows["cache_ok"].find_elements(By.CSS_SELECTOR, "svg.spark rect")
    _screenshot(browser, tmp_path, "report")
    rows["orders_broken"].find_element(By.CSS_SELECTOR, "a.bundle").click()
    assert browser.find_element(By.ID, "failing-step").is_displayed()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dashboard_shows_health_turning_red(
    browser: Any, test_env: dict[str, str], no_leaks: None, tmp_path: Path, docker_client: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    scenarios = _tree(tmp_path)
    env = {**test_env, "ENVCTL_STATE_DIR": str(tmp_path / "state")}
    up = run_envctl("--scenarios-dir", str(scenarios), "up", "-s", "cache_ok", "--json", env=env)
    assert up.returncode == 0, up.stderr
    run_id = json.loads(up.stdout)["run_id"]
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "envctl", "dashboard", "--port", str(port), "--interval", "0.5"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        assert "envctl dashboard: http://127.0.0.1:" in server.stderr.readline()
        browser.get(f"http://127.0.0.1:{port}/")
        cell = f'tr.service[data-run="{run_id}"][data-service="cache"] td.health'
        wait = WebDriverWait(browser, 30, poll_frequency=0.2)
        wait.until(lambda b: "healthy" in b.find_element(By.CSS_SELECTOR, cell).text)
        _screenshot(browser, tmp_path, "dashboard-healthy")
        container = json.loads(up.stdout)["services"]["cache"]["container"]
        docker_client.containers.get(container).stop(timeout=1)
        wait.until(
            lambda b: (
                b.find_element(By.CSS_SELECTOR, f"{cell} .status").text in ("down", "unhealthy")
            )
        )
        color = browser.find_element(By.CSS_SELECTOR, f"{cell} .status").value_of_css_property(
            "background-color"
        )
        assert color in ("rgba(214, 69, 69, 1)", "rgb(214, 69, 69)")  # red
        _screenshot(browser, tmp_path, "dashboard-down")
    finally:
        server.terminate()
        server.wait(timeout=10)
        run_envctl("down", "--run-id", run_id, env=env)
