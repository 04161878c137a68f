"""What the Store needs of an engine: a connection per thread, a write transaction that
serializes every writer (the process's threads and other processes), and the few
engine-specific settings. SQLite (`backend_sqlite`) and PostgreSQL (`backend_postgres`)
give it; `open_backend` picks one from STAGGER_DB's value."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from bot.core.store_location import is_dsn
from bot.store.database import Database
from bot.store.tables import Table


class Backend(Protocol):
    # The store as messages name it (a path, or the DSN without its password).
    where: str

    def connect(self) -> Database:
        """A new connection for the calling thread: a sqlite-utils Database, or one that
        offers the same calls."""

    def usable(self, db: Database) -> bool:
        """False once the connection is lost: the thread opens a new one."""

    def begin(self, db: Database, timeout_s: float) -> None:
        """Start a write transaction holding the store's writer lock, waiting at most
        `timeout_s`; a StoreError if it is not had."""

    def close(self, db: Database) -> None:
        """Close a connection, from any thread (one SQLite cannot close is left to go
        with its thread)."""

    def commit(self, db: Database) -> None: ...

    def rollback(self, db: Database) -> None: ...

    def relaxed_durability(self, db: Database) -> AbstractContextManager[None]:
        """Writes that may be lost in a power cut (never in a crash of the bot)."""

    def realign_generated_key(self, db: Database, table: Table) -> None:
        """After rows were copied with their generated keys given."""


def open_backend(location: Path | str, busy_timeout_s: float) -> Backend:
    if is_dsn(location):
        from bot.store.backend_postgres import PostgresBackend

        return PostgresBackend(str(location), busy_timeout_s)
    from bot.store.backend_sqlite import SqliteBackend

    return SqliteBackend(Path(location), busy_timeout_s)
