"""Reading the app's log lines into events: pure, one line at a time.

Two formats, chosen in the spec: plain text (`2026-02-01 12:00:15.123 info: ...`) and
winston's JSON lines (`{"level":..,"message":..,"timestamp":..}`). Patterns are matched
by their words, not their emoji. A line that looks like ours but can't be read is
`Malformed`, counted by the caller, never fatal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from bot.spec import LogSpec


class EventKind(StrEnum):
    JOB_STARTED = "job_started"
    JOB_COMPLETED = "job_completed"
    JOB_FAILED = "job_failed"
    POOL = "pool"
    SLOW_QUERY = "slow_query"
    LOCK_SKIP = "lock_skip"
    COLLISION = "collision"
    STAGGER_ENABLED = "stagger_enabled"
    STAGGER_DISABLED = "stagger_disabled"


# Job lines first: "Job completed" must not be read as a pool or lock line.
_ORDER = (
    EventKind.JOB_STARTED,
    EventKind.JOB_COMPLETED,
    EventKind.JOB_FAILED,
    EventKind.STAGGER_ENABLED,
    EventKind.STAGGER_DISABLED,
    EventKind.POOL,
    EventKind.SLOW_QUERY,
    EventKind.LOCK_SKIP,
    EventKind.COLLISION,
)
_JOB_KINDS = (EventKind.JOB_STARTED, EventKind.JOB_COMPLETED, EventKind.JOB_FAILED)
_TEXT_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?\s+(?P<rest>.*)$"
)
_UTILIZATION = re.compile(r"utilization\s+(?P<value>[0-9]+(?:\.[0-9]+)?)%")
_JOB_NAME_END = re.compile(r"\s*(?:[(\[{|,;]|\s-\s|\s\d+(?:\.\d+)?\s*ms\b|$)")


@dataclass(frozen=True)
class LogEvent:
    at: datetime
    kind: EventKind
    job: str | None = None
    value: float | None = None


@dataclass(frozen=True)
class Malformed:
    reason: str


def _timestamp(text: str, zone: str | None) -> datetime:
    moment = datetime.fromisoformat(text.replace(" ", "T") + (zone or ""))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _message(raw: bytes, spec: LogSpec) -> tuple[datetime, str] | Malformed:
    try:
        line = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return Malformed("not UTF-8")
    if spec.format == "json":
        try:
            record = json.loads(line)
            return _timestamp(str(record["timestamp"]), None), str(record["message"])
        except (ValueError, KeyError, TypeError):
            return Malformed("not a JSON log record with timestamp and message")
    match = _TEXT_LINE.match(line)
    if match is None:
        return Malformed("no timestamp at the start of the line")
    try:
        return _timestamp(match["ts"], match["tz"]), match["rest"]
    except ValueError:
        return Malformed("unreadable timestamp")


def parse_line(raw: bytes, spec: LogSpec) -> LogEvent | Malformed | None:
    """The event a line records; None for lines that match no pattern."""
    patterns = spec.patterns()
    read = _message(raw, spec)
    if isinstance(read, Malformed):
        return read
    at, message = read
    for kind in _ORDER:
        pattern = patterns[kind.value]
        position = message.find(pattern)
        if position < 0:
            continue
        if kind in _JOB_KINDS:
            tail = message[position + len(pattern) :].lstrip(" :-")
            end = _JOB_NAME_END.search(tail)
            name = (tail[: end.start()] if end else tail).strip()
            return LogEvent(at, kind, job=name or None)
        if kind is EventKind.POOL:
            utilization = _UTILIZATION.search(message)
            if utilization is None:
                return Malformed("PoolMonitor line without 'utilization N%'")
            return LogEvent(at, kind, value=float(utilization["value"]))
        return LogEvent(at, kind)
    return None
