"""KPI checkpoints: when they fall due (the spec's cron), and what each one found.

The last slot handled is kept in the store and claimed with a compare-and-set, so a
checkpoint is posted at most once even across a restart or a second process; slots
missed while the bot was down are known, to be reported rather than replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot.core.clock import isoformat, parse_iso
from bot.core.thresholds import Verdict
from bot.store.store import Store

_LAST_SLOT = "checkpoint.last_slot"


def slots_between(cron: str, timezone: str, after: datetime, until: datetime) -> list[datetime]:
    """The cron's fire times in (after, until]."""
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    slots: list[datetime] = []
    moment = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    while moment is not None and moment <= until:
        slots.append(moment.astimezone(UTC))
        moment = trigger.get_next_fire_time(moment, moment + timedelta(seconds=1))
    return slots


def interval_after(cron: str, timezone: str, slot: datetime) -> timedelta:
    """How long until the slot after `slot`: the span one checkpoint covers."""
    following = slots_between(cron, timezone, slot, slot + timedelta(days=31))
    return following[0] - slot if following else timedelta(hours=6)


@dataclass(frozen=True)
class Checkpoint:
    id: int
    env: str
    phase_id: int
    slot: datetime
    values: dict[str, float]
    verdicts: dict[str, str]
    all_met: bool
    message_ts: str | None
    # The window measured; None for checkpoints stored before it was kept.
    window: tuple[datetime, datetime] | None = None


class Checkpoints:
    def __init__(self, store: Store) -> None:
        self._store = store

    def last_slot(self) -> datetime | None:
        rows = list(self._store.select("meta", "key = ?", [_LAST_SLOT]))
        return parse_iso(rows[0]["value"]) if rows else None

    def claim_slot(self, previous: datetime | None, slot: datetime) -> bool:
        """Move the last handled slot from `previous` to `slot`; False if another run did."""
        with self._store.transaction() as db:
            rows = list(db.execute("SELECT value FROM meta WHERE key = ?", [_LAST_SLOT]))
            stored = rows[0][0] if rows else None
            if stored != (isoformat(previous) if previous else None):
                return False
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [_LAST_SLOT, isoformat(slot)],
            )
            return True

    def add(
        self,
        env: str,
        phase_id: int,
        slot: datetime,
        values: dict[str, float],
        verdicts: dict[str, str],
        message_ts: str | None,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        # Too few events to compare holds no checkpoint back (see thresholds.judged_well).
        passing = (Verdict.MET.value, Verdict.TOO_FEW.value)
        with self._store.transaction() as db:
            db.table("checkpoints").insert(
                {
                    "env": env,
                    "phase_id": phase_id,
                    "slot": isoformat(slot),
                    "kpi_values": json.dumps(values, sort_keys=True),
                    "verdicts": json.dumps(verdicts, sort_keys=True),
                    "all_met": int(all(v in passing for v in verdicts.values())),
                    "message_ts": message_ts,
                    "window_start": isoformat(window[0]) if window else None,
                    "window_end": isoformat(window[1]) if window else None,
                }
            )

    def of_phase(self, phase_id: int) -> list[Checkpoint]:
        rows = self._store.select("checkpoints", "phase_id = ?", [phase_id], order_by="slot, id")
        return [_checkpoint(row) for row in rows]

    def latest(self, env: str) -> Checkpoint | None:
        rows = list(
            self._store.select(
                "checkpoints", "env = ?", [env], order_by="slot desc, id desc", limit=1
            )
        )
        return _checkpoint(rows[0]) if rows else None


def _checkpoint(row: dict[str, Any]) -> Checkpoint:
    return Checkpoint(
        id=row["id"],
        env=row["env"],
        phase_id=row["phase_id"],
        slot=parse_iso(row["slot"]),
        values=json.loads(row["kpi_values"]),
        verdicts=json.loads(row["verdicts"]),
        all_met=bool(row["all_met"]),
        message_ts=row["message_ts"],
        window=(
            (parse_iso(row["window_start"]), parse_iso(row["window_end"]))
            if row.get("window_start") and row.get("window_end")
            else None
        ),
    )
