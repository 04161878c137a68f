"""The store on each engine: SQLite (a file in the test's folder) and the machine's
PostgreSQL (127.0.0.1:5432, database `test`, a schema of the test's own, dropped after).

Fixtures: `store_factory` (parametrized `sqlite` and `postgres`: every test that asks
for it runs on both) and `pg_store` (PostgreSQL only), each a `StoreFactory` whose call
opens a Store on the test's store; every Store it opened is closed at teardown.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from bot.store.store import Store

SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass
class StoreFactory:
    engine: str  # "sqlite" or "postgres"
    location: Path | str
    opened: list[Store] = field(default_factory=list)

    def __call__(self, busy_timeout_s: float = 10.0) -> Store:
        store = Store(self.location, busy_timeout_s=busy_timeout_s)
        self.opened.append(store)
        return store

    def write(self, sql: str, parameters: Sequence[object] = ()) -> None:
        """A statement run on the store from outside the bot (a tamperer, an old tool),
        in the store's own SQL (SQLite's, translated on PostgreSQL)."""
        store = self()
        with store.transaction() as db:
            db.execute(sql, list(parameters))

    def close(self) -> None:
        for store in self.opened:
            store.close()


def new_schema() -> str:
    name = f"stagger_store_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{name}"')
    return name


def drop_schema(name: str) -> None:
    with psycopg.connect(SERVER, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def schema_dsn(name: str) -> str:
    return f"{SERVER}?options=-csearch_path%3D{name}"


@pytest.fixture
def pg_store() -> Iterator[StoreFactory]:
    name = new_schema()
    factory = StoreFactory("postgres", schema_dsn(name))
    try:
        yield factory
    finally:
        factory.close()
        drop_schema(name)


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "sqlite":
        factory = StoreFactory("sqlite", tmp_path / "s.db")
        try:
            yield factory
        finally:
            factory.close()
        return
    yield request.getfixturevalue("pg_store")
