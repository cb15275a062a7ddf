"""After: one scenario (scenarios/integration/scenario_shop_legacy.yaml) brings up
the database and the cache, each ready by its own protocol; the tests read the addresses."""

import psycopg
import pytest
import redis

import envctl


@pytest.fixture(scope="session")
def shop():
    with envctl.up("shop_legacy") as env:  # everything is removed on exit
        yield env


@pytest.fixture
def database_url(shop):
    return shop.endpoints("db")["dsn"]


@pytest.fixture
def redis_client(shop):
    return redis.Redis.from_url(shop.endpoints("cache")["url"])


def test_an_order_round_trip(database_url, redis_client):
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.execute("INSERT INTO orders VALUES (1)")
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (1,)
    redis_client.set("order:1", "paid")
    assert redis_client.get("order:1") == b"paid"
