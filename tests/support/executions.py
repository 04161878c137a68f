"""Requests claimed for execution as the tests need them: by this process, or by a process
that went away (in this container or another) and left its lease to lapse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.approvals import Status
from bot.core.clock import isoformat_ms
from bot.store.executions import Executions
from bot.store.store import Store

# A process elsewhere: PID 1 of another PID namespace, as a restarted container's bot.
GONE_OWNER = "other-container:1:0badf00d"


def claim_here(store: Store, request_id: str, lease_s: float = 60.0) -> None:
    lease = datetime.now(UTC) + timedelta(seconds=lease_s)
    assert Executions(store).claim(request_id, (Status.PENDING,), lease_until=lease).claimed


def claim_elsewhere(store: Store, request_id: str, lease_left_s: float) -> None:
    """As another process claimed it, whose lease ends `lease_left_s` from now (negative:
    it lapsed that long ago)."""
    until = datetime.now(UTC) + timedelta(seconds=lease_left_s)
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE approvals SET status = 'executing', executor = ?, lease_expires_at = ? "
            "WHERE id = ? AND status = 'pending'",
            [GONE_OWNER, isoformat_ms(until), request_id],
        )
        assert cursor.rowcount == 1


def finish_elsewhere(store: Store, request_id: str) -> None:
    """As the other process that claimed it (`claim_elsewhere`) ended it: it succeeded."""
    with store.transaction() as db:
        cursor = db.execute(
            "UPDATE approvals SET status = 'succeeded', outcome = 'done' "
            "WHERE id = ? AND status = 'executing' AND executor = ?",
            [request_id, GONE_OWNER],
        )
        assert cursor.rowcount == 1
