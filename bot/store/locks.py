"""Env locks: an environment held against phase transitions by a person, with why, since
when and (optionally) until when.

One lock per env at a time: acquiring checks and writes in one transaction. A lock whose
expiry has passed holds nothing any more, even before the scheduler releases it and
says so in the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.clock import isoformat, parse_iso
from bot.store.store import Store

_ACTIVE = "env = ? AND released_at IS NULL AND (expires_at IS NULL OR expires_at > ?)"


@dataclass(frozen=True)
class EnvLock:
    id: int
    env: str
    holder: str
    reason: str
    acquired_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True)
class Acquired:
    lock: EnvLock
    # True where the holder's own lock was given a new reason or expiry.
    updated: bool = False


class AlreadyLocked(Exception):
    """Another person holds the env's lock."""

    def __init__(self, lock: EnvLock) -> None:
        super().__init__(f"{lock.env} is locked by {lock.holder}")
        self.lock = lock


class EnvLocks:
    def __init__(self, store: Store) -> None:
        self._store = store

    def acquire(
        self,
        env: str,
        holder: str,
        reason: str,
        expires_at: datetime | None,
        now: datetime,
        *,
        may_update: bool = True,
    ) -> Acquired:
        """Lock `env` for `holder`; the holder locking again updates reason and expiry
        (where `may_update`). Raises AlreadyLocked naming the lock held already."""
        with self._store.transaction() as db:
            cursor = db.execute(
                f"SELECT * FROM env_locks WHERE {_ACTIVE} ORDER BY id LIMIT 1",  # noqa: S608
                [env, isoformat(now)],
            )
            row = cursor.fetchone()
            if row is not None:
                names = [column[0] for column in cursor.description]
                current = _lock(dict(zip(names, row, strict=True)))
                if current.holder != holder or not may_update:
                    raise AlreadyLocked(current)
                db.execute(
                    "UPDATE env_locks SET reason = ?, expires_at = ? WHERE id = ?",
                    [reason, isoformat(expires_at) if expires_at else None, current.id],
                )
                return Acquired(
                    EnvLock(current.id, env, holder, reason, current.acquired_at, expires_at),
                    updated=True,
                )
            table = db.table("env_locks")
            table.insert(
                {
                    "env": env,
                    "holder": holder,
                    "reason": reason,
                    "acquired_at": isoformat(now),
                    "expires_at": isoformat(expires_at) if expires_at else None,
                    "released_at": None,
                    "released_by": None,
                }
            )
            assert table.last_pk is not None
            return Acquired(EnvLock(int(table.last_pk), env, holder, reason, now, expires_at))

    def held(self, env: str, now: datetime) -> EnvLock | None:
        """The lock holding `env` at `now`, if any."""
        rows = self._store.select(
            "env_locks", _ACTIVE, [env, isoformat(now)], order_by="id", limit=1
        )
        return _lock(rows[0]) if rows else None

    def release(self, lock: EnvLock, by: str, now: datetime) -> bool:
        """End `lock`; False where it had ended already (another click, the scheduler)."""
        with self._store.transaction() as db:
            cursor = db.execute(
                "UPDATE env_locks SET released_at = ?, released_by = ? "
                "WHERE id = ? AND released_at IS NULL",
                [isoformat(now), by, lock.id],
            )
            return cursor.rowcount == 1

    def expired(self, now: datetime) -> list[EnvLock]:
        """Locks past their expiry that nobody released yet."""
        rows = self._store.select(
            "env_locks",
            "released_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?",
            [isoformat(now)],
            order_by="id",
        )
        return [_lock(row) for row in rows]

    def active(self, now: datetime) -> list[EnvLock]:
        """Every lock holding an env at `now`, oldest first."""
        rows = self._store.select(
            "env_locks",
            "released_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
            [isoformat(now)],
            order_by="id",
        )
        return [_lock(row) for row in rows]


def _lock(row: dict[str, Any]) -> EnvLock:
    return EnvLock(
        id=int(row["id"]),
        env=row["env"],
        holder=row["holder"],
        reason=row["reason"],
        acquired_at=parse_iso(row["acquired_at"]),
        expires_at=parse_iso(row["expires_at"]) if row["expires_at"] else None,
    )
