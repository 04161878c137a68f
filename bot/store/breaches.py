"""Breaches: a condition (a fired trigger, a KPI in alert) that is open from the first
evaluation that sees it until the first that does not. Kept in the store, so a breach is
announced once, even across a restart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.store.store import Store

UNPOSTED = "unposted"  # the message_ts of an alert Slack did not take (it is queued)


@dataclass(frozen=True)
class Breach:
    id: int
    env: str
    key: str
    opened_at: datetime
    closed_at: datetime | None
    detail: str
    message_ts: str | None
    reminded_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    message_text: str | None = None

    @property
    def alert_id(self) -> str:
        """What `/stagger ack` and the alert's buttons call it."""
        return f"A{self.id}"

    def last_said(self) -> datetime:
        return self.reminded_at or self.opened_at


class Breaches:
    def __init__(self, store: Store) -> None:
        self._store = store

    def open(self, env: str, key: str, now: datetime, detail: str) -> Breach | None:
        """Open a breach; None if one for (env, key) is already open."""
        with self._store.transaction() as db:
            existing = list(
                db.execute(
                    "SELECT id FROM breaches WHERE env = ? AND key = ? AND closed_at IS NULL",
                    [env, key],
                )
            )
            if existing:
                return None
            table = db.table("breaches")
            table.insert(
                {
                    "env": env,
                    "key": key,
                    "opened_at": isoformat(now),
                    "closed_at": None,
                    "detail": detail,
                    "message_ts": None,
                    "reminded_at": None,
                }
            )
            assert table.last_pk is not None
            return Breach(int(table.last_pk), env, key, now, None, detail, None)

    def close(self, env: str, key: str, now: datetime) -> Breach | None:
        """Close the open breach for (env, key); the closed breach, or None if none was open."""
        with self._store.transaction() as db:
            rows = list(
                db.query(
                    "SELECT * FROM breaches WHERE env = ? AND key = ? AND closed_at IS NULL",
                    [env, key],
                )
            )
            if not rows:
                return None
            db.execute(
                "UPDATE breaches SET closed_at = ? WHERE id = ?", [isoformat(now), rows[0]["id"]]
            )
        return _breach({**rows[0], "closed_at": isoformat(now)})

    def set_message(self, breach_id: int, ts: str, text: str | None = None) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE breaches SET message_ts = ?, message_text = coalesce(?, message_text) "
                "WHERE id = ?",
                [ts, text, breach_id],
            )

    def get(self, breach_id: int) -> Breach | None:
        rows = list(self._store.select("breaches", "id = ?", [breach_id]))
        return _breach(rows[0]) if rows else None

    def acknowledge(self, breach: Breach, user: str, now: datetime) -> Breach | None:
        """Record `user`'s acknowledgement of `breach` and of every breach its post
        announced (an unavailable-KPIs post names several); the breach acknowledged, or
        None if someone acknowledged it first."""
        shared = breach.message_ts if breach.message_ts not in (None, UNPOSTED) else ""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE breaches SET acknowledged_by = ?, acknowledged_at = ? "
                "WHERE acknowledged_by IS NULL AND (id = ? OR (message_ts = ? AND env = ?))",
                [user, isoformat(now), breach.id, shared, breach.env],
            )
            if cursor.rowcount == 0:
                return None
        return self.get(breach.id)

    def reminded(self, breach_id: int, now: datetime) -> None:
        with self._store.transaction() as db:
            db.execute(
                "UPDATE breaches SET reminded_at = ? WHERE id = ?", [isoformat(now), breach_id]
            )

    def open_breach(self, env: str, key: str) -> Breach | None:
        rows = list(
            self._store.select("breaches", "env = ? AND key = ? AND closed_at IS NULL", [env, key])
        )
        return _breach(rows[0]) if rows else None

    def open_breaches(self, env: str | None = None) -> list[Breach]:
        where = "closed_at IS NULL" + (" AND env = ?" if env else "")
        rows = self._store.select("breaches", where, [env] if env else [], order_by="id")
        return [_breach(row) for row in rows]

    def opened_since(self, env: str, since: datetime, prefix: str) -> list[Breach]:
        rows = self._store.select(
            "breaches",
            "env = ? AND opened_at >= ? AND key LIKE ?",
            [env, isoformat(since), prefix + "%"],
            order_by="id",
        )
        return [_breach(row) for row in rows]


def _breach(row: dict[str, Any]) -> Breach:
    return Breach(
        id=row["id"],
        env=row["env"],
        key=row["key"],
        opened_at=parse_iso(row["opened_at"]),
        closed_at=parse_iso(row["closed_at"]) if row["closed_at"] else None,
        detail=row["detail"] or "",
        message_ts=row["message_ts"],
        reminded_at=parse_iso(row["reminded_at"]) if row["reminded_at"] else None,
        acknowledged_by=row.get("acknowledged_by"),
        acknowledged_at=parse_iso(row["acknowledged_at"]) if row.get("acknowledged_at") else None,
        message_text=row.get("message_text"),
    )
