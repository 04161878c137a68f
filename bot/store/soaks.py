"""Transitions parked after their canary tier: the soak's due time kept in the store (not
a sleep), so it follows the rollout's clock and survives a restart.

Parking is owner-checked and atomic: the executing request becomes SOAKING (no executor,
no lease: the env is free for a rollback, still reserved against other transitions), its
soak row is written and the env's state says what the fleet runs, in one transaction.
Continuing claims the request back (SOAKING -> EXECUTING) through `Executions.claim`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.store.executions import StateUpdate
from bot.store.process_identity import this_process
from bot.store.store import EnvState, Store, env_state_from_row, env_state_row


@dataclass(frozen=True)
class Soak:
    request_id: str
    env: str
    phase_id: int
    due_at: datetime
    status: str
    result: str = ""


class Soaks:
    def __init__(self, store: Store) -> None:
        self._store = store

    def park(
        self,
        request_id: str,
        env: str,
        phase_id: int,
        due_at: datetime,
        update_state: StateUpdate,
    ) -> bool:
        """EXECUTING (this process's) -> SOAKING until `due_at`; False if the request is no
        longer this process's (its lease lapsed): nothing is written."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET status = 'soaking', executor = NULL, "
                "lease_expires_at = NULL WHERE id = ? AND status = 'executing' AND executor = ?",
                [request_id, this_process()],
            )
            if cursor.rowcount != 1:
                return False
            db.execute(
                "INSERT INTO soaks (request_id, env, phase_id, due_at, status, result) "
                "VALUES (?, ?, ?, ?, 'pending', '') ON CONFLICT (request_id) DO UPDATE SET "
                "due_at = excluded.due_at, status = 'pending', result = ''",
                [request_id, env, phase_id, isoformat(due_at)],
            )
            found = db.execute("SELECT * FROM env_state WHERE env = ?", [env])
            names = [column[0] for column in found.description]
            row = found.fetchone()
            state = (
                env_state_from_row(dict(zip(names, row, strict=True)))
                if row
                else EnvState(env=env, phase="not started", stagger_enabled=None, since=None)
            )
            updated = update_state(state)
            if updated is not None:
                db.table("env_state").upsert(env_state_row(updated), pk="env")
            return True

    def due(self, now: datetime) -> list[Soak]:
        rows = self._store.select(
            "soaks", "status = 'pending' AND due_at <= ?", [isoformat(now)], order_by="due_at"
        )
        return [_soak(row) for row in rows]

    def pending(self, env: str) -> Soak | None:
        rows = self._store.select("soaks", "status = 'pending' AND env = ?", [env])
        return _soak(rows[0]) if rows else None

    def of(self, request_id: str) -> Soak | None:
        rows = self._store.select("soaks", "request_id = ?", [request_id])
        return _soak(rows[0]) if rows else None

    def close(self, request_id: str, status: str, result: str) -> bool:
        """pending -> `status` (`continued`, `stopped`, `cancelled`); False if it was no
        longer pending (another process took it)."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE soaks SET status = ?, result = ? WHERE request_id = ? "
                "AND status = 'pending'",
                [status, result, request_id],
            )
            return cursor.rowcount == 1


def _soak(row: dict[str, Any]) -> Soak:
    return Soak(
        request_id=row["request_id"],
        env=row["env"],
        phase_id=row["phase_id"],
        due_at=parse_iso(row["due_at"]),
        status=row["status"],
        result=row["result"] or "",
    )
