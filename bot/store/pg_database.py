"""A PostgreSQL connection offering the part of sqlite-utils' `Database` the repositories
use: `execute`, `query`, `table(name)` (insert, insert_all, upsert, update, rows_where,
columns_dict, last_pk), `table_names`, and `conn` (execute, executemany, in_transaction).
Every statement goes through `pg_dialect.translate`; every psycopg error becomes a
StoreError naming the store (its DSN without the password)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from bot.core.errors import StoreError, StoreUnreachable
from bot.store.pg_dialect import SNAPSHOT, translate
from bot.store.tables import TABLES, Table, quoted

_BATCH = 2000
_ENDS = ("COMMIT", "ROLLBACK")
_PYTHON_TYPES = {"bigint": int, "integer": int, "double precision": float, "real": float}


class PgConnection:
    """What the repositories reach for as `db.conn`."""

    def __init__(self, connection: psycopg.Connection[Any], where: str) -> None:
        self.raw = connection
        self._where = where
        self._cursors = itertools.count()
        self._in_snapshot = False
        self._streaming: list[psycopg.ServerCursor[Any]] = []

    def execute(
        self, sql: str, parameters: Sequence[object] | None = None
    ) -> psycopg.Cursor[Any] | psycopg.ServerCursor[Any]:
        statement = translate(sql)
        try:
            if statement.sql == SNAPSHOT or statement.sql.strip().upper() in _ENDS:
                self._in_snapshot = statement.sql == SNAPSHOT
                self._close_streams()
            if not self._streams(statement.sql):
                return self.raw.execute(statement.sql, statement.parameters(parameters))
            # In a read snapshot (audit verify and export, a store's copy) a SELECT may
            # walk a million rows: fetched in batches by a server-side cursor, as SQLite's
            # cursor steps, so memory stays bounded. It ends with the snapshot.
            cursor = self.raw.cursor(name=f"stagger_read_{next(self._cursors)}")
            cursor.itersize = _BATCH
            self._streaming.append(cursor)
            return cursor.execute(statement.sql, statement.parameters(parameters))
        except psycopg.Error as error:
            raise store_error(self._where, error) from None

    def _close_streams(self) -> None:
        streaming, self._streaming = self._streaming, []
        for cursor in streaming:
            with contextlib.suppress(psycopg.Error):
                cursor.close()

    def _streams(self, sql: str) -> bool:
        return (
            self.raw.info.transaction_status == TransactionStatus.INTRANS
            and self._in_snapshot
            and sql.lstrip()[:6].upper() == "SELECT"
        )

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> psycopg.Cursor[Any]:
        statement = translate(sql)
        cursor = self.raw.cursor()
        try:
            cursor.executemany(statement.sql, [statement.parameters(row) or [] for row in rows])
        except psycopg.Error as error:
            raise store_error(self._where, error) from None
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self._streaming = []
        self.raw.close()


class PgDatabase:
    def __init__(self, connection: psycopg.Connection[Any], where: str) -> None:
        self.conn = PgConnection(connection, where)

    def execute(self, sql: str, parameters: Sequence[object] | None = None) -> psycopg.Cursor[Any]:
        return self.conn.execute(sql, parameters)

    def query(
        self, sql: str, parameters: Sequence[object] | None = None
    ) -> Iterator[dict[str, Any]]:
        cursor = self.execute(sql, parameters)
        names = [column.name for column in cursor.description or ()]
        for values in cursor.fetchall():
            yield dict(zip(names, values, strict=True))

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def table_names(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        ).fetchall()
        return [str(row[0]) for row in rows]


class PgTable:
    def __init__(self, db: PgDatabase, name: str) -> None:
        self._db = db
        self.name = name
        self.declared: Table | None = next((t for t in TABLES if t.name == name), None)
        self.last_pk: Any = None

    def _key(self) -> tuple[str, ...]:
        if self.declared is None or not self.declared.primary_key:
            raise StoreError(f"the store has no primary key declared for table {self.name}")
        return self.declared.primary_key

    def insert(self, row: Mapping[str, object]) -> PgTable:
        columns = list(row)
        generated = self.declared is not None and self.declared.generated_key
        returning = f" RETURNING {quoted(self._key()[0])}" if generated else ""
        cursor = self._db.execute(
            f"INSERT INTO {quoted(self.name)} ({', '.join(map(quoted, columns))}) "  # noqa: S608 - names from code
            f"VALUES ({', '.join('?' for _ in columns)}){returning}",
            [row[column] for column in columns],
        )
        if generated:
            found = cursor.fetchone()
            self.last_pk = found[0] if found else None
            if self._key()[0] in row:
                self.realign_generated_key()
        elif self.declared is not None and self.declared.primary_key:
            key = tuple(row.get(column) for column in self.declared.primary_key)
            self.last_pk = key[0] if len(key) == 1 else key
        return self

    def insert_all(self, rows: Iterable[Mapping[str, object]], *, replace: bool = False) -> PgTable:
        """`replace`: a row whose key is taken replaces it (SQLite's INSERT OR REPLACE)."""
        for row in rows:
            if replace:
                self.upsert(row, self._key())
            else:
                self.insert(row)
        return self

    def upsert(self, row: Mapping[str, object], pk: str | Sequence[str]) -> PgTable:
        keys = (pk,) if isinstance(pk, str) else tuple(pk)
        columns = list(row)
        others = [column for column in columns if column not in keys]
        action = (
            "DO UPDATE SET " + ", ".join(f"{quoted(c)} = excluded.{quoted(c)}" for c in others)
            if others
            else "DO NOTHING"
        )
        self._db.execute(
            f"INSERT INTO {quoted(self.name)} ({', '.join(map(quoted, columns))}) "  # noqa: S608 - names from code
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(map(quoted, keys))}) {action}",
            [row[column] for column in columns],
        )
        key = tuple(row[column] for column in keys)
        self.last_pk = key[0] if len(key) == 1 else key
        return self

    def update(self, pk_value: object, updates: Mapping[str, object]) -> PgTable:
        keys = self._key()
        values = list(pk_value) if isinstance(pk_value, (list, tuple)) else [pk_value]
        assignments = ", ".join(f"{quoted(column)} = ?" for column in updates)
        condition = " AND ".join(f"{quoted(column)} = ?" for column in keys)
        self._db.execute(
            f"UPDATE {quoted(self.name)} SET {assignments} WHERE {condition}",  # noqa: S608 - names from code
            [*updates.values(), *values],
        )
        self.last_pk = pk_value
        return self

    def rows_where(
        self,
        where: str | None = None,
        where_args: Sequence[object] | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        sql = f"SELECT * FROM {quoted(self.name)}"  # noqa: S608 - names from code, values bound
        if where:
            sql += f" WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._db.query(sql, where_args or [])

    @property
    def columns_dict(self) -> dict[str, type]:
        rows = self._db.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [self.name],
        ).fetchall()
        return {str(name): _PYTHON_TYPES.get(str(kind), str) for name, kind in rows}

    @property
    def count(self) -> int:
        row = self._db.execute(f"SELECT count(*) FROM {quoted(self.name)}").fetchone()  # noqa: S608
        return int(row[0]) if row else 0

    def realign_generated_key(self) -> None:
        """After rows were written with their keys given (a copy): the identity goes on
        after the largest, as SQLite's rowid does."""
        key = quoted(self._key()[0])
        self._db.execute(
            "SELECT setval(pg_get_serial_sequence(?, ?), "  # noqa: S608 - names from code
            f"GREATEST((SELECT max({key}) FROM {quoted(self.name)}), 1), "
            f"(SELECT max({key}) FROM {quoted(self.name)}) IS NOT NULL)",
            [quoted(self.name), self._key()[0]],
        )


def store_error(where: str, error: psycopg.Error) -> StoreError:
    """The error as one line naming the store; psycopg's messages carry no password, and
    `where` is the DSN redacted."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if isinstance(error, psycopg.OperationalError) and error.sqlstate in _SESSION_LOST:
        return StoreUnreachable(f"the store at {where}: {message}")
    return StoreError(f"the store at {where}: {message}")


# No SQLSTATE (the connection went), or the server ending the session (a shutdown,
# pg_terminate_backend, a crash): the store is unreachable, not refusing a statement.
_SESSION_LOST = {None, "57P01", "57P02", "57P03", "08000", "08003", "08006"}
