"""The scheduler lease: of all the processes serving one store, only the holder runs the
scheduled jobs, so a second process (both Procfile entries started, a deploy overlapping
the old one) never posts a checkpoint or an alert twice. The holder renews the lease on
each job; if it dies, another process takes over once the lease runs out."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from bot.core.clock import isoformat, parse_iso
from bot.store.store import Store

_KEY = "scheduler.lease"


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    def __init__(self, store: Store, holder: str, ttl: timedelta = timedelta(seconds=90)) -> None:
        self._store = store
        self.holder = holder
        self._ttl = ttl

    def hold(self, now: datetime) -> bool:
        """Take or renew the lease; False while another live process holds it."""
        with self._store.transaction() as db:
            rows = list(db.execute("SELECT value FROM meta WHERE key = ?", [_KEY]))
            if rows:
                holder, _, expires = rows[0][0].rpartition("|")
                if holder != self.holder and parse_iso(expires) > now:
                    return False
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [_KEY, f"{self.holder}|{isoformat(now + self._ttl)}"],
            )
            return True

    def current_holder(self, now: datetime) -> str | None:
        rows = list(self._store.select("meta", "key = ?", [_KEY]))
        if not rows:
            return None
        holder, _, expires = rows[0]["value"].rpartition("|")
        return holder if parse_iso(expires) > now else None
