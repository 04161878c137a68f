"""The spec's fleet: SSH access, the flag and its confirmation lines, the app's log and
job table, the jobs and their offsets, and each environment's hosts and approval policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.core.host_address import HostAddress
from bot.core.spec_fields import (
    ENV_VARIABLE,
    FLAG_PREFIX,
    JOB_KEY,
    SQL_COLUMN,
    SQL_TABLE,
    SpecSection,
    UserId,
    did_you_mean,
)
from bot.core.tiers import ALL_HOSTS, Tier, max_parallel_problem, plan_tiers


class SshSpec(SpecSection):
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


class FlagSpec(SpecSection):
    """The feature flag the runbook flips, and the log lines that prove it took."""

    name: str = Field(default="JOB_STAGGER_ENABLED", pattern=JOB_KEY.pattern)
    job_prefix: str = Field(default="JOB_STAGGER_", pattern=FLAG_PREFIX.pattern)
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


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = did_you_mean(name, available_timezones()) or (
            " (an IANA name like 'UTC' or 'Europe/London')"
        )
        raise ValueError(f"{name!r} is not a time zone{hint}") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


def _toml(value: object) -> str:
    """`value` as the spec wrote it: `true`, `"5"`, `1`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if not isinstance(value, str) else f'"{value}"'


class LogSpec(SpecSection):
    """How the app's log reads: line format, the zone of timestamps written without an
    offset, and the runbook's LOG PATTERNS (fixed strings)."""

    format: Literal["text", "json"] = "text"
    timezone: TimeZoneName = "UTC"
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
            if name not in ("format", "timezone", "keep_events_days")
        }


class DatabaseSpec(SpecSection):
    """The app's job-execution table, read for the database KPIs (read-only)."""

    table: str = Field(default="job_execution_logs", pattern=SQL_TABLE.pattern)
    job_name: str = Field(default="job_name", pattern=SQL_COLUMN.pattern)
    started_at: str = Field(default="started_at", pattern=SQL_COLUMN.pattern)
    completed_at: str = Field(default="completed_at", pattern=SQL_COLUMN.pattern)
    status: str = Field(default="status", pattern=SQL_COLUMN.pattern)
    error_message: str = Field(default="error_message", pattern=SQL_COLUMN.pattern)
    failed_status: str = "failed"
    connect_timeout_s: int = Field(default=5, ge=1, le=60)
    statement_timeout_ms: int = Field(default=10000, ge=100, le=600000)


class JobSpec(SpecSection):
    key: str = Field(pattern=JOB_KEY.pattern)
    name: str = Field(min_length=1)
    interval_s: int = Field(gt=0, le=86400)
    offset_s: int = Field(ge=0, lt=60)


class ApprovalPolicy(SpecSection):
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


class EnvironmentSpec(SpecSection):
    hosts: list[str] = Field(min_length=1)
    app_dir: str = Field(min_length=1)
    env_file: str = ".env"
    log_file: str = "logs/combined.log"
    reload_command: str = Field(default="pm2 reload ecosystem.config.js", min_length=1)
    database_url_env: str | None = Field(default=None, pattern=ENV_VARIABLE.pattern)
    approvals: ApprovalPolicy
    # Roll back at once (and say why) when a validation check or a trigger fails,
    # instead of proposing it to the approvers.
    auto_rollback: bool = False
    # Host tiers (README: "Canary hosts and batches"): the canary hosts first, a soak while
    # the validation checks watch them, then the rest at most `max_parallel` at a time.
    canary: list[str] = []
    max_parallel: int | str = "100%"
    canary_soak_min: int = Field(default=5, ge=0, le=24 * 60)
    rollback_in_tiers: bool = False

    @field_validator("hosts")
    @classmethod
    def _hosts_parse(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            HostAddress.parse(host)
        if len(set(hosts)) != len(hosts):
            raise ValueError("lists a host twice")
        return hosts

    @field_validator("canary")
    @classmethod
    def _canary_among_hosts(cls, canary: list[str], info: ValidationInfo) -> list[str]:
        hosts = info.data.get("hosts")
        if hosts is None:
            return canary  # the hosts' own error says what is wrong
        strangers = [host for host in canary if host not in hosts]
        if strangers:
            raise ValueError(
                ", ".join(repr(host) for host in strangers)
                + " is not one of the env's hosts (write it exactly as in `hosts`)"
            )
        if len(set(canary)) != len(canary):
            raise ValueError("lists a host twice")
        if canary and len(canary) == len(hosts):
            raise ValueError("names every host: leave at least one host for after the soak")
        return canary

    # Before pydantic's coercion: `true` would be 1 host, `"5"` 5 minutes, `1` or `"yes"`
    # true. TOML has numbers and booleans of its own; a key given the other is a mistake.
    @field_validator("max_parallel", mode="before")
    @classmethod
    def _max_parallel_no_bool(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError(f"{_toml(value)} is not a number of hosts (1 or more) nor a "
                             'percentage like "25%"')  # fmt: skip
        return value

    @field_validator("canary_soak_min", mode="before")
    @classmethod
    def _whole_minutes(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{_toml(value)} is not a number of minutes: write it unquoted, "
                             "like 5")  # fmt: skip
        return value

    @field_validator("rollback_in_tiers", mode="before")
    @classmethod
    def _true_or_false(cls, value: object) -> object:
        if not isinstance(value, bool):
            raise ValueError(f"{_toml(value)} is neither true nor false (unquoted)")
        return value

    @field_validator("max_parallel")
    @classmethod
    def _max_parallel(cls, value: int | str) -> int | str:
        problem = max_parallel_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip() if isinstance(value, str) else value

    @property
    def tiers(self) -> tuple[Tier, ...]:
        return plan_tiers(self.hosts, self.canary, self.max_parallel)

    def rollback_tiers(self) -> tuple[Tier, ...]:
        """A rollback goes to every host at once, unless the env wants it in tiers."""
        return self.tiers if self.rollback_in_tiers else (Tier(ALL_HOSTS, tuple(self.hosts)),)

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
