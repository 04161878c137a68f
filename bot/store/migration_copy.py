"""`stagger-bot store migrate`: a store's every table copied into a new, empty store (a
SQLite file to PostgreSQL, or back), with the bot stopped.

The copy is one read snapshot of the source and one transaction on the target: a copy
is whole or absent. The audit trail goes row for row (its ids, hashes, chain and the
keys' markers), as does `meta` (the audit head, the scheduler lease, the last slot):
`audit verify` on the copy checks the same chain. A source whose scheduler lease is
live is refused (a process holds the store, and would go on writing to it), and so is a
target that holds anything but its schema version.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.errors import StoreError
from bot.core.store_location import is_dsn
from bot.store.leadership import AdvisoryLockLeadership
from bot.store.lease import Lease
from bot.store.schema import VERSION_KEY
from bot.store.store import Store
from bot.store.tables import TABLES, Table, quoted

_BATCH = 1000
# Never a holder: only reads who holds the lease.
_NOBODY = "stagger-bot store migrate"


@dataclass(frozen=True)
class Copied:
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copy_store(source: Store, target: Store, now: datetime) -> Copied:
    holder = _scheduler_holder(source, now)
    if holder is not None:
        raise StoreError(
            f"a process holds the store at {source.where} (its scheduler is "
            f"{holder}'s): stop the bot first"
        )
    _refuse_unless_empty(target)
    copied: dict[str, int] = {}
    with _snapshot(source) as reading, target.transaction() as writing:
        present = set(reading.table_names())
        for table in TABLES:
            if table.name in present:
                copied[table.name] = _copy_table(reading, writing, table, target)
    return Copied(copied)


def _refuse_unless_empty(target: Store) -> None:
    db = target.read()
    for table in TABLES:
        where = f" WHERE key != '{VERSION_KEY}'" if table.name == "meta" else ""
        row = db.execute(f"SELECT 1 FROM {quoted(table.name)}{where} LIMIT 1").fetchone()  # noqa: S608
        if row is not None:
            raise StoreError(
                f"the store at {target.where} is not empty (its {table.name} has rows): "
                "migrate copies into a new store only"
            )


def _copy_table(reading: Any, writing: Any, table: Table, target: Store) -> int:
    have = set(reading.table(table.name).columns_dict)
    columns = [column.name for column in table.columns if column.name in have]
    names = ", ".join(map(quoted, columns))
    where = f" WHERE key != '{VERSION_KEY}'" if table.name == "meta" else ""
    cursor = reading.execute(f"SELECT {names} FROM {quoted(table.name)}{where}")  # noqa: S608
    insert = (
        f"INSERT INTO {quoted(table.name)} ({names}) "  # noqa: S608 - declared names
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    count = 0
    while batch := cursor.fetchmany(_BATCH):
        try:
            writing.conn.executemany(insert, [tuple(row) for row in batch])
        except StoreError as error:
            raise StoreError(f"copying {table.name}: {error}") from None
        count += len(batch)
    if table.generated_key:
        target.backend.realign_generated_key(writing, table)
    return count


@contextmanager
def _snapshot(store: Store) -> Iterator[Any]:
    """One read transaction on the source: every table as it was at its first read."""
    db = store.read()
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("COMMIT")


def _scheduler_holder(source: Store, now: datetime) -> str | None:
    """Who runs the source's scheduler: the SQLite lease's holder, or on PostgreSQL the
    holder of the advisory lock (a leader there never writes the lease)."""
    if not is_dsn(source.location):
        return Lease(source, _NOBODY).current_holder(now)
    leadership = AdvisoryLockLeadership(str(source.location), _NOBODY)
    try:
        return leadership.current_holder(now)
    finally:
        leadership.close()
