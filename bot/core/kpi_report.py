"""A KPI report: an environment's measurements over a window, per host and in all, with
their judgements and the baseline's window; the window's words (`30m`, `6h`, `2d`), and
how a value, a rate and a window are written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import describe_duration
from bot.core.errors import UsageError
from bot.core.thresholds import Judgement, Measurement

_WINDOW = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str, command: str | None = None) -> timedelta:
    """`command`: the subcommand whose usage a wrong window is answered with."""
    match = _WINDOW.match(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise UsageError(f"`{text}` is not a window like 30m, 6h or 2d.", command)
    return timedelta(**{_UNITS[match[2]]: int(match[1])})


@dataclass(frozen=True)
class HostReport:
    host: str
    error: str | None
    measurements: dict[str, Measurement]


@dataclass(frozen=True)
class KpiReport:
    env: str
    start: datetime
    end: datetime
    hosts: tuple[HostReport, ...]
    measurements: dict[str, Measurement]
    judgements: tuple[Judgement, ...]
    # The window of the baseline the relative conditions were judged against.
    baseline_window: tuple[datetime, datetime] | None = None
    # Where the counts' per-hour rates start: later than `start` when the hosts' logs
    # begin inside the window (a fresh install, a rotated log). None: at `start`.
    rated_from: datetime | None = None

    @property
    def rated_window(self) -> tuple[datetime, datetime]:
        """The span the logs cover of the window: what a baseline taken from it spans."""
        return (self.rated_from or self.start, self.end)


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text + unit


def format_rate(per_hour: float | None) -> str:
    """Events per hour: `530/h`, `12.5/h`, `1.25/h`."""
    if per_hour is None:
        return "—"
    size = abs(per_hour)
    digits = 0 if size >= 100 or per_hour == 0 else 1 if size >= 10 else 2
    return f"{per_hour:.{digits}f}/h"


def window_text(start: datetime, end: datetime, zone: str) -> str:
    """`2026-02-01 06:00–12:00 Europe/London (6h)` in the spec's zone, named; the end's
    date too when it is another day."""
    tz = ZoneInfo(zone)
    first, last = start.astimezone(tz), end.astimezone(tz)
    until = f"{last:%H:%M}" if last.date() == first.date() else f"{last:%Y-%m-%d %H:%M}"
    return f"{first:%Y-%m-%d %H:%M}–{until} {zone} ({exact_length(end - start)})"


def exact_length(delta: timedelta) -> str:
    """`1d 0h 30m`: a window's length to the minute, since its counts are divided by it
    (`describe_duration` rounds days to hours, as people say it in a channel)."""
    days, rest = divmod(max(0, int(delta.total_seconds())), 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if not days:
        return describe_duration(delta)
    if minutes:
        return f"{days}d {hours}h {minutes}m"
    return f"{days}d {hours}h" if hours else f"{days}d"


def window_hours(start: datetime, end: datetime) -> float:
    return (end - start) / timedelta(hours=1)
