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
    raw: str = ""  # its arguments as stored, to tell whether posts were added since


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
                row["arguments"],
            )
            for row in rows
        ]

    def delivered(self, call: QueuedCall, now: datetime, ts: str | None = None) -> None:
        """Delivered as message `ts`; a request's post becomes that request's message (the
        one its approval closes, whose thread gets its outcome), in the same transaction."""
        with self._store.transaction() as db:
            sent = db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE id = ? AND arguments = ?",
                [isoformat(now), call.id, call.raw or json.dumps(call.arguments)],
            )
            if sent.rowcount == 0 and call.method == "post" and ts:
                # Posts were added to it while it went out: they follow as an update of it.
                (stored,) = db.execute(
                    "SELECT arguments FROM outbox WHERE id = ?", [call.id]
                ).fetchone()
                added = json.loads(stored)
                update = {key: added[key] for key in ("channel", "text") if key in added}
                update.update(ts=ts, blocks=added.get("blocks") or [])
                db.execute(
                    "UPDATE outbox SET method = 'update', arguments = ? WHERE id = ?",
                    [json.dumps(update), call.id],
                )
            elif sent.rowcount == 0 and call.method == "post":
                db.execute(
                    "UPDATE outbox SET delivered_at = ? WHERE id = ?", [isoformat(now), call.id]
                )
            # An update rewritten while it went out stays queued: its new text goes next.
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

    def dropped(self, call_id: int, now: datetime, error: str) -> None:
        """Given up: Slack refuses the call for good, even as its text alone."""
        with self._store.transaction() as db:
            db.execute(
                "UPDATE outbox SET delivered_at = ?, last_error = ? WHERE id = ?",
                [isoformat(now), f"dropped: {error}", call_id],
            )

    def dropped_of(self, call_ids: list[int]) -> list[QueuedCall]:
        """Those of `call_ids` given up as Slack refused them for good."""
        return [
            QueuedCall(row["id"], row["method"], json.loads(row["arguments"]),
                       parse_iso(row["queued_at"]), row["attempts"], row["request_id"])
            for row in self._store.select("outbox", "last_error LIKE 'dropped:%'", order_by="id")
            if row["id"] in call_ids
        ]  # fmt: skip

    def queued_post(self, channel: str, thread_ts: str | None, text: str) -> int | None:
        """The latest post still queued with this text in this channel and thread."""
        for call in reversed(self.pending()):
            arguments = call.arguments
            if (
                call.method == "post"
                and arguments.get("channel") == channel
                and arguments.get("thread_ts") == thread_ts
                and arguments.get("text") == text
            ):
                return call.id
        return None

    def rewrite(self, call_id: int, text: str, blocks: list[dict[str, Any]]) -> bool:
        """A queued message's text and blocks replaced (later posts added to it), unless it
        is delivered already; an update it became as it went out is rewritten too."""
        while True:
            rows = self._store.select("outbox", "id = ?", [call_id])
            if not rows or rows[0]["delivered_at"] is not None:
                return False
            stored = rows[0]["arguments"]
            arguments = {**json.loads(stored), "text": text, "blocks": blocks}
            with self._store.transaction() as db:
                cursor = db.execute(
                    "UPDATE outbox SET arguments = ? WHERE id = ? AND arguments = ? "
                    "AND delivered_at IS NULL",
                    [json.dumps(arguments), call_id, stored],
                )
                if cursor.rowcount == 1:
                    return True
