"""The embedded store: one SQLite file (WAL), a connection per thread, BEGIN IMMEDIATE
for writes (other processes meet the busy timeout)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from bot.core.errors import StoreError
from bot.store.database import Database
from bot.store.tables import Table


class SqliteBackend:
    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = path
        self.where = str(path)
        self._busy_timeout_s = busy_timeout_s

    def connect(self) -> sqlite_utils.Database:
        try:
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout_s, isolation_level=None
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store at {self.path}: {error}") from None
        return sqlite_utils.Database(connection)

    def usable(self, db: Database) -> bool:
        return True

    def begin(self, db: Database, timeout_s: float) -> None:
        db.execute(f"PRAGMA busy_timeout = {max(int(timeout_s * 1000), 0)}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            raise StoreError(f"the store at {self.path} is locked or unwritable: {error}") from None

    def close(self, db: Database) -> None:
        with contextlib.suppress(sqlite3.ProgrammingError):
            db.conn.close()

    def commit(self, db: Database) -> None:
        try:
            db.execute("COMMIT")
        except sqlite3.Error as error:
            db.execute("ROLLBACK")
            raise StoreError(f"could not write to the store: {error}") from None

    def rollback(self, db: Database) -> None:
        db.execute("ROLLBACK")

    @contextmanager
    def relaxed_durability(self, db: Database) -> Iterator[None]:
        # Without the fsync (WAL, synchronous=NORMAL) a write survives a crash of the bot,
        # only not a power cut.
        db.execute("PRAGMA synchronous=NORMAL")
        try:
            yield
        finally:
            db.execute("PRAGMA synchronous=FULL")

    def realign_generated_key(self, db: Database, table: Table) -> None:
        """Nothing to do: SQLite's rowid goes on after the largest key by itself."""
