"""Silences: a KPI's alerts (or all of them) kept quiet until a time, with who and why.

A silence mutes alert posts and reminders, never the rollback triggers: a trigger that
fires still proposes a rollback.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.store.store import Store

ALL = "all"


@dataclass(frozen=True)
class Silence:
    id: int
    kpi: str
    until: datetime
    by: str
    reason: str


class Silences:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, kpi: str, until: datetime, by: str, reason: str, now: datetime) -> Silence:
        with self._store.transaction() as db:
            table = db.table("silences")
            table.insert(
                {
                    "kpi": kpi,
                    "until": isoformat(until),
                    "by": by,
                    "reason": reason,
                    "created_at": isoformat(now),
                    "lifted_at": None,
                }
            )
            assert table.last_pk is not None
            return Silence(int(table.last_pk), kpi, until, by, reason)

    def lift(self, kpi: str, now: datetime) -> int:
        """End the active silences of `kpi` (`all`: every silence); how many ended."""
        where = "lifted_at IS NULL AND until > ?" + ("" if kpi == ALL else " AND kpi = ?")
        values = [isoformat(now)] + ([] if kpi == ALL else [kpi])
        with self._store.transaction() as db:
            cursor = db.execute(
                f"UPDATE silences SET lifted_at = ? WHERE {where}",  # noqa: S608 - fixed SQL
                [isoformat(now), *values],
            )
            return cursor.rowcount

    def active(self, now: datetime) -> list[Silence]:
        rows = self._store.select(
            "silences", "lifted_at IS NULL AND until > ?", [isoformat(now)], order_by="until"
        )
        return [_silence(row) for row in rows]

    def silenced(self, kpi: str, now: datetime) -> Silence | None:
        return next((s for s in self.active(now) if s.kpi in (kpi, ALL)), None)


def _silence(row: dict[str, Any]) -> Silence:
    return Silence(row["id"], row["kpi"], parse_iso(row["until"]), row["by"], row["reason"])
