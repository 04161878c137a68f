"""The rollout spec: a TOML file that encodes the runbook, validated at start.

Every problem is reported with its key path (`environments.prod.approvals.required: ...`),
so `stagger-bot check-config` can list them all at once.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection
from functools import reduce
from pathlib import Path

from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.errors import SpecError
from bot.core.spec_fields import (
    ENV_NAME,
    SLACK_CHANNEL_ID,
    SpecSection,
    UserId,
    did_you_mean,
)
from bot.core.spec_fleet import (
    DatabaseSpec,
    EnvironmentSpec,
    FlagSpec,
    JobSpec,
    LogSpec,
    SshSpec,
    TimeZoneName,
)
from bot.core.spec_problems import SEPARATOR, describe, item_path
from bot.core.spec_rollout import (
    AlertSpec,
    CheckpointSpec,
    ExecutionSpec,
    KpiSpec,
    PhaseSpec,
    TriggerSpec,
    ValidationSpec,
)


class Spec(SpecSection):
    channel: str = Field(pattern=SLACK_CHANNEL_ID.pattern)
    operators: list[UserId] = []
    timezone: TimeZoneName = "UTC"
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
    execution: ExecutionSpec = ExecutionSpec()
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
                problems.append(
                    f"{item_path('phases', index, phase.name)}.env: unknown environment "
                    f"{phase.env!r}{_known(phase.env, self.environments)}"
                )
        for index, trigger in enumerate(self.rollback_triggers):
            if trigger.kpi not in self.kpis:
                problems.append(
                    f"{item_path('rollback_triggers', index, trigger.name)}.kpi: unknown KPI "
                    f"{trigger.kpi!r}{_known(trigger.kpi, self.kpis)}"
                )
        if problems:
            raise ValueError(SEPARATOR.join(problems))
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


def _known(name: str, known: Collection[str]) -> str:
    return did_you_mean(name, known) or f" (known: {', '.join(known) or 'none'})"


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
        raise SpecError(source, describe(error.errors(), data, Spec)) from None
