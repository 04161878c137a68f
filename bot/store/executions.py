"""Who is executing what: a request runs only under a lease in the store, one per env.

Claiming a request for execution is one transaction: it fails while another request of
the same env is executing, so two flag changes never run on one env at once. The claim
names this process and holds a lease until a time on the wall clock; the executing
process renews it while it works, up to the execution's own time limit. A lease that
lapsed — the process died, in this container or another, or is stuck — frees the env:
the request is then reported interrupted, never re-run. Finishing is owner-checked and
writes the env's state in the same transaction as the request's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.approvals import ApprovalRequest, Status
from bot.core.clock import isoformat, isoformat_ms, parse_iso
from bot.store.process_identity import this_process
from bot.store.store import EnvState, Store, env_state_from_row, env_state_row, request_from_row


@dataclass(frozen=True)
class ExecutionLease:
    owner: str
    # None: claimed by a stagger-bot from before leases; taken as lapsed.
    expires_at: datetime | None

    def lapsed(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at <= now


@dataclass(frozen=True)
class Execution:
    request: ApprovalRequest
    lease: ExecutionLease


@dataclass(frozen=True)
class Claim:
    """`claimed`, or why not: `busy` is the execution that holds the env; with neither the
    request had left the statuses it was claimed from."""

    claimed: bool
    busy: Execution | None = None


StateUpdate = Callable[[EnvState], EnvState | None]


class Executions:
    def __init__(self, store: Store) -> None:
        self._store = store

    def claim(
        self,
        request_id: str,
        from_statuses: tuple[Status, ...],
        *,
        lease_until: datetime,
        decided_by: str | None = None,
        decided_at: datetime | None = None,
    ) -> Claim:
        with self._store.transaction() as db:
            row = db.execute("SELECT env FROM approvals WHERE id = ?", [request_id]).fetchone()
            if row is None:
                return Claim(False)
            busy = db.execute(
                "SELECT * FROM approvals WHERE env = ? AND status = 'executing' AND id != ? "
                "ORDER BY decided_at LIMIT 1",
                [row[0], request_id],
            )
            names = [column[0] for column in busy.description]
            other = busy.fetchone()
            if other is not None:
                return Claim(False, _execution(dict(zip(names, other, strict=True))))
            placeholders = ", ".join("?" for _ in from_statuses)
            cursor = db.execute(
                "UPDATE approvals SET status = 'executing', executor = ?, lease_expires_at = ?, "  # noqa: S608 - placeholders only
                "decided_by = COALESCE(?, decided_by), decided_at = COALESCE(?, decided_at) "
                f"WHERE id = ? AND status IN ({placeholders})",
                [
                    this_process(),
                    isoformat_ms(lease_until),
                    decided_by,
                    isoformat(decided_at) if decided_at else None,
                    request_id,
                    *(status.value for status in from_statuses),
                ],
            )
            return Claim(cursor.rowcount == 1)

    def renew(self, request_id: str, lease_until: datetime) -> bool:
        """Extend this process's lease; False once it is no longer this process's."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET lease_expires_at = ? "
                "WHERE id = ? AND status = 'executing' AND executor = ?",
                [isoformat_ms(lease_until), request_id, this_process()],
            )
            return cursor.rowcount == 1

    def running(self, env: str | None = None) -> list[Execution]:
        where = "status = 'executing'" + (" AND env = ?" if env else "")
        rows = self._store.select("approvals", where, [env] if env else [], order_by="decided_at")
        return [_execution(row) for row in rows]

    def lease_of(self, request_id: str) -> ExecutionLease | None:
        rows = self._store.select("approvals", "id = ? AND status = 'executing'", [request_id])
        return _execution(rows[0]).lease if rows else None

    def interrupt_if_lapsed(self, request_id: str, now: datetime, outcome: str) -> bool:
        """EXECUTING -> INTERRUPTED, only if its lease has lapsed at `now`."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE approvals SET status = 'interrupted', outcome = ? "
                "WHERE id = ? AND status = 'executing' "
                "AND (lease_expires_at IS NULL OR lease_expires_at <= ?)",
                [outcome, request_id, isoformat_ms(now)],
            )
            return cursor.rowcount == 1

    def finish(
        self,
        request_id: str,
        status: Status,
        outcome: str,
        update_state: StateUpdate | None = None,
    ) -> bool:
        """End this process's execution with `status`, and (in the same transaction) apply
        `update_state` to its env's state; False if the request is no longer this
        process's (its lease lapsed and it was reported interrupted): nothing is written."""
        with self._store.transaction() as db:
            row = db.execute(
                "SELECT env FROM approvals WHERE id = ? AND status = 'executing' AND executor = ?",
                [request_id, this_process()],
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "UPDATE approvals SET status = ?, outcome = ? WHERE id = ?",
                [status.value, outcome, request_id],
            )
            if update_state is not None:
                env = str(row[0])
                cursor = db.execute("SELECT * FROM env_state WHERE env = ?", [env])
                names = [column[0] for column in cursor.description]
                found = cursor.fetchone()
                state = (
                    env_state_from_row(dict(zip(names, found, strict=True)))
                    if found
                    else EnvState(env=env, phase="not started", stagger_enabled=None, since=None)
                )
                updated = update_state(state)
                if updated is not None:
                    row_values = env_state_row(updated)
                    db.execute(
                        "INSERT INTO env_state "
                        "(env, phase, stagger_enabled, since, disabled_jobs, note) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (env) DO UPDATE SET "
                        "phase = excluded.phase, stagger_enabled = excluded.stagger_enabled, "
                        "since = excluded.since, disabled_jobs = excluded.disabled_jobs, "
                        "note = excluded.note",
                        [row_values[name] for name in _ENV_STATE_COLUMNS],
                    )
            return True


_ENV_STATE_COLUMNS = ("env", "phase", "stagger_enabled", "since", "disabled_jobs", "note")


def _execution(row: dict[str, object]) -> Execution:
    expires = row.get("lease_expires_at")
    return Execution(
        request_from_row(row),
        ExecutionLease(
            str(row.get("executor") or ""), parse_iso(str(expires)) if expires else None
        ),
    )
