"""Freeze windows (`[[freeze]]` in the spec): times when no phase transition may start.

An entry is either a fixed window (`start` and `end`: local times in the spec's
`timezone`, or with an offset) or a recurring one (`cron`, a 5-field crontab read in the
spec's `timezone`, and `duration`, elapsed time from each start). `envs` narrows it to
some environments (default: every one). Rollbacks are never frozen; the callers decide
that, this module only tells whether a moment is inside a window, and until when.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator

from bot.core.errors import UserError
from bot.core.kpi_report import parse_window
from bot.core.spec_fields import SpecSection, nearest_or_known

_ANY_DATE = datetime(2000, 1, 1, tzinfo=UTC)
# Windows that follow each other without a gap are one freeze. A chain of more windows
# than this, or longer than the horizon (a cron that always freezes), is reported as
# ending where the count stopped: asked again then, it says how much longer.
_HORIZON = timedelta(days=400)
_MAX_CHAIN = 100
_SECOND = timedelta(seconds=1)
_GAPS_SAMPLED = 400


class FreezeSpec(SpecSection):
    start: datetime | None = None
    end: datetime | None = None
    cron: str | None = None
    duration: str | None = None
    envs: list[str] | None = None
    reason: str = Field(min_length=1, max_length=200)

    @field_validator("envs")
    @classmethod
    def _some_env(cls, value: list[str] | None) -> list[str] | None:
        if value == []:
            raise ValueError("holds no env: name at least one env, or leave envs out for every env")
        return value

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
        if recurring and self._never_free():
            raise ValueError(
                f"cron {self.cron!r} starts again before each {self.duration} window ends: "
                "the environments would never be free"
            )
        return self

    def _never_free(self) -> bool:
        """Whether every window (of the first few hundred) overlaps the next."""
        trigger = CronTrigger.from_crontab(str(self.cron), timezone="UTC")
        fire = _next_fire(trigger, _ANY_DATE)
        for _ in range(_GAPS_SAMPLED):
            following = _next_fire(trigger, fire + _SECOND) if fire is not None else None
            if fire is None or following is None or following - fire > self.length:
                return False
            fire = following
        return True

    @property
    def length(self) -> timedelta:
        assert self.duration is not None
        return parse_window(self.duration)

    def applies_to(self, env: str) -> bool:
        return self.envs is None or env in self.envs

    def open_window(self, moment: datetime, zone: str) -> tuple[datetime, datetime] | None:
        """This entry's window open at `moment` (UTC start, end), if one is: for a cron,
        from the first start still open to the end of the last start so far."""
        if self.start is not None and self.end is not None:
            start, end = local(self.start, zone), local(self.end, zone)
            return (start, end) if start <= moment < end else None
        length = self.length
        trigger = self._trigger(zone)
        first = _next_fire(trigger, moment - length + _SECOND)
        if first is None or first > moment:
            return None
        return first, _last_fire(trigger, first, moment) + length

    def next_start(self, moment: datetime, zone: str) -> datetime | None:
        """When this entry's next window starts, at or after `moment`."""
        if self.start is not None:
            start = local(self.start, zone)
            return start if start >= moment else None
        return _next_fire(self._trigger(zone), moment)

    def _trigger(self, zone: str) -> CronTrigger:
        assert self.cron is not None
        return CronTrigger.from_crontab(self.cron, timezone=ZoneInfo(zone))


def _next_fire(trigger: CronTrigger, moment: datetime) -> datetime | None:
    fire: datetime | None = trigger.get_next_fire_time(None, moment)
    return fire.astimezone(UTC) if fire is not None else None


def _last_fire(trigger: CronTrigger, first: datetime, moment: datetime) -> datetime:
    """The last start at or before `moment`, given one at `first`: found by halving (the
    crontab has no "previous"), so a cron firing every minute costs a few dozen steps."""
    low, high = first, moment
    while high - low > _SECOND:
        middle = low + (high - low) / 2
        fire = _next_fire(trigger, middle)
        if fire is not None and fire <= moment:
            low = fire
        else:
            high = middle
    fire = _next_fire(trigger, high)
    return fire if fire is not None and fire <= moment else low


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
    for _ in range(_MAX_CHAIN):
        if until >= horizon:
            break
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
            if entry.applies_to(env) and (start := entry.next_start(cursor, zone)) is not None
        ]
        if not starts or min(starts) >= end:
            break
        cursor = min(starts)
    return found


def _open_window(
    freezes: Sequence[FreezeSpec], env: str, moment: datetime, zone: str
) -> tuple[datetime | None, datetime | None, tuple[str, ...]]:
    """The earliest start, latest end and reasons of the windows open at `moment`."""
    start: datetime | None = None
    until: datetime | None = None
    reasons: list[str] = []
    for entry in freezes:
        window = entry.open_window(moment, zone) if entry.applies_to(env) else None
        if window is None:
            continue
        start = window[0] if start is None else min(start, window[0])
        until = window[1] if until is None else max(until, window[1])
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
