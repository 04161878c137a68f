"""Reading the app's log lines into events: pure, one line at a time.

Two formats, chosen in the spec: plain text (`2026-02-01 12:00:15.123 info: ...`) and
winston's JSON lines (`{"level":..,"message":..,"timestamp":..}`). Patterns are matched
by their words, not their emoji. A line that looks like ours but can't be read is
`Malformed`, counted by the caller, never fatal. A completed line's duration
(`(1093 ms)`, `(1.09s)`, or a JSON `durationMs`/`duration_ms`) is its event's value.

A timestamp without an offset is in the spec's `logs.timezone`. In the hour a zone
repeats when its clocks go back, such a time is the earlier of its two moments that is
not before the latest one read (a scan's parser starts from the file's last stored
event; the earlier moment when there is none), and the later one if both are: logs are
written in order, give or take a few milliseconds between writers. Nearness would not
do: after more than half an hour without a line, the wrong moment is the nearer one.

A scan parses every matching line of a log (100,000s per GB), so `LineParser` prepares
the spec's patterns once and each line costs a decode, one anchored regex and a few
substring checks.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple
from zoneinfo import ZoneInfo

from bot.core.spec_fleet import LogSpec


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
# How a kind's line is read, as a plain int: comparing enum members per line costs more.
_PLAIN, _JOB, _POOL = 0, 1, 2
# The timestamp and the whitespace after it; the message is the rest of the line.
_TEXT_START = re.compile(
    r"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)(Z|[+-]\d{2}:?\d{2})?\s+"
)
_UTILIZATION = re.compile(r"utilization\s+(?P<value>[0-9]+(?:\.[0-9]+)?)%")
# Where a job's name ends (what follows is stripped with the spaces before it).
_JOB_NAME_END = re.compile(r"[(\[{|,;]|\s-\s|\s\d+(?:\.\d+)?\s*ms\b")
_DURATION = re.compile(r"\((\d+(?:\.\d+)?)\s*(ms|s)\)")
_DURATION_FIELDS = ("durationMs", "duration_ms")
# How far a line may come before the one read last (writers interleave): far less than
# the hour a zone repeats.
_DISORDER = timedelta(minutes=1)


class LogEvent(NamedTuple):
    # A tuple, not a dataclass: a scan builds one per matching line and this is the cheapest.
    at: datetime
    kind: EventKind
    job: str | None = None
    value: float | None = None  # a pool sample's utilization, a completed run's duration (ms)


@dataclass(frozen=True)
class Malformed:
    reason: str


_NOT_UTF8 = Malformed("not UTF-8")
_NOT_JSON = Malformed("not a JSON log record with timestamp and message")
_NO_TIMESTAMP = Malformed("no timestamp at the start of the line")
_BAD_TIMESTAMP = Malformed("unreadable timestamp")
_NO_UTILIZATION = Malformed("PoolMonitor line without 'utilization N%'")


def _read_as(kind: EventKind) -> int:
    return _JOB if kind in _JOB_KINDS else _POOL if kind is EventKind.POOL else _PLAIN


def _duration_field(record: dict[str, object]) -> float | None:
    """A JSON record's numeric duration in ms (a string or a bool is not one)."""
    for name in _DURATION_FIELDS:
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and value >= 0:
            return float(value)
    return None


def _text_duration(tail: str, start: int) -> float | None:
    """`(1093ms)`, `(1093 ms)` or `(1.09s)` after a job's name, in ms."""
    given = _DURATION.search(tail, start)
    if given is None:
        return None
    number = float(given[1])
    # Rounded to the microsecond: 1.09 s is 1090 ms, not 1090.0000000000002.
    return round(number * 1000.0, 3) if given[2] == "s" else number


class LineParser:
    """Parses lines under one spec; build it once per scan, not once per line (it also
    remembers the latest moment read, for the hour a zone repeats, starting from `after`:
    the last event stored from the file before)."""

    def __init__(self, spec: LogSpec, after: datetime | None = None) -> None:
        patterns = spec.patterns()
        self._checks = tuple((kind, patterns[kind.value], _read_as(kind)) for kind in _ORDER)
        self._json = spec.format == "json"
        self._zone = None if spec.timezone == "UTC" else ZoneInfo(spec.timezone)
        self._last = after

    def _local(self, moment: datetime) -> datetime:
        """A time without an offset, in the log's zone, as UTC."""
        if self._zone is None:
            return moment.replace(tzinfo=UTC)
        first = moment.replace(tzinfo=self._zone).astimezone(UTC)
        second = moment.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        last = self._last
        # Only a repeated hour has its second moment later; a skipped one keeps the first.
        if second > first and last is not None and first < last - _DISORDER:
            first = second
        if last is None or first > last:
            self._last = first
        return first

    def _timestamp(self, text: str, offset: str | None) -> datetime:
        if offset is not None:
            return datetime.fromisoformat(text + offset).astimezone(UTC)
        if self._zone is None:  # UTC; naming it in the text is cheaper than datetime.replace
            return datetime.fromisoformat(text + "+00:00")
        return self._local(datetime.fromisoformat(text))

    def parse(self, raw: bytes) -> LogEvent | Malformed | None:
        """The event a line records; None for lines that match no pattern."""
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            return _NOT_UTF8
        duration: float | None = None
        if self._json:
            try:
                record = json.loads(line)
                at = datetime.fromisoformat(str(record["timestamp"]))
                at = self._local(at) if at.tzinfo is None else at.astimezone(UTC)
                message = str(record["message"])
                duration = _duration_field(record)
            except (ValueError, KeyError, TypeError, AttributeError):
                return _NOT_JSON
        else:
            start = _TEXT_START.match(line)
            if start is None:
                return _NO_TIMESTAMP
            try:
                at = self._timestamp(start[1], start[2])
            except ValueError:
                return _BAD_TIMESTAMP
            message = line[start.end() :]
        return self._event(at, message, duration)

    def _event(
        self, at: datetime, message: str, duration: float | None
    ) -> LogEvent | Malformed | None:
        for kind, pattern, read_as in self._checks:
            position = message.find(pattern)
            if position < 0:
                continue
            if read_as == _JOB:
                tail = message[position + len(pattern) :].lstrip(" :-")
                end = _JOB_NAME_END.search(tail)
                name = (tail[: end.start()] if end else tail).strip()
                if kind is EventKind.JOB_COMPLETED:
                    if duration is None and end is not None:
                        duration = _text_duration(tail, end.start())
                    return LogEvent(at, kind, name or None, duration)
                return LogEvent(at, kind, name or None)
            if read_as == _POOL:
                utilization = _UTILIZATION.search(message)
                if utilization is None:
                    return _NO_UTILIZATION
                return LogEvent(at, kind, None, float(utilization["value"]))
            return LogEvent(at, kind)
        return None


def parse_line(raw: bytes, spec: LogSpec) -> LogEvent | Malformed | None:
    """The event a line records; None for lines that match no pattern."""
    return LineParser(spec).parse(raw)
