"""What a store's connection offers the repositories, whichever engine is under it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol


class Cursor(Protocol):
    """A statement's result, as sqlite3's and psycopg's cursors give it."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int = ...) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """The calls the repositories make on a connection: sqlite-utils' Database, or
    `pg_database.PgDatabase` offering the same."""

    @property
    def conn(self) -> Any: ...

    def execute(self, sql: str, parameters: Sequence[object] | None = ...) -> Cursor: ...

    def query(
        self, sql: str, params: Sequence[object] | None = ...
    ) -> Iterator[dict[str, Any]]: ...

    def table(self, table_name: str) -> Any: ...

    def table_names(self) -> list[str]: ...
