"""The shared store: PostgreSQL, for replicas on several machines.

A connection per thread (autocommit: a read outside a transaction is its own). A write
transaction is BEGIN, then the store's advisory lock (`pg_advisory_xact_lock`), held to
COMMIT: every writer of this store, on any machine, runs one at a time, exactly as
SQLite's single writer does, so every conditional UPDATE (a claim, `first_time`, the
audit chain's one head) keeps its guarantee. The lock is per schema: stores in other
schemas of the database never wait on each other.

The DSN may name the schema (`?schema=NAME`, made if missing, or libpq's
`options=-csearch_path%3DNAME`); the tables are made there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import conninfo

from bot.core.errors import StoreError, StoreUnreachable
from bot.core.store_location import redacted
from bot.store.database import Database
from bot.store.pg_database import PgDatabase, PgTable, store_error
from bot.store.tables import Table, quoted

# The advisory lock's first key: "stagger-bot's store" (the second is the schema's).
_LOCK_CLASS = 0x53544752


# A schema name that needs no quoting anywhere: in `options=-csearch_path=`, a comma or a
# space would silently mean other schemas, and upper case a different name.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def libpq_options(dsn: str) -> tuple[dict[str, Any], str | None]:
    """What libpq connects with for the store's DSN, and the store's schema: a
    `?schema=NAME` of the DSN (libpq knows no such parameter) becomes the search path.
    Every connection to the store is made with these: the store's, the scheduler's lock,
    the health probe's."""
    parts = urlsplit(dsn)
    if parts.netloc.count("@") > 1 or "@" in parts.path:
        # libpq and urllib would split such a DSN at different places: part of the
        # password would become the host, and show in errors unredacted.
        raise StoreError("STAGGER_DB's password holds a raw @ or /: percent-encode them (%40, %2F)")
    where = redacted(dsn)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for name, value in query if name == "schema"), None)
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise StoreError(
            f"STAGGER_DB names the schema {schema!r}: use lower-case letters, digits and _ "
            f"only, starting with a letter or _ ({where})"
        )
    libpq_dsn = urlunsplit(
        parts._replace(query=urlencode([(n, v) for n, v in query if n != "schema"]))
    )
    try:
        options: dict[str, Any] = conninfo.conninfo_to_dict(libpq_dsn)
    except psycopg.ProgrammingError:
        raise StoreError(f"STAGGER_DB is not a PostgreSQL DSN libpq can read: {where}") from None
    if schema:
        options["options"] = f"{options.get('options', '')} -csearch_path={schema}".strip()
    return options, schema


class PostgresBackend:
    def __init__(self, dsn: str, busy_timeout_s: float) -> None:
        self.where = redacted(dsn)
        self._busy_timeout_s = busy_timeout_s
        options, self._schema = libpq_options(dsn)
        options.setdefault("connect_timeout", max(int(busy_timeout_s), 2))
        options.setdefault("application_name", "stagger-bot")
        self._options = options
        self._schema_made = False

    def connect(self) -> PgDatabase:
        try:
            connection = psycopg.connect(**self._options, autocommit=True)
        except psycopg.Error as error:
            raise StoreUnreachable(
                f"cannot open the store at {self.where}: {_first_line(error)}"
            ) from None
        db = PgDatabase(connection, self.where)
        if self._schema and not self._schema_made:
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted(str(self._schema))}")
            self._schema_made = True
        if db.execute("SELECT current_schema()").fetchone() in (None, (None,)):
            connection.close()
            raise StoreError(
                f"cannot open the store at {self.where}: its schema does not exist "
                "(create it, or name it with ?schema=NAME to have it made)"
            )
        return db

    def usable(self, db: Database) -> bool:
        return not _raw(db).closed and not _raw(db).broken

    def begin(self, db: Database, timeout_s: float) -> None:
        # lock_timeout 0 would wait forever: a caller out of time waits a millisecond.
        wait_ms = max(int(timeout_s * 1000), 1)
        try:
            _raw(db).execute(
                f"BEGIN; SET LOCAL lock_timeout = {wait_ms}; "
                f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, hashtext(current_schema()))"
            )
        except psycopg.errors.LockNotAvailable:
            self.rollback(db)
            raise StoreError(f"the store at {self.where} is locked or unwritable: busy") from None
        except psycopg.Error as error:
            self.rollback(db)
            raise StoreError(
                f"the store at {self.where} is locked or unwritable: {_first_line(error)}"
            ) from None

    def close(self, db: Database) -> None:
        db.conn.close()

    def commit(self, db: Database) -> None:
        try:
            _raw(db).execute("COMMIT")
        except psycopg.Error as error:
            self.rollback(db)
            raise StoreError(f"could not write to the store: {_first_line(error)}") from None

    def rollback(self, db: Database) -> None:
        if _raw(db).closed or _raw(db).broken:
            return
        try:
            _raw(db).execute("ROLLBACK")
        except psycopg.Error as error:
            raise store_error(self.where, error) from None

    @contextmanager
    def relaxed_durability(self, db: Database) -> Iterator[None]:
        # PostgreSQL's commit waits for its WAL flush: kept, as a replica elsewhere must
        # see the key once this process has answered.
        yield

    def realign_generated_key(self, db: Database, table: Table) -> None:
        assert isinstance(db, PgDatabase)
        PgTable(db, table.name).realign_generated_key()


def _raw(db: Database) -> psycopg.Connection[Any]:
    assert isinstance(db, PgDatabase)
    return db.conn.raw


def _first_line(error: psycopg.Error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
