"""Freeze windows (`[[freeze]]` in the spec): times when no phase transition may start.

An entry is either a fixed window (`start` and `end`: local times in the spec's
`timezone`, or with an offset) or a recurring one (`cron`, a 5-field crontab read in the
spec's `timezone`, and `duration`, elapsed time from each start). `envs` narrows it to
some environments (default: every one). Rollbacks are never frozen; the callers decide
that, this module only tells whether a moment is inside a window, and until when.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from bot.core.errors import UserError
from bot.core.kpi_report import parse_window
from bot.core.spec_fields import SpecSection, nearest_or_known

_ANY_DATE = datetime(2000, 1, 1, tzinfo=UTC)
# Windows that follow each other without a gap are one freeze; a chain longer than this
# (a cron that always freezes) is reported as ending at its horizon.
_HORIZON = timedelta(days=400)
_MAX_STEPS = 20_000


class FreezeSpec(SpecSection):
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    duration: str | None = None
    envs: list[str] | None = None
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            trigger = CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"{value!r} is not a crontab expression: {error}") from None
        if trigger.get_next_fire_time(None, _ANY_DATE) is None:
            raise ValueError(f"{value!r} never fires: no such date")
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_window(value)
            except UserError:
                raise ValueError(f"{value!r} is not a duration like 30m, 64h or 2d") from None
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FreezeSpec:
        fixed = self.start is not None or self.end is not None
        recurring = self.cron is not None or self.duration is not None
        if fixed and recurring:
            raise ValueError("give either start and end, or cron and duration, not both")
        if fixed and (self.start is None or self.end is None):
            missing = "end" if self.end is None else "start"
            raise ValueError(f"{missing} is required with {_other(missing)}")
        if recurring and (self.cron is None or self.duration is None):
            missing = "duration" if self.duration is None else "cron"
            raise ValueError(f"{missing} is required with {_other(missing)}")
        if not fixed and not recurring:
            raise ValueError("give either start and end, or cron and duration")
        return self

    @property
    def length(self) -> timedelta:
        assert self.duration is not None
        return parse_window(self.duration)

    def applies_to(self, env: str) -> bool:
        return self.envs is None or env in self.envs

    def windows(self, since: datetime, zone: str) -> Iterator[tuple[datetime, datetime]]:
        """This entry's windows (UTC start, end) that end after `since`, in order."""
        if self.start is not None and self.end is not None:
            start, end = local(self.start, zone), local(self.end, zone)
            if end > since:
                yield start, end
            return
        assert self.cron is not None
        length = self.length
        trigger = CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(zone))
        # A window that started up to `length` ago is still open.
        moment = (since - length + timedelta(seconds=1)).astimezone(ZoneInfo(zone))
        for _ in range(_MAX_STEPS):
            fire = trigger.get_next_fire_time(None, moment)
            if fire is None:
                return
            start = fire.astimezone(UTC)
            yield start, start + length
            moment = fire + timedelta(seconds=1)


def _other(name: str) -> str:
    return {"start": "end", "end": "start", "cron": "duration", "duration": "cron"}[name]


def local(moment: datetime, zone: str) -> datetime:
    """A spec time in UTC: one without an offset is read in the spec's time zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Freeze:
    """A freeze in force (or coming) for an env: from `start` until `until` (UTC)."""

    start: datetime
    until: datetime
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def freeze_at(
    freezes: Sequence[FreezeSpec], env: str, moment: datetime, zone: str
) -> Freeze | None:
    """The freeze `env` is in at `moment`, with when it ends: windows (of any entry) that
    meet or overlap count as one, so `until` is when a transition may start again."""
    start, until, reasons = _open_window(freezes, env, moment, zone)
    if until is None or start is None:
        return None
    horizon = moment + _HORIZON
    while until < horizon:
        _, later, more = _open_window(freezes, env, until, zone)
        if later is None or later <= until:
            break
        until = later
        reasons += tuple(reason for reason in more if reason not in reasons)
    return Freeze(start, min(until, horizon), reasons)


def freezes_within(
    freezes: Sequence[FreezeSpec], env: str, moment: datetime, zone: str, within: timedelta
) -> list[Freeze]:
    """The freeze in force at `moment` (if any) and those starting before `moment +
    within`, in order: what `status` and App Home show."""
    found: list[Freeze] = []
    cursor = moment
    end = moment + within
    while cursor < end and len(found) < 10:
        current = freeze_at(freezes, env, cursor, zone)
        if current is not None:
            found.append(current)
            cursor = current.until
            continue
        starts = [
            start
            for entry in freezes
            if entry.applies_to(env)
            for start in _first_start_after(entry, cursor, zone)
        ]
        if not starts or min(starts) >= end:
            break
        cursor = min(starts)
    return found


def _first_start_after(entry: FreezeSpec, moment: datetime, zone: str) -> list[datetime]:
    for start, _end in entry.windows(moment, zone):
        if start >= moment:
            return [start]
    return []


def _open_window(
    freezes: Sequence[FreezeSpec], env: str, moment: datetime, zone: str
) -> tuple[datetime | None, datetime | None, tuple[str, ...]]:
    """The earliest start, latest end and reasons of the windows open at `moment`."""
    start: datetime | None = None
    until: datetime | None = None
    reasons: list[str] = []
    for entry in freezes:
        if not entry.applies_to(env):
            continue
        for window_start, window_end in entry.windows(moment, zone):
            if window_start > moment:
                break
            if window_end > moment:
                start = window_start if start is None else min(start, window_start)
                until = window_end if until is None else max(until, window_end)
                if entry.reason not in reasons:
                    reasons.append(entry.reason)
    return start, until, tuple(reasons)


def freeze_problems(freezes: Sequence[FreezeSpec], zone: str) -> list[str]:
    """What the entries say wrong of themselves once the spec's zone is known."""
    problems = []
    for index, entry in enumerate(freezes):
        if entry.start is not None and entry.end is not None:
            start, end = local(entry.start, zone), local(entry.end, zone)
            if end <= start:
                problems.append(
                    f"freeze[{index}].end: {entry.end.isoformat()} is "
                    f"{'before' if end < start else 'the same time as'} its start "
                    f"{entry.start.isoformat()}"
                )
    return problems


def unknown_env_problems(freezes: list[dict[str, object]], envs: Collection[str]) -> list[str]:
    """Each env an entry names that the spec does not have (read from the file's data)."""
    problems = []
    for index, entry in enumerate(freezes):
        named = entry.get("envs")
        for env in named if isinstance(named, list) else ():
            if isinstance(env, str) and env not in envs:
                problems.append(
                    f"freeze[{index}].envs: unknown environment {env!r}"
                    f"{nearest_or_known(env, envs)}"
                )
    return problems
