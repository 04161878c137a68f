"""A KPI report: an environment's measurements over a window, per host and in all, with
their judgements; the window's words (`30m`, `6h`, `2d`) and how a value is written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.errors import UsageError
from bot.core.thresholds import Judgement, Measurement

_WINDOW = re.compile(r"^(\d{1,4})([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str) -> timedelta:
    match = _WINDOW.match(text.strip().lower())
    if match is None or int(match[1]) == 0:
        raise UsageError(f"`{text}` is not a window like 30m, 6h or 2d.", "kpi")
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


def format_value(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
    return text + unit
