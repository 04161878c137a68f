"""The spec's rollout: the phases with their success criteria, the KPI thresholds table,
the rollback triggers, the first-30-minute validation, alerts and checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.core.kpi_catalog import MEASURED_KPI_NAMES, MIN_EVENTS
from bot.core.spec_fields import (
    PHASE_NAME,
    SpecSection,
    check_condition,
    nearest_or_known,
)
from bot.core.spec_problems import SEPARATOR

_ANY_DATE = datetime(2000, 1, 1, tzinfo=UTC)


def unknown_kpi(name: str) -> str:
    """What is said of a KPI the spec names that the bot does not measure."""
    return f"unknown KPI {name!r}{nearest_or_known(name, MEASURED_KPI_NAMES)}"


class CriterionSpec(SpecSection):
    """A phase's success criterion on one KPI. `dry_run`: measured and shown, never gating.
    A relative one on job durations, the error rate or a count is decided by the judge;
    `margin_pct` (of the baseline) or `margin_points` (in the KPI's unit) widens its
    threshold: what "no worse" (`change <= 0%`) allows (default: half the threshold of
    the rollback trigger on the same KPI)."""

    condition: str
    dry_run: bool = False
    margin_pct: float | None = Field(default=None, ge=0)
    margin_points: float | None = Field(default=None, ge=0)

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        return check_condition(value)

    @model_validator(mode="after")
    def _one_margin(self) -> CriterionSpec:
        if self.margin_pct is not None and self.margin_points is not None:
            raise ValueError("give margin_pct or margin_points, not both")
        return self


class PhaseSpec(SpecSection):
    """One runbook phase: where it runs, the flag it sets on entry, how long it must run,
    and its success criteria (KPI name -> condition, like the KPI table's targets)."""

    name: str = Field(pattern=PHASE_NAME.pattern)
    env: str
    stagger: bool
    min_duration_h: float = Field(ge=0)
    max_duration_h: float | None = Field(default=None, gt=0)
    description: str = ""
    # KPI name -> a condition, or a table `{ condition = "...", dry_run = true, ... }`.
    success: dict[str, CriterionSpec] = {}

    @field_validator("success", mode="before")
    @classmethod
    def _criteria(cls, success: object) -> object:
        if not isinstance(success, dict):
            return success
        unknown = [unknown_kpi(kpi) for kpi in success if kpi not in MEASURED_KPI_NAMES]
        if unknown:
            raise ValueError(SEPARATOR.join(unknown))
        return {
            kpi: {"condition": criterion} if isinstance(criterion, str) else criterion
            for kpi, criterion in success.items()
        }

    @model_validator(mode="after")
    def _max_after_min(self) -> PhaseSpec:
        if self.max_duration_h is not None and self.max_duration_h < self.min_duration_h:
            raise ValueError("max_duration_h is shorter than min_duration_h")
        return self


class KpiSpec(SpecSection):
    """One row of the runbook's KPI THRESHOLDS table.

    Conditions read `< 40`, `> 60` (absolute) or `change <= -30%` (relative to the baseline).
    """

    label: str = Field(min_length=1)
    unit: str = ""
    target: str
    alert: str
    # A count's relative change is judged only with this many events in the baseline window.
    min_events: int = Field(default=MIN_EVENTS, ge=0)
    # Measured, shown and charted; never gates, alerts or fires a trigger.
    dry_run: bool = False

    @field_validator("target", "alert")
    @classmethod
    def _condition(cls, value: str) -> str:
        return check_condition(value)


class TriggerSpec(SpecSection):
    """A runbook ROLLBACK TRIGGER: abort when `kpi` meets `condition`."""

    name: str = Field(min_length=1)
    kpi: str
    condition: str

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        return check_condition(value)


class ExecutionSpec(SpecSection):
    """How long an execution's owner may go unheard before the env is freed: the owner
    renews its lease while it works (never past the execution's own time limit), so a
    process that died — in this container or another — or hangs frees the env within
    `lease_s` of its last renewal, and its request is reported interrupted."""

    lease_s: float = Field(default=60.0, gt=0, le=3600)


class JudgeSpec(SpecSection):
    """How relative success criteria are decided (README: "How the bot decides"): at
    `level` confidence, anytime-valid over any number of looks, on at least `min_runs`
    runs (or events) per side; the confidence sequence is tightest near `planned_runs`."""

    level: float = Field(default=0.95, ge=0.8, le=0.999)
    min_runs: int = Field(default=50, ge=5)
    planned_runs: int = Field(default=1000, ge=10)


class ValidationSpec(SpecSection):
    """The runbook's first-30-minute validation after the stagger goes on."""

    checks_after_min: list[int] = Field(default=[5, 15, 30], min_length=1)
    max_concurrent_jobs: int = Field(default=2, ge=1)

    @field_validator("checks_after_min")
    @classmethod
    def _ascending(cls, minutes: list[int]) -> list[int]:
        if any(m <= 0 for m in minutes) or minutes != sorted(set(minutes)):
            raise ValueError("must be positive minutes in ascending order, each once")
        return minutes


class AlertSpec(SpecSection):
    """How often the thresholds and rollback triggers are evaluated, and over what window;
    how often a lasting breach is recalled; how long a KPI may be unavailable unannounced."""

    every_min: int = Field(default=5, ge=1, le=24 * 60)
    window_min: int = Field(default=60, ge=1, le=7 * 24 * 60)
    remind_every_min: int = Field(default=60, ge=1)
    unavailable_grace_min: int = Field(default=15, ge=1)


class CheckpointSpec(SpecSection):
    """The runbook's KPI checkpoints (crontab `0 */6 * * *`) and daily SQL analysis days."""

    cron: str = "0 */6 * * *"
    # A checkpoint missed (the bot was down) is still posted within this time; older
    # ones are listed in one line instead of being replayed.
    grace_min: int = Field(default=30, ge=1)
    analysis_days: list[int] = [1, 2, 3, 7]

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            trigger = CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"{value!r} is not a crontab expression: {error}") from None
        # A crontab has no year: what fires at all fires within 28 years of any date.
        if trigger.get_next_fire_time(None, _ANY_DATE) is None:
            raise ValueError(f"{value!r} never fires: no such date, so no checkpoint would post")
        return value
