"""Posts Slack would not take (after the client's own retries) wait here, in the store,
and are delivered later by a scheduled job: delayed, never lost."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.store.store import Store


@dataclass(frozen=True)
class QueuedCall:
    id: int
    method: str  # "post" or "update"
    arguments: dict[str, Any]
    queued_at: datetime
    attempts: int
    request_id: str | None = None  # the approval request this post is


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store

    def enqueue(
        self,
        method: str,
        arguments: dict[str, Any],
        now: datetime,
        error: str,
        request_id: str | None = None,
    ) -> None:
        with self._store.transaction() as db:
            db.table("outbox").insert(
                {
                    "method": method,
                    "arguments": json.dumps(arguments),
                    "queued_at": isoformat(now),
                    "attempts": 1,
                    "last_error": error,
                    "delivered_at": None,
                    "request_id": request_id,
                }
            )

    def pending(self) -> list[QueuedCall]:
        rows = self._store.select("outbox", "delivered_at IS NULL", order_by="id")
        return [
            QueuedCall(
                row["id"],
                row["method"],
                json.loads(row["arguments"]),
                parse_iso(row["queued_at"]),
                row["attempts"],
                row["request_id"],
            )
            for row in rows
        ]

    def delivered(self, call: QueuedCall, now: datetime, ts: str | None = None) -> None:
        """Delivered as message `ts`; a request's post becomes that request's message (the
        one its approval closes, whose thread gets its outcome), in the same transaction."""
        with self._store.transaction() as db:
            db.execute("UPDATE outbox SET delivered_at = ? WHERE id = ?", [isoformat(now), call.id])
            if call.request_id and ts:
                db.execute(
                    "UPDATE approvals SET channel = ?, message_ts = ? WHERE id = ?",
                    [call.arguments["channel"], ts, call.request_id],
                )

    def failed_again(self, call_id: int, error: str) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                [error, call_id],
            )
