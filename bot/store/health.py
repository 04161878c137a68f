"""Whether the store answers, for /healthz: a fresh connection and one read, so a store
that went away (the database down, the file gone) shows at once, not at the next write."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg

from bot.core.errors import StoreError
from bot.store.leadership import connect, describe_error

PROBE_TIMEOUT_S = 3


def store_problem(path: Path, dsn: str | None) -> str | None:
    """None when the store answers; else why not, without secrets."""
    if dsn:
        try:
            with connect(dsn, PROBE_TIMEOUT_S, "stagger-bot health") as connection:
                connection.execute("SELECT 1")
        except psycopg.Error as error:
            return describe_error(error, dsn)
        except StoreError as error:
            return str(error)
        return None
    try:
        # mode=rw: a missing file is a store gone, not a new empty one to create.
        uri = f"file:{path.resolve()}?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=PROBE_TIMEOUT_S)) as connection:
            connection.execute("SELECT count(*) FROM meta").fetchone()
    except sqlite3.Error as error:
        return f"{path.name}: {error}"
    return None
