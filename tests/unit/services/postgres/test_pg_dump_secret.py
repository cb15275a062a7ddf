"""pg_dump never gets the password on its command line (issue 10 §3c)."""

from __future__ import annotations

import os

from envctl.services.postgres.data import pg_dump_command


def test_the_password_goes_through_the_environment() -> None:
    command, env = pg_dump_command(
        "/usr/bin/pg_dump", "host=127.0.0.1 port=5 user=u password=s3cr3t-pw dbname=shop"
    )
    assert not any("s3cr3t-pw" in part for part in command)
    assert env["PGPASSWORD"] == "s3cr3t-pw"
    assert "dbname=shop" in command[-1] and "user=u" in command[-1]


def test_a_dsn_without_password_sets_none() -> None:
    command, env = pg_dump_command("pg_dump", "postgresql://u@127.0.0.1:5/shop")
    assert env.get("PGPASSWORD") == os.environ.get("PGPASSWORD")  # left as it was
    assert command[:3] == ["pg_dump", "--no-owner", "--no-privileges"]
