"""The rollout's timeline: which phase runs now, and every phase before it.

One row per phase entered, closed when the next one starts; the open row is the rollout's
current position. Besides the spec's phases, a row may be `rolled back` (the rollout was
aborted) or `succeeded` (the success declaration). Closing one row and opening the next
happen in one transaction, so the timeline never has two current phases or none.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.core.errors import UserError
from bot.core.phase_record import Entry, PhaseRecord
from bot.store.store import Store


class Timeline:
    def __init__(self, store: Store) -> None:
        self._store = store

    def current(self) -> PhaseRecord | None:
        rows = list(
            self._store.select("phase_history", "ended_at IS NULL", order_by="id desc", limit=1)
        )
        return _record(rows[0]) if rows else None

    def enter(self, entry: Entry, expected_current: int | None) -> PhaseRecord:
        """Close the current phase and open `entry`'s, if the current one is still
        `expected_current` (None: nothing started yet); otherwise someone moved first."""
        with self._store.transaction() as db:
            rows = list(db.execute("SELECT id FROM phase_history WHERE ended_at IS NULL"))
            current_id = rows[0][0] if rows else None
            if current_id != expected_current:
                raise UserError("The rollout moved on while this was running; nothing changed.")
            if current_id is not None:
                db.execute(
                    "UPDATE phase_history SET ended_at = ?, ended_how = ? WHERE id = ?",
                    [isoformat(entry.at), entry.previous_ends, current_id],
                )
            table = db.table("phase_history")
            table.insert(
                {
                    "phase": entry.phase,
                    "env": entry.env,
                    "started_at": isoformat(entry.at),
                    "ended_at": None,
                    "ended_how": "",
                    "request_id": entry.request_id,
                    "approved_by": json.dumps(list(entry.approved_by)),
                    "forced": int(entry.forced),
                    "note": entry.note,
                }
            )
            new_id = table.last_pk
        assert new_id is not None
        return PhaseRecord(
            int(new_id),
            entry.phase,
            entry.env,
            entry.at,
            request_id=entry.request_id,
            approved_by=entry.approved_by,
            forced=entry.forced,
            note=entry.note,
        )

    def restart(self, phase_id: int, at: datetime, note: str) -> bool:
        """The open phase `phase_id` counts from `at` (its canary ran it before the rest of
        the fleet did): its KPI windows and minimum duration start when every host runs it."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE phase_history SET started_at = ?, note = CASE WHEN note = '' THEN ? "
                "ELSE note || '; ' || ? END WHERE id = ? AND ended_at IS NULL",
                [isoformat(at), note, note, phase_id],
            )
            return cursor.rowcount == 1

    def history(self, env: str | None = None) -> list[PhaseRecord]:
        where, values = ("env = ?", [env]) if env else (None, [])
        rows = self._store.select("phase_history", where, values, order_by="id")
        return [_record(row) for row in rows]

    def last_of(self, env: str) -> PhaseRecord | None:
        """The latest spec phase that ran on `env` (terminal rows skipped)."""
        for record in reversed(self.history(env)):
            if not record.is_terminal:
                return record
        return None


def _record(row: dict[str, Any]) -> PhaseRecord:
    return PhaseRecord(
        id=row["id"],
        phase=row["phase"],
        env=row["env"],
        started_at=parse_iso(row["started_at"]),
        ended_at=parse_iso(row["ended_at"]) if row["ended_at"] else None,
        ended_how=row["ended_how"] or "",
        request_id=row["request_id"],
        approved_by=tuple(json.loads(row["approved_by"] or "[]")),
        forced=bool(row["forced"]),
        note=row["note"] or "",
    )
