"""Clocks: the time is passed in, so tests and rehearsals can move it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; for tests and rehearsals."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment.astimezone(UTC)


def isoformat(moment: datetime) -> str:
    """The store's time format: UTC, seconds precision, with a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def isoformat_ms(moment: datetime) -> str:
    """Lease times: UTC to the millisecond, so a lease of a second or two is not rounded
    away. Compared as text only with each other (one format, one length)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.astimezone(UTC).microsecond // 1000:03d}Z"
    )


def format_time(moment: datetime, zone: str = "UTC") -> str:
    """A time as people read it, one way everywhere: `2026-02-01 04:15 UTC`, in the
    spec's timezone, named (as in `kpi_report.window_text`)."""
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):  # a zone this machine doesn't know
        local, zone = moment.astimezone(UTC), "UTC"
    return f"{local:%Y-%m-%d %H:%M} {zone}"


def parse_iso(text: str) -> datetime:
    """The store's format back (fractions of a second allowed); always UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def describe_duration(delta: timedelta) -> str:
    """`2d 3h`, `3h 20m`, `4m` — the way people say it in a channel."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"
