"""Before: each dependency started by testcontainers in a session fixture."""

import pytest
from testcontainers.postgres import PostgresContainer
from testcontainers.redis import RedisContainer


@pytest.fixture(scope="session")
def database_url():
    with PostgresContainer("postgres:16", username="shop", password="secret", dbname="shop") as pg:
        yield pg.get_connection_url()


@pytest.fixture(scope="session")
def redis_client():
    with RedisContainer("redis:7-alpine") as redis:
        yield redis.get_client()
