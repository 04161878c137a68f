"""Checks due at a fixed time after a phase starts (the first-30-minute validation),
kept in the store so that a restart neither skips nor repeats one.

A check is claimed (pending -> running) by one atomic UPDATE before it runs, under a
lease on the wall clock, and marked done after its result is posted; one whose lease
lapsed (its process died or hangs) goes back to pending and runs again, since its result
may never have been posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, isoformat_ms, parse_iso
from bot.store.process_identity import this_process
from bot.store.store import Store


@dataclass(frozen=True)
class ScheduledCheck:
    id: int
    env: str
    phase_id: int
    label: str
    due_at: datetime
    thread_ts: str | None
    status: str
    result: str = ""


class CheckSchedule:
    def __init__(self, store: Store) -> None:
        self._store = store

    def schedule(
        self, env: str, phase_id: int, thread_ts: str | None, due: list[tuple[str, datetime]]
    ) -> None:
        with self._store.transaction() as db:
            db.table("scheduled_checks").insert_all(
                {
                    "env": env,
                    "phase_id": phase_id,
                    "label": label,
                    "due_at": isoformat(at),
                    "thread_ts": thread_ts,
                    "status": "pending",
                    "result": "",
                }
                for label, at in due
            )

    def due(self, now: datetime) -> list[ScheduledCheck]:
        rows = self._store.select(
            "scheduled_checks",
            "status = 'pending' AND due_at <= ?",
            [isoformat(now)],
            order_by="due_at, id",
        )
        return [_check(row) for row in rows]

    def claim(self, check_id: int, lease_until: datetime) -> bool:
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE scheduled_checks SET status = 'running', runner = ?, "
                "lease_expires_at = ? WHERE id = ? AND status = 'pending'",
                [this_process(), isoformat_ms(lease_until), check_id],
            )
            return cursor.rowcount == 1

    def finish(self, check_id: int, status: str, result: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE scheduled_checks SET status = ?, result = ? WHERE id = ?",
                [status, result, check_id],
            )

    def release_lapsed(self, now: datetime) -> int:
        """Checks whose runner's lease lapsed at `now` go back to pending, to run once
        more; a check whose runner still holds its lease is left to it."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE scheduled_checks SET status = 'pending', runner = NULL, "
                "lease_expires_at = NULL WHERE status = 'running' "
                "AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
                [isoformat_ms(now)],
            )
            return cursor.rowcount

    def of_phase(self, phase_id: int) -> list[ScheduledCheck]:
        rows = self._store.select(
            "scheduled_checks", "phase_id = ?", [phase_id], order_by="due_at, id"
        )
        return [_check(row) for row in rows]


def _check(row: dict[str, Any]) -> ScheduledCheck:
    return ScheduledCheck(
        id=row["id"],
        env=row["env"],
        phase_id=row["phase_id"],
        label=row["label"],
        due_at=parse_iso(row["due_at"]),
        thread_ts=row["thread_ts"],
        status=row["status"],
        result=row["result"] or "",
    )
