"""The rollout spec: a TOML file that encodes the runbook, validated at start.

Every problem is reported with its key path (`environments.prod.approvals.required: ...`),
so `stagger-bot check-config` can list them all at once.
"""

from __future__ import annotations

import math
import re
import tomllib
from functools import reduce
from pathlib import Path
from typing import Annotated, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.errors import SpecError
from bot.core.host_address import HostAddress

SLACK_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
ENV_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
JOB_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,47}$")
CONDITION = re.compile(r"^(change\s*)?(<|<=|>|>=)\s*(-?\d+(?:\.\d+)?)\s*(%)?$")

UserId = Annotated[str, Field(pattern=SLACK_USER_ID.pattern)]

# What the bot measures: from the logs, and from the job-execution table.
LOG_KPI_NAMES = (
    "pool_util_avg",
    "pool_util_max",
    "job_starts",
    "job_completions",
    "job_failures",
    "error_rate",
    "lock_skips",
    "slow_queries",
    "max_concurrent_jobs",
    "collision_warnings",
    "offset_misses",
)
DB_KPI_NAMES = ("job_duration_avg", "db_metadata_errors", "db_max_overlap")
MEASURED_KPI_NAMES = LOG_KPI_NAMES + DB_KPI_NAMES


def check_condition(value: str) -> str:
    if not CONDITION.match(value.strip()):
        raise ValueError(f"{value!r} is not a condition like '< 40', '> 60' or 'change <= -30%'")
    return value.strip()


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SshSpec(_Model):
    key_file: Path = Path("~/.ssh/id_ed25519")
    known_hosts: Path = Path("~/.ssh/known_hosts")
    connect_timeout_s: float = Field(default=10.0, gt=0, le=120)
    command_timeout_s: float = Field(default=30.0, gt=0, le=600)

    @property
    def key_path(self) -> Path:
        return self.key_file.expanduser()

    @property
    def known_hosts_path(self) -> Path:
        return self.known_hosts.expanduser()


class FlagSpec(_Model):
    """The feature flag the runbook flips, and the log lines that prove it took."""

    name: str = Field(default="JOB_STAGGER_ENABLED", pattern=JOB_KEY.pattern)
    job_prefix: str = Field(default="JOB_STAGGER_", pattern=r"^[A-Z][A-Z0-9_]*$")
    enabled_line: str = Field(default="Job stagger enabled", min_length=1)
    disabled_line: str = Field(default="Job stagger disabled", min_length=1)
    # After a per-job change the app logs its stagger state again on reload; any such line
    # written after the reload proves the app re-read its env file.
    reloaded_line: str = Field(default="Job stagger", min_length=1)
    verify_timeout_s: float = Field(default=20.0, gt=0, le=300)

    @field_validator("enabled_line", "disabled_line", "reloaded_line")
    @classmethod
    def _single_line(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("must be a single line")
        return value


class LogSpec(_Model):
    """How the app's log reads: line format and the runbook's LOG PATTERNS (fixed strings)."""

    format: Literal["text", "json"] = "text"
    # Scanned events are kept this long (the KPIs, checkpoints and charts read them).
    keep_events_days: int = Field(default=30, ge=1)
    job_started: str = "Job started"
    job_completed: str = "Job completed"
    job_failed: str = "Job failed"
    pool: str = "PoolMonitor"
    slow_query: str = "[DB] Slow query"
    lock_skip: str = "skipped_lock"
    collision: str = "collision"
    stagger_enabled: str = "Job stagger enabled"
    stagger_disabled: str = "Job stagger disabled"

    @model_validator(mode="after")
    def _single_lines(self) -> LogSpec:
        for name, value in self.patterns().items():
            if not value or "\n" in value or "\r" in value:
                raise ValueError(f"{name} must be a non-empty single line")
        return self

    def patterns(self) -> dict[str, str]:
        return {
            name: value
            for name, value in self.model_dump().items()
            if name not in ("format", "keep_events_days")
        }


class DatabaseSpec(_Model):
    """The app's job-execution table, read for the database KPIs (read-only)."""

    table: str = Field(
        default="job_execution_logs", pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$"
    )
    job_name: str = Field(default="job_name", pattern=r"^[a-z_][a-z0-9_]*$")
    started_at: str = Field(default="started_at", pattern=r"^[a-z_][a-z0-9_]*$")
    completed_at: str = Field(default="completed_at", pattern=r"^[a-z_][a-z0-9_]*$")
    status: str = Field(default="status", pattern=r"^[a-z_][a-z0-9_]*$")
    error_message: str = Field(default="error_message", pattern=r"^[a-z_][a-z0-9_]*$")
    failed_status: str = "failed"
    connect_timeout_s: int = Field(default=5, ge=1, le=60)
    statement_timeout_ms: int = Field(default=10000, ge=100, le=600000)


class JobSpec(_Model):
    key: str = Field(pattern=JOB_KEY.pattern)
    name: str = Field(min_length=1)
    interval_s: int = Field(gt=0, le=86400)
    offset_s: int = Field(ge=0, lt=60)


class ApprovalPolicy(_Model):
    approvers: list[UserId] = []
    required: int = Field(default=1, ge=0, le=10)
    allow_self: bool = False
    expires_after_min: int = Field(default=30, gt=0, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _enough_approvers(self) -> ApprovalPolicy:
        if self.required > len(set(self.approvers)):
            raise ValueError(
                f"required = {self.required} but only {len(set(self.approvers))} approver(s) listed"
            )
        return self


class EnvironmentSpec(_Model):
    hosts: list[str] = Field(min_length=1)
    app_dir: str = Field(min_length=1)
    env_file: str = ".env"
    log_file: str = "logs/combined.log"
    reload_command: str = Field(default="pm2 reload ecosystem.config.js", min_length=1)
    database_url_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    approvals: ApprovalPolicy
    # Roll back at once (and say why) when a validation check or a trigger fails,
    # instead of proposing it to the approvers.
    auto_rollback: bool = False

    @field_validator("hosts")
    @classmethod
    def _hosts_parse(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            HostAddress.parse(host)
        if len(set(hosts)) != len(hosts):
            raise ValueError("lists a host twice")
        return hosts

    @field_validator("app_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be an absolute path")
        if "{" in value.replace("{host}", "") or "}" in value.replace("{host}", ""):
            raise ValueError("the only placeholder allowed is {host}")
        return value.rstrip("/") or "/"

    @field_validator("env_file", "log_file")
    @classmethod
    def _relative(cls, value: str) -> str:
        if not value or value.startswith("/") or ".." in Path(value).parts:
            raise ValueError("must be a path inside app_dir (relative, without '..')")
        return value

    @property
    def host_addresses(self) -> list[HostAddress]:
        return [HostAddress.parse(host) for host in self.hosts]

    def app_dir_on(self, host: HostAddress) -> str:
        """The app's folder on `host`; `{host}` in app_dir stands for the host's name."""
        return self.app_dir.replace("{host}", host.host)

    def env_file_on(self, host: HostAddress) -> str:
        return f"{self.app_dir_on(host)}/{self.env_file}"

    def log_file_on(self, host: HostAddress) -> str:
        return f"{self.app_dir_on(host)}/{self.log_file}"


class PhaseSpec(_Model):
    """One runbook phase: where it runs, the flag it sets on entry, how long it must run,
    and its success criteria (KPI name -> condition, like the KPI table's targets)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,47}$")
    env: str
    stagger: bool
    min_duration_h: float = Field(ge=0)
    max_duration_h: float | None = Field(default=None, gt=0)
    description: str = ""
    success: dict[str, str] = {}

    @field_validator("success")
    @classmethod
    def _criteria(cls, success: dict[str, str]) -> dict[str, str]:
        for kpi in success:
            if kpi not in MEASURED_KPI_NAMES:
                raise ValueError(f"unknown KPI {kpi!r}; known: {', '.join(MEASURED_KPI_NAMES)}")
        return {kpi: check_condition(condition) for kpi, condition in success.items()}

    @model_validator(mode="after")
    def _max_after_min(self) -> PhaseSpec:
        if self.max_duration_h is not None and self.max_duration_h < self.min_duration_h:
            raise ValueError("max_duration_h is shorter than min_duration_h")
        return self


class KpiSpec(_Model):
    """One row of the runbook's KPI THRESHOLDS table.

    Conditions read `< 40`, `> 60` (absolute) or `change <= -30%` (relative to the baseline).
    """

    label: str = Field(min_length=1)
    unit: str = ""
    target: str
    alert: str

    @field_validator("target", "alert")
    @classmethod
    def _condition(cls, value: str) -> str:
        return check_condition(value)


class TriggerSpec(_Model):
    """A runbook ROLLBACK TRIGGER: abort when `kpi` meets `condition`."""

    name: str = Field(min_length=1)
    kpi: str
    condition: str

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str) -> str:
        return check_condition(value)


class ValidationSpec(_Model):
    """The runbook's first-30-minute validation after the stagger goes on."""

    checks_after_min: list[int] = Field(default=[5, 15, 30], min_length=1)
    max_concurrent_jobs: int = Field(default=2, ge=1)

    @field_validator("checks_after_min")
    @classmethod
    def _ascending(cls, minutes: list[int]) -> list[int]:
        if any(m <= 0 for m in minutes) or minutes != sorted(set(minutes)):
            raise ValueError("must be positive minutes in ascending order, each once")
        return minutes


class AlertSpec(_Model):
    """How often the thresholds and rollback triggers are evaluated, and over what window;
    how often a lasting breach is recalled; how long a KPI may be unavailable unannounced."""

    every_min: int = Field(default=5, ge=1, le=24 * 60)
    window_min: int = Field(default=60, ge=1, le=7 * 24 * 60)
    remind_every_min: int = Field(default=60, ge=1)
    unavailable_grace_min: int = Field(default=15, ge=1)


class CheckpointSpec(_Model):
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
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"{value!r} is not a crontab expression: {error}") from None
        return value


class Spec(_Model):
    channel: str = Field(pattern=SLACK_CHANNEL_ID.pattern)
    operators: list[UserId] = []
    timezone: str = "UTC"
    ssh: SshSpec = SshSpec()
    flag: FlagSpec = FlagSpec()
    logs: LogSpec = LogSpec()
    database: DatabaseSpec = DatabaseSpec()
    jobs: list[JobSpec] = Field(min_length=1)
    allow_offset_collisions: bool = False
    environments: dict[str, EnvironmentSpec] = Field(min_length=1)
    phases: list[PhaseSpec] = []
    kpis: dict[str, KpiSpec] = {}
    rollback_triggers: list[TriggerSpec] = []
    validation: ValidationSpec = ValidationSpec()
    alerts: AlertSpec = AlertSpec()
    checkpoints: CheckpointSpec = CheckpointSpec()

    @field_validator("environments")
    @classmethod
    def _env_names(cls, environments: dict[str, EnvironmentSpec]) -> dict[str, EnvironmentSpec]:
        for name in environments:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment name (a-z, 0-9, - and _)")
        return environments

    @model_validator(mode="after")
    def _cross_references(self) -> Spec:
        problems: list[str] = []
        keys = [job.key for job in self.jobs]
        if len(set(keys)) != len(keys):
            problems.append("jobs: a job key is listed twice")
        if not self.allow_offset_collisions:
            problems.extend(_collisions(self.jobs))
        names = [phase.name for phase in self.phases]
        if len(set(names)) != len(names):
            problems.append("phases: a phase name is listed twice")
        for index, phase in enumerate(self.phases):
            if phase.env not in self.environments:
                problems.append(f"phases[{index}].env: unknown environment {phase.env!r}")
        for index, trigger in enumerate(self.rollback_triggers):
            if trigger.kpi not in self.kpis:
                problems.append(f"rollback_triggers[{index}].kpi: unknown KPI {trigger.kpi!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def environment(self, name: str) -> EnvironmentSpec | None:
        return self.environments.get(name)

    def job(self, key_or_name: str) -> JobSpec | None:
        wanted = key_or_name.strip().upper().replace("-", "_")
        for job in self.jobs:
            if job.key == wanted or job.name.lower() == key_or_name.strip().lower():
                return job
        return None

    def phases_of(self, env: str) -> list[PhaseSpec]:
        return [phase for phase in self.phases if phase.env == env]

    def phase(self, name: str) -> PhaseSpec | None:
        return next((phase for phase in self.phases if phase.name == name), None)


def find_collisions(jobs: list[JobSpec]) -> list[tuple[int, tuple[str, ...]]]:
    """Each second of one full cycle (the intervals' least common multiple) where two or
    more jobs start, with their keys."""
    cycle = reduce(math.lcm, (job.interval_s for job in jobs), 1)
    if cycle > 7 * 86400:
        return []
    starts: dict[int, list[str]] = {}
    for job in jobs:
        for second in range(job.offset_s, cycle, job.interval_s):
            starts.setdefault(second, []).append(job.key)
    return sorted((second, tuple(keys)) for second, keys in starts.items() if len(keys) > 1)


def _collisions(jobs: list[JobSpec]) -> list[str]:
    clashing = sorted({keys for _, keys in find_collisions(jobs)})
    return [
        f"jobs: {' and '.join(keys)} start in the same second "
        "(set allow_offset_collisions = true to accept this)"
        for keys in clashing
    ]


def load_spec(path: Path) -> Spec:
    """Read and validate the spec, or raise SpecError listing every problem."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SpecError(source, [f"cannot read the file: {error.strerror or error}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SpecError(source, ["the file is not UTF-8 text"]) from None
    except tomllib.TOMLDecodeError as error:
        raise SpecError(source, [f"not valid TOML: {error}"]) from None
    return parse_spec(data, source)


def parse_spec(data: dict[str, object], source: str = "spec") -> Spec:
    try:
        return Spec.model_validate(data)
    except ValidationError as error:
        raise SpecError(source, [_describe(item) for item in error.errors()]) from None


def _describe(item: object) -> str:
    assert isinstance(item, dict)
    path = ""
    for part in item.get("loc", ()):
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    message = str(item.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if item.get("type") == "extra_forbidden":
        message = "unknown key (check its spelling)"
    elif item.get("type") == "missing":
        message = "is required"
    return f"{path or '(top level)'}: {message}"
