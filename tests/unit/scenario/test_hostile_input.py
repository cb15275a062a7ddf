"""Hostile and broken scenario files (issue 10): each is one FILE:LINE problem, never a
traceback, a hang or a flood of memory, and strings stay what the user wrote."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from envctl.errors import ConfigError
from envctl.scenario import load_scenario

BOMB = (
    b"a: &a [x,x,x,x,x,x,x,x,x]\n"
    + b"".join(
        b"%c: &%c [%s]\n" % (c, c, b",".join([b"*" + bytes([c - 1])] * 9))
        for c in range(ord("b"), ord("j"))
    )
    + b"name: x\n"
)

# (id, file bytes, line, text the one problem contains)
CASES: list[tuple[str, bytes, int | None, str]] = [
    ("bad-date-stays-text", b"name: x\ndescription: 2001-13-45\nsteps: 5\n", 3, "steps"),
    ("int-tag", b"name: x\ndescription: !!int abc\n", 2, "!!int 'abc' is not an integer"),
    ("float-tag", b"name: x\ndescription: !!float xyz\n", 2, "!!float 'xyz' is not a number"),
    ("bool-tag", b"name: x\ndescription: !!bool maybe\n", 2, "!!bool 'maybe' is not true"),
    ("timestamp-tag", b"name: x\ndescription: !!timestamp nope\n", 2, "unsupported tag"),
    ("python-tag", b"name: x\ndescription: !!python/name:os.system x\n", 2, "unsupported"),
    ("huge-int", b"name: x\ndescription: " + b"9" * 5000 + b"\n", 2, "5000 digits is too"),
    ("escape-beyond-unicode", b'name: x\ndescription: "\\U00110000"\n', 2, "invalid YAML"),
    ("nul-byte", b"name: x\ndescription: a\x00b\n", 2, "control character U+0000"),
    ("bell", b"name: x\n\ndescription: a\x07b\n", 3, "control character U+0007"),
    ("escaped-nul", b'name: x\ndescription: "a\\0b"\n', 2, "NUL character"),
    ("lone-surrogate", b'name: x\ndescription: "\\ud800"\n', 2, "invalid"),
    ("latin-1", "name: x\n\ndescription: café\n".encode("latin-1"), 3, "not UTF-8"),
    ("utf-16", "name: x\n".encode("utf-16"), None, "UTF-16 text; save it as UTF-8"),
    ("recursive-list", b"name: x\nsteps: &a [*a]\n", 2, "recursive alias"),
    ("recursive-map", b"name: x\nexpected: &a {x: *a}\n", 2, "recursive alias"),
    ("recursive-merge", b"name: x\nexpected: &a {<<: *a}\n", 2, "recursive alias"),
    ("deep-nesting", b"name: x\ndescription: " + b"[" * 600 + b"]" * 600 + b"\n", 2, "deeper"),
    (
        "inf",
        b"name: x\nexternal_services:\n  k: {type: kafka}\ntimeout_profiles:\n"
        b"  k: {health_check: .inf}\n",
        5,
        ".inf is not allowed",
    ),
    ("nan", b"name: x\nsteps:\n  - sleep: .nan\n", 3, ".nan is not allowed"),
    ("overflowing-float", b"name: x\nsteps:\n  - sleep: 1e999\n", 3, "too large a number"),
    ("non-scalar-key", b"name: x\n? [a]\n: 1\n", 2, "keys must be plain scalars"),
]


@pytest.mark.parametrize(
    ("text", "line", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_yaml_is_one_problem_with_its_line(
    tmp_path: Path, text: bytes, line: int | None, needle: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(text)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert time.monotonic() - started < 30  # generous: a hang or an expansion takes minutes
    problems = info.value.problems
    assert problems, str(info.value)
    first = problems[0]
    assert needle in first.message or needle in first.path, str(info.value)
    assert first.line == line, str(info.value)
    assert all("\n" not in str(p) for p in problems)
    assert "<unicode string>" not in str(info.value)


def test_an_alias_bomb_is_one_problem_within_bounded_memory(tmp_path: Path) -> None:
    """A few hundred bytes that expand to 387 million values. Loaded in a child process
    capped at 1 GiB of address space and 60 s, so a regression fails this test instead of
    exhausting the machine's memory."""
    import resource
    import subprocess
    import sys

    path = tmp_path / "s.yaml"
    path.write_bytes(BOMB)
    program = (
        "import sys\n"
        "from envctl.errors import ConfigError\n"
        "from envctl.scenario import load_scenario\n"
        "try:\n"
        "    load_scenario(sys.argv[1], {})\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [sys.executable, "-c", program, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cap,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == (
        f"{path}:1: aliases expand to too many values (an alias bomb?); write the values out\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        b'name: "\\ud800x"\n',
        # libyaml stops at the escape above; these reach validation as a value already
        # reported, which must not be reported again ("must be text, not nothing")
        b"name: x\ndescription: !!int abc\n",
        b'name: x\ndescription: "a\\0b"\n',
        b'name: "a\\0b"\n',
    ],
    ids=["surrogate", "int-tag", "nul-escape", "nul-in-name"],
)
def test_a_problem_in_a_value_is_not_reported_twice(tmp_path: Path, text: bytes) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert len(info.value.problems) == 1, str(info.value)


def test_a_lone_surrogate_from_a_pure_python_parser_is_a_problem() -> None:
    """libyaml refuses ``"\\ud800"`` while scanning; PyYAML's pure-Python parser (used
    where PyYAML is built without libyaml) turns it into a lone surrogate, which the
    builder must refuse as a one-line problem."""
    import yaml

    from envctl.errors import Problem
    from envctl.scenario.yamlfile import _Builder

    node = yaml.compose('description: "a\\ud800b"\n', Loader=yaml.SafeLoader)
    problems: list[Problem] = []
    data = _Builder("s.yaml", problems, {}, 100, set()).build(node, ())
    assert data == {"description": None}
    assert [(p.line, p.path) for p in problems] == [(1, "description")]
    assert "lone surrogate" in problems[0].message


@pytest.mark.parametrize(
    "kind", ["directory", "fifo", "dev-zero", "symlink-loop", "too-large", "name-too-long"]
)
def test_a_scenario_path_that_is_no_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "s.yaml"
    if kind == "name-too-long":
        path = tmp_path / ("a" * 300 + ".yaml")
        needle = "has a name longer than the file system allows"
    elif kind == "directory":
        path.mkdir()
        needle = "is a directory"
    elif kind == "fifo":
        os.mkfifo(path)
        needle = "not a regular file"
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")
        needle = "not a regular file"
    elif kind == "symlink-loop":
        path.symlink_to(tmp_path / "s.yaml")
        needle = "symlink loop"
    else:
        path.write_bytes(b"name: x\n" + b"# padding\n" * 60_000)
        needle = "too large"
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


YAML_12 = """
name: x
external_services:
  app:
    type: generic
    image: busybox
    env:
      VERSION: 1.10
      MODE: 0755
      AT: 12:30
      FLAG: yes
      OFF: no
      DAY: 2001-02-29
      BIG: 0x1F
  kafka:
    type: kafka
    topics:
      - name: orders
        config: {retention.ms: 0600000, cleanup.policy: delete}
"""


def test_strings_stay_what_the_user_wrote(write_scenario: Callable[..., Path]) -> None:
    scenario = load_scenario(write_scenario("s.yaml", YAML_12), {})
    env = scenario.external_services["app"].env
    assert env == {
        "VERSION": "1.10",
        "MODE": "0755",
        "AT": "12:30",
        "FLAG": "yes",
        "OFF": "no",
        "DAY": "2001-02-29",
        "BIG": "0x1F",
    }
    topic = scenario.external_services["kafka"].topics[0]  # type: ignore[attr-defined]
    assert topic.config == {"retention.ms": "0600000", "cleanup.policy": "delete"}


def test_yaml_12_booleans_and_numbers(write_scenario: Callable[..., Path]) -> None:
    from envctl.scenario.yamlfile import parse_yaml

    data, _ = parse_yaml(
        "a: yes\nb: True\nc: 0o17\nd: 1e3\ne: ~\nf: 1_000\ng: .5\nh: +12\n", "x", []
    )
    assert data == {
        "a": "yes",
        "b": True,
        "c": 15,
        "d": 1000.0,
        "e": None,
        "f": "1_000",
        "g": 0.5,
        "h": 12,
    }


@pytest.mark.parametrize("copy_of", ["pickle", "deepcopy", "copy"])
def test_yaml_numbers_keep_their_text_through_copies(copy_of: str) -> None:
    import copy
    import pickle

    from envctl.scenario.yamlfile import parse_yaml

    data, _ = parse_yaml("i: 0600000\nf: 1.10\nbig: " + "9" * 99 + "\n", "x", [])
    copied = {
        "pickle": lambda: pickle.loads(pickle.dumps(data)),
        "deepcopy": lambda: copy.deepcopy(data),
        "copy": lambda: {k: copy.copy(v) for k, v in data.items()},
    }[copy_of]()
    assert copied == {"i": 600000, "f": 1.1, "big": int("9" * 99)}
    for key, value in data.items():
        assert type(copied[key]) is type(value)
        assert copied[key].yaml_text == value.yaml_text
    assert [v.yaml_text for v in copied.values()] == ["0600000", "1.10", "9" * 99]


def test_extends_fan_out_merges_each_base_once(tmp_path: Path) -> None:
    # 20 bases per file over 4 levels: 160,000 merges when each base is read every time.
    for level in range(4):
        for i in range(20):
            bases = (
                "[" + ", ".join(f"l{level + 1}_{j}.yaml" for j in range(20)) + "]"
                if level < 3
                else "[]"
            )
            (tmp_path / f"l{level}_{i}.yaml").write_text(
                f"extends: {bases}\ndescription: l{level}_{i}\n"
            )
    (tmp_path / "s.yaml").write_text(
        "name: s\nextends: [" + ", ".join(f"l0_{j}.yaml" for j in range(20)) + "]\n"
    )
    started = time.monotonic()
    scenario = load_scenario(tmp_path / "s.yaml", {})
    assert time.monotonic() - started < 30
    assert scenario.description == "l0_19"


def test_a_deep_extends_chain_is_bounded(tmp_path: Path) -> None:
    for i in range(1500):
        (tmp_path / f"b{i}.yaml").write_text(f"extends: b{i + 1}.yaml\n")
    (tmp_path / "b1500.yaml").write_text("description: end\n")
    (tmp_path / "s.yaml").write_text("name: s\nextends: b0.yaml\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {})
    assert "extends chain deeper than 16 files" in str(info.value)


def test_a_long_depends_on_chain_is_bounded(tmp_path: Path) -> None:
    lines = [f"  s{i}: {{type: redis, depends_on: [s{i + 1}]}}" for i in range(5000)]
    (tmp_path / "s.yaml").write_text(
        "name: s\nexternal_services:\n" + "\n".join(lines) + "\n  s5000: {type: redis}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {})
    assert str(info.value).endswith(
        "external_services: 5001 services; a scenario holds at most 500"
    )


def test_a_dependency_chain_within_bounds_is_fast(tmp_path: Path) -> None:
    from envctl.graph import find_cycle

    chain = {f"s{i}": [f"s{i + 1}"] for i in range(20_000)}
    chain["s20000"] = []
    started = time.monotonic()
    assert find_cycle(chain) is None
    chain["s20000"] = ["s0"]
    cycle = find_cycle(chain)
    assert time.monotonic() - started < 30
    assert cycle is not None and len(cycle) == 20_002


@pytest.mark.parametrize(
    ("extends", "needle"),
    [
        ("/etc/shadow", "is not a YAML file"),
        ("/etc/passwd.yaml", "is outside the project"),
        ("../../../../../../etc/hosts.yaml", "is outside the project"),
    ],
)
def test_extends_outside_the_project_is_refused_and_never_echoed(
    tmp_path: Path, extends: str, needle: str
) -> None:
    (tmp_path / "s.yaml").write_text(f"name: s\nextends: {extends}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {}, allowed_roots=[tmp_path])
    assert needle in str(info.value)
    assert "root:" not in str(info.value)


def test_allowed_paths_in_the_project_config_admit_a_folder(tmp_path: Path) -> None:
    from envctl.settings import Settings

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "base.yaml").write_text("description: shared\n")
    project = tmp_path / "project"
    (project / "scenarios").mkdir(parents=True)
    (project / "scenarios" / "s.yaml").write_text("name: s\nextends: ../../shared/base.yaml\n")
    settings = Settings.load(environ={}, cwd=project)
    with pytest.raises(ConfigError, match="outside the project"):
        settings.load_scenario(project / "scenarios" / "s.yaml")
    (project / "envctl.yaml").write_text("allowed_paths: [../shared]\n")
    settings = Settings.load(environ={}, cwd=project)
    assert settings.load_scenario(project / "scenarios" / "s.yaml").description == "shared"


def test_compose_source_problems_are_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  app:\n"
        "    image: busybox\n"
        "    command: 'echo \"unbalanced'\n"
        "    ports: [{target: 80, published: 1e999}]\n"
        '    volumes: ["./a\\0b:/data"]\n'
    )
    (tmp_path / "s.yaml").write_text("name: s\ncompose: {file: compose.yaml}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {})
    text = str(info.value)
    assert "compose.yaml:5: invalid" not in text
    assert "too large a number" in text
    assert "compose.yaml:6: services.app.volumes[0]: contains a NUL character" in text, text


def test_compose_source_command_with_unbalanced_quotes(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: busybox\n    command: 'echo \"unbalanced'\n"
    )
    (tmp_path / "s.yaml").write_text("name: s\ncompose: {file: compose.yaml}\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {})
    text = str(info.value)
    assert "services.app.command: cannot split the command: No closing quotation" in text


def test_compose_key_keeps_validation_of_the_scenario_own_keys(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: postgres:16\n")
    (tmp_path / "s.yaml").write_text(
        "name: s\ncompose: {file: compose.yaml}\ntimeout_profiles: 5\nexternal_services: 7\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(tmp_path / "s.yaml", {})
    text = str(info.value)
    assert "timeout_profiles" in text
    assert "external_services" in text


KAFKA = "external_services:\n  k: {type: kafka, topics: [orders]}\n"

# Values of the wrong type, and steps/expected that `run` refuses: `validate` refuses them
# too, each as FILE:LINE: key.path: what to write.
WRONG: list[tuple[str, str, str]] = [
    (
        "topics-5",
        "external_services:\n  k: {type: kafka, topics: 5}\n",
        "3: external_services.k.topics: must be a list, not 5",
    ),
    (
        "databases-5",
        "external_services:\n  p: {type: postgres, databases: 5}\n",
        "3: external_services.p.databases: must be a list, not 5",
    ),
    (
        "topic-name-5",
        "external_services:\n  k: {type: kafka, topics: [{name: 5}]}\n",
        "3: external_services.k.topics[0].name: must be text, not 5",
    ),
    (
        "partitions-true",
        "external_services:\n  k: {type: kafka, topics: [{name: a, partitions: true}]}\n",
        "external_services.k.topics[0].partitions: must be a whole number, not true",
    ),
    (
        "cleanup-after-1",
        "cleanup_after: 1\n",
        "2: cleanup_after: 1 is not valid; expected true/false, 'on_success' or a mapping",
    ),
    (
        "huge-timeout",
        KAFKA + "timeout_profiles:\n  k: {health_check: 1e300}\n",
        "5: timeout_profiles.k.health_check: must be at most 86400, not 1e300",
    ),
    (
        "regex-repeat",
        "external_services:\n  g: {type: generic, image: x, probe: {log: 'a{99999999999}'}}\n",
        "the repetition number is too large",
    ),
    (
        "regex-nesting",
        "external_services:\n  g: {type: generic, image: x, probe: {log: '"
        + "(" * 3000
        + ")" * 3000
        + "'}}\n",
        "at most 1000 allowed",
    ),
    (
        "unclosed-variable",
        "external_services:\n  g: {type: generic, image: '${IMG'}\n",
        "3: external_services.g.image: '${IMG' has no closing '}'",
    ),
    (
        "sleep-1e9",
        "steps:\n  - sleep: 1e9\n",
        "3: steps[0].sleep.seconds: must be at most 3600, not 1e9",
    ),
    (
        "sleep-negative",
        "steps:\n  - sleep: -1\n",
        "3: steps[0].sleep.seconds: -1 is not a duration: it must be 0 or more",
    ),
    (
        "sleep-text",
        "steps:\n  - sleep: abc\n",
        "3: steps[0].sleep.seconds: 'abc' is not a duration; write e.g. 90, 1.5s, 250ms",
    ),
    (
        "sleep-list",
        "steps:\n  - sleep: [1]\n",
        "3: steps[0].sleep: must be a duration (`sleep: 0.5`, `sleep: 500ms`) or {seconds: 0.5},"
        " not a list",
    ),
    (
        "within-2h",
        KAFKA + "steps:\n  - expect_message: {topic: orders, within: 2h}\n",
        "5: steps[0].expect_message.within: must be at most 3600, not '2h'",
    ),
    (
        "publish-topc",
        KAFKA + "steps:\n  - publish: {topc: orders}\n",
        "5: steps[0].publish.topc: unknown key — did you mean 'topic'?",
    ),
    (
        "within-1e9",
        KAFKA + "steps:\n  - expect_message: {topic: orders, within: 1e9}\n",
        "5: steps[0].expect_message.within: must be at most 3600, not 1e9",
    ),
    (
        "expected-negative",
        KAFKA + "expected:\n  messages: {orders: -1}\n",
        "5: expected.messages.orders.equals: must be at least 0, not -1",
    ),
    (
        "expected-list-item",
        KAFKA + "expected:\n  - messages: {orders: 1}\n  - {within: 1e9}\n",
        "6: expected[1].within: must be at most 3600, not 1e9",
    ),
]


@pytest.mark.parametrize(
    ("body", "needle"), [w[1:] for w in WRONG if w[2]], ids=[w[0] for w in WRONG if w[2]]
)
def test_wrong_values_are_refused_by_validate(tmp_path: Path, body: str, needle: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\n" + body)
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    text = str(info.value)
    assert needle in text, text
    assert "Input should be" not in text


def test_validate_cli_refuses_what_run_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from envctl.cli import main

    (tmp_path / "scenario_s.yaml").write_text(
        "name: s\n" + KAFKA + "steps:\n  - publish: {topc: orders}\n"
    )
    with pytest.raises(SystemExit) as info:
        main(["validate", str(tmp_path)])
    assert info.value.code == 2
    assert "steps[0].publish.topc: unknown key" in capsys.readouterr().err


def test_a_rejected_value_is_cut_to_a_sensible_length(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\nexternal_services:\n  k: {type: kafka, topics: [{name: orders, partitions: '"
        + "9" * 5000
        + "'}]}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert len(str(info.value)) < 400
    path.write_text("name: x\ncleanup_after: '" + "x" * 5000 + "'\n")
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    text = str(info.value)
    assert f"{path}:2: cleanup_after: 'xxxx" in text and "…" in text, text
    assert len(text) < 400, text


def test_non_finite_numbers_from_variables_are_refused_by_the_models(tmp_path: Path) -> None:
    """`.inf` in the file is a YAML problem; `${T}` with T=inf reaches the models as text,
    which must refuse it too (not wait forever)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: x\nexternal_services:\n  k: {type: kafka}\ntimeout_profiles:\n"
        "  k: {health_check: '${T}', setup: '${T}'}\n"
    )
    for value in ("inf", "nan", "-inf", "1e999"):
        with pytest.raises(ConfigError) as info:
            load_scenario(path, {"T": value})
        assert "timeout_profiles.k.health_check: must be a finite number" in str(info.value)


def test_timeout_scale_refuses_non_finite(tmp_path: Path) -> None:
    from envctl.settings import Settings

    for text in ("nan", "inf", "-inf", "1e999"):
        with pytest.raises(ConfigError, match="ENVCTL_TIMEOUT_SCALE"):
            Settings.load(environ={"ENVCTL_TIMEOUT_SCALE": text}, cwd=tmp_path)


def test_name_pattern_errors_say_which_characters_are_allowed(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        'name: "bad name!"\nexternal_services:\n  k: {type: kafka, topics: ["or ders"]}\n'
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    assert str(info.value).splitlines() == [
        f"{path}:1: name: 'bad name!' is not allowed here: use letters, digits, '_', '.' and '-',"
        " starting with a letter or a digit",
        f"{path}:3: external_services.k.topics[0].name: 'or ders' is not allowed here: use"
        " letters, digits, '.', '_' and '-'",
    ]


@pytest.mark.parametrize(
    ("name", "data", "needle"),
    [
        ("seed.sql", "INSERT INTO t VALUES ('café');\n".encode("latin-1"), "not UTF-8"),
        ("seed.csv", b"a\n" + b'"' + b"x" * 200_000 + b'"\n', "cannot read CSV"),
        ("attach.sql", b"ATTACH DATABASE 'x.db' AS x;\n", "not allowed"),
    ],
)
def test_hostile_mock_sql_seeds_are_seed_errors(
    tmp_path: Path, name: str, data: bytes, needle: str
) -> None:
    from envctl.errors import SeedError
    from envctl.runner.mock_seed import seed_mocks
    from envctl.scenario.spec import DependencyMode
    from envctl.tools import SqliteSqlStore

    (tmp_path / name).write_bytes(data)
    table = ", table: t" if name.endswith(".csv") else ""
    seed = f"{{from: {name}{table}}}"
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nexternal_services:\n  db: {{type: postgres, seed: [{seed}]}}\n")
    scenario = load_scenario(path, {})
    store = SqliteSqlStore(f"seed-{tmp_path.name}")
    store.execute("CREATE TABLE t (a TEXT)")
    with pytest.raises(SeedError) as info:
        seed_mocks(scenario, {"db": store}, {"db": DependencyMode.MOCK}, tmp_path)
    assert needle in str(info.value)
    assert list(tmp_path.glob("*.db")) == []


def test_a_path_with_a_nul_byte(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NUL"):
        load_scenario(str(tmp_path / "a\x00b.yaml"), {})


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("loop.sql", "seed file 'loop.sql' cannot be resolved (a symlink loop?)"),
        ("a" * 5000 + ".sql", "has a name longer than the file system allows"),
    ],
    ids=["symlink-loop", "name-too-long"],
)
def test_a_seed_path_that_cannot_be_resolved_is_a_problem(
    tmp_path: Path, name: str, needle: str
) -> None:
    """Found by the fuzz suite: a seed path that is a symlink loop or too long a name ended
    in RuntimeError/OSError; it is one problem at the seed's line."""
    (tmp_path / "loop.sql").symlink_to(tmp_path / "loop.sql")
    path = tmp_path / "s.yaml"
    path.write_text(
        f"name: s\nexternal_services:\n  db: {{type: postgres, seed: [{{from: {name}}}]}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {})
    text = str(info.value)
    assert f"{path}:3: external_services.db.seed[0].from: " in text and needle in text, text
    assert "\n" not in text
