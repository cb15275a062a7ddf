"""The in-memory SQL store: SQLite behind the SqlStore protocol, psycopg-style parameters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from envctl.services.sql.mock import split_statements, to_sqlite
from envctl.tools import SqliteSqlStore
from envctl.tools.errors import SqlError, ToolClosed


@pytest.fixture
def store(namespace: str) -> SqliteSqlStore:
    db = SqliteSqlStore(namespace)
    db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL)")
    return db


def test_execute_returns_rowcount_and_query_returns_dicts(store: SqliteSqlStore) -> None:
    assert store.execute("INSERT INTO orders VALUES (%s, %s, %s)", [1, "ada", 9.5]) == 1
    assert store.execute("INSERT INTO orders VALUES (%s, %s, %s)", (2, "bob", 3.0)) == 1
    assert store.execute("UPDATE orders SET total = total + 1") == 2
    assert store.query("SELECT * FROM orders ORDER BY id") == [
        {"id": 1, "customer": "ada", "total": 10.5},
        {"id": 2, "customer": "bob", "total": 4.0},
    ]
    assert store.execute("SELECT * FROM orders") == 2
    assert store.query("DELETE FROM orders WHERE id = 2") == []


def test_named_parameters(store: SqliteSqlStore) -> None:
    store.execute(
        "INSERT INTO orders VALUES (%(id)s, %(who)s, %(total)s)", {"id": 7, "who": "cy", "total": 1}
    )
    assert store.query("SELECT customer FROM orders WHERE id = %(id)s", {"id": 7}) == [
        {"customer": "cy"}
    ]


def test_placeholders_inside_literals_and_percent_signs() -> None:
    sql, params = to_sqlite("SELECT '%s', \"%s\" -- %s\n, x LIKE 'a%%' , %s, 5 %% 2 /* %s */", [1])
    assert sql == "SELECT '%s', \"%s\" -- %s\n, x LIKE 'a%%' , ?, 5 % 2 /* %s */"
    assert params == [1]
    assert to_sqlite("SELECT 5 %% 2", None) == ("SELECT 5 %% 2", ())


def test_mismatched_parameters_are_an_error(store: SqliteSqlStore) -> None:
    with pytest.raises(SqlError, match="placeholders and parameters do not match"):
        store.execute("SELECT %(a)s", [1])


def test_several_statements_without_parameters_answer_for_the_last(
    store: SqliteSqlStore,
) -> None:
    changed = store.execute(
        "INSERT INTO orders VALUES (1, 'a;b', 1); -- a comment; with a semicolon\n"
        "INSERT INTO orders VALUES (2, 'b', 2), (3, 'c', 3);"
    )
    assert changed == 2
    assert store.query("SELECT 1 AS one; SELECT customer FROM orders ORDER BY id") == [
        {"customer": "a;b"},
        {"customer": "b"},
        {"customer": "c"},
    ]
    with pytest.raises(SqlError, match="one statement at a time"):
        store.execute("SELECT %s; SELECT 2", [1])


def test_split_statements() -> None:
    assert split_statements("a; 'x;y'; \"q;\" /* ; */ ; -- c;\n ;  ") == [
        "a",
        " 'x;y'",
        ' "q;" /* ; */ ',
    ]


def test_errors_name_the_statement(store: SqliteSqlStore) -> None:
    with pytest.raises(SqlError, match=r"no such table: nope \(statement: SELECT \* FROM nope\)"):
        store.query("SELECT * FROM nope")
    store.execute("INSERT INTO orders VALUES (1, 'a', 1)")
    with pytest.raises(SqlError, match="UNIQUE constraint failed"):
        store.execute("INSERT INTO orders VALUES (1, 'a', 1)")


def test_stores_of_one_namespace_share_the_database(store: SqliteSqlStore, namespace: str) -> None:
    store.execute("INSERT INTO orders VALUES (1, 'a', 1)")
    assert SqliteSqlStore(namespace).query("SELECT count(*) AS n FROM orders") == [{"n": 1}]
    with pytest.raises(SqlError, match="no such table"):
        SqliteSqlStore(namespace + "-other").query("SELECT * FROM orders")


def test_async_face(store: SqliteSqlStore) -> None:
    async def scenario() -> list[dict[str, object]]:
        aio = store.aio
        await aio.execute("INSERT INTO orders VALUES (%s, %s, %s)", [1, "a", 2])
        rows = await aio.query("SELECT customer FROM orders")
        await aio.close()
        return rows

    assert asyncio.run(scenario()) == [{"customer": "a"}]
    with pytest.raises(ToolClosed):
        store.query("SELECT 1")


@pytest.mark.parametrize(
    "statement",
    [
        "ATTACH DATABASE '{dir}/x.db' AS x",
        "DETACH DATABASE main",
        "VACUUM INTO '{dir}/y.db'",
        "PRAGMA temp_store_directory = '{dir}'",
        "SELECT load_extension('{dir}/ext')",
    ],
)
def test_the_sql_double_never_reaches_the_file_system(tmp_path: Path, statement: str) -> None:
    store = SqliteSqlStore(f"fs-{tmp_path.name}")
    with pytest.raises(SqlError):
        store.execute(statement.format(dir=tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert store.execute("CREATE TABLE t (a INTEGER)") == -1  # ordinary statements still run
