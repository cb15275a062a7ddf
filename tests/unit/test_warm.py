"""Warm instances without Docker: reuse keying, the reuse decision, leases, TTL reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.gc import judge
from envctl.runtime.base import (
    LABEL_CREATED,
    LABEL_MANAGED,
    LABEL_RUN_ID,
    LABEL_SERVICE,
    LABEL_WARM,
    LABEL_WARM_TTL,
    ManagedResource,
)
from envctl.scenario import Scenario
from envctl.settings import Settings
from envctl.warm import LeaseBook, decide_reuse, not_reusable, reap, warm_key

SCENARIO = """
name: w
dependency_mode: real
external_services:
  kafka:
    type: kafka
    image: envctl-test/kafka:tansu
    topics: [orders]
  db:
    type: postgres
    image: envctl-test/postgres:15
    seed: [{from: schema.sql}]
"""


def _ids(mapping: dict[str, str]) -> Callable[[str], str]:
    return lambda image: mapping.get(image, "sha256:" + image)


@pytest.fixture
def scenario(load_text: Callable[..., Scenario], write_scenario: Callable[..., Path]) -> Scenario:
    write_scenario("schema.sql", "CREATE TABLE t (id int);")
    return load_text(SCENARIO)


def test_the_same_content_has_the_same_key(scenario: Scenario) -> None:
    assert warm_key(scenario, None, _ids({})) == warm_key(scenario, None, _ids({}))


def test_a_rebuilt_image_is_another_instance(scenario: Scenario) -> None:
    before = warm_key(scenario, None, _ids({}))
    rebuilt = _ids({"envctl-test/kafka:tansu": "sha256:rebuilt"})
    assert warm_key(scenario, None, rebuilt) != before


def test_container_settings_change_the_key(
    scenario: Scenario, load_text: Callable[..., Scenario]
) -> None:
    changed = load_text(
        SCENARIO.replace("    topics: [orders]", "    topics: [orders]\n    env: {X: '1'}")
    )
    other_password = load_text(SCENARIO + "    password: other\n")
    key = warm_key(scenario, None, _ids({}))
    assert warm_key(changed, None, _ids({})) != key
    assert warm_key(other_password, None, _ids({})) != key


def test_per_run_data_does_not_change_the_key(
    scenario: Scenario, load_text: Callable[..., Scenario], write_scenario: Callable[..., Path]
) -> None:
    # topics, databases, schemas and seeds live in each run's namespace, not in the container
    write_scenario("other.sql", "CREATE TABLE u (id int);")
    changed = load_text(
        SCENARIO.replace("topics: [orders]", "topics: [orders, payments]").replace(
            "schema.sql", "other.sql"
        )
    )
    assert warm_key(changed, None, _ids({})) == warm_key(scenario, None, _ids({}))


def test_a_changed_seed_file_is_another_pool_template(
    scenario: Scenario, write_scenario: Callable[..., Path]
) -> None:
    from envctl.engine import build_plugin
    from envctl.services.postgres.pool import content_hash

    plugin = build_plugin(scenario, "db", "r1")
    before = content_hash(plugin)  # type: ignore[arg-type]
    assert content_hash(build_plugin(scenario, "db", "r2")) == before  # type: ignore[arg-type]
    write_scenario("schema.sql", "CREATE TABLE t (id int, name text);")
    assert content_hash(plugin) != before  # type: ignore[arg-type]


def test_services_without_a_namespace_are_not_reusable(load_text: Callable[..., Scenario]) -> None:
    app = load_text(
        """
        name: a
        dependency_mode: real
        external_services:
          app: {type: generic, image: envctl-test/debian-base:bookworm}
        """
    )
    assert "no per-run namespace" in (not_reusable(app) or "")


def _settings(tmp_path: Path, environ: Mapping[str, str] | None = None, **kw: object) -> Settings:
    settings = Settings.load(environ=dict(environ or {}), cwd=tmp_path)
    from dataclasses import replace

    return replace(settings, **kw)  # type: ignore[arg-type]


def test_reuse_is_off_unless_asked(tmp_path: Path, scenario: Scenario) -> None:
    setting = decide_reuse(_settings(tmp_path), scenario)
    assert (setting.enabled, setting.ttl, setting.source) == (False, 600.0, "default")


def test_reuse_precedence(
    tmp_path: Path, load_text: Callable[..., Scenario], write_scenario: Callable[..., Path]
) -> None:
    write_scenario("schema.sql", "CREATE TABLE t (id int);")
    on = load_text(SCENARIO.replace("name: w", "name: w\nreuse: {ttl: 90s}"), name="on.yaml")
    project = _settings(tmp_path, reuse=False)
    assert decide_reuse(project, None).enabled is False
    chosen = decide_reuse(project, on)
    assert (chosen.enabled, chosen.ttl, chosen.source) == (True, 90.0, "scenario reuse:")
    env_off = _settings(tmp_path, {"ENVCTL_REUSE": "0", "ENVCTL_REUSE_TTL": "2m"})
    assert decide_reuse(env_off, on).enabled is False
    assert decide_reuse(env_off, on).ttl == 120.0
    assert decide_reuse(env_off, on, flag=True).source == "--reuse"


def test_bad_reuse_values_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ENVCTL_REUSE='maybe'"):
        decide_reuse(_settings(tmp_path, {"ENVCTL_REUSE": "maybe"}))
    with pytest.raises(ConfigError, match="ENVCTL_REUSE_TTL: 'soon' is not a duration"):
        decide_reuse(_settings(tmp_path, {"ENVCTL_REUSE_TTL": "soon"}))


# -- leases ------------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from envctl.warm import LeaseBook
    book = LeaseBook(Path(sys.argv[1]))
    book.take("k1", {"pid": 0})
    print("held", flush=True)
    sys.stdin.readline()  # hold until told (or killed)
    """
)


def _holder(root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_lease_is_held_until_its_process_is_killed(tmp_path: Path) -> None:
    book = LeaseBook(tmp_path)
    holder = _holder(tmp_path)
    try:
        assert [lease.held for lease in book.leases("k1")] == [True]
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    assert [lease.held for lease in book.leases("k1")] == [False]  # the kernel dropped it
    book.drop_stale("k1")
    assert book.leases("k1") == []


def test_a_lease_given_back_is_gone(tmp_path: Path) -> None:
    book = LeaseBook(tmp_path)
    path, fd = book.take("k2", {"pid": os.getpid()})
    assert [lease.held for lease in book.leases("k2")] == [True]
    book.give_back("k2", path, fd)
    assert book.leases("k2") == []
    assert book.last_used("k2") is not None


# -- reaping ---------------------------------------------------------------------------------


class FakeRuntime:
    def __init__(self, resources: list[ManagedResource]) -> None:
        self.resources = resources
        self.removed: list[str] = []

    def list_managed(self, labels: Mapping[str, str] | None = None) -> list[ManagedResource]:
        wanted = dict(labels or {})
        return [
            r
            for r in self.resources
            if r.name not in self.removed and all(r.labels.get(k) == v for k, v in wanted.items())
        ]

    def remove(self, resources: Sequence[ManagedResource]) -> list[str]:
        self.removed += [r.name for r in resources]
        return []


def _instance(key: str, ttl: int = 60) -> list[ManagedResource]:
    labels = {
        LABEL_MANAGED: "true",
        LABEL_RUN_ID: f"w{key}",
        LABEL_WARM: key,
        LABEL_WARM_TTL: str(ttl),
        LABEL_CREATED: "2020-01-01T00:00:00+00:00",
        LABEL_SERVICE: "kafka",
    }
    return [
        ManagedResource("container", f"id-{key}", f"c-{key}", labels, "running"),
        ManagedResource("network", f"n-{key}", f"net-{key}", labels),
    ]


def test_reaping_removes_idle_instances_and_never_held_ones(tmp_path: Path) -> None:
    book = LeaseBook(tmp_path)
    runtime = FakeRuntime(_instance("idle") + _instance("held") + _instance("fresh"))
    path, fd = book.take("held", {"pid": os.getpid()})
    book.touch("fresh")
    now = time.time()
    old = now - 3600
    os.utime(book.folder("held") / "last-used", (old, old))
    try:
        removed, errors = reap(runtime, book, now=now)  # type: ignore[arg-type]
        assert errors == []
        assert [i.key for i in removed] == ["idle"]
        assert runtime.removed == ["c-idle", "net-idle"]
        # --warm removes what is not held, however fresh; a held one never
        removed, _ = reap(runtime, book, everything=True, now=now)  # type: ignore[arg-type]
        assert [i.key for i in removed] == ["fresh"]
    finally:
        book.give_back("held", path, fd)
    os.utime(book.folder("held") / "last-used", (old, old))
    removed, _ = reap(runtime, book, now=now)  # type: ignore[arg-type]
    assert [i.key for i in removed] == ["held"]  # once given back and idle past its TTL


def test_gc_leaves_warm_instances_to_their_leases() -> None:
    resources = _instance("k")
    for verdict in judge(resources):
        assert verdict.reason is None
