"""The rollout spec: a TOML file that encodes the runbook, validated at start.

Every problem is reported with its key path (`environments.prod.approvals.required: ...`),
so `stagger-bot check-config` can list them all at once.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from functools import reduce
from pathlib import Path

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.criteria import margin_problems
from bot.core.errors import SpecError
from bot.core.freeze import FreezeSpec, freeze_problems, unknown_env_problems
from bot.core.kpi_catalog import MEASURED_KPI_NAMES
from bot.core.spec_fields import (
    ENV_NAME,
    SLACK_CHANNEL_ID,
    SpecSection,
    UserId,
    nearest_or_known,
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
from bot.core.spec_problems import SEPARATOR, describe, key_path
from bot.core.spec_rollout import (
    AlertSpec,
    CheckpointSpec,
    ExecutionSpec,
    JudgeSpec,
    KpiSpec,
    PhaseSpec,
    TriggerSpec,
    ValidationSpec,
    unknown_kpi,
)

_BOOLEAN = TypeAdapter(bool)


class Spec(SpecSection):
    channel: str = Field(pattern=SLACK_CHANNEL_ID.pattern)
    operators: list[UserId] = []
    # May run `/stagger rollback <env> --now --reason TEXT` from Slack: no approval waited for.
    break_glass: list[UserId] = []
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
    judge: JudgeSpec = JudgeSpec()
    freeze: list[FreezeSpec] = []

    @field_validator("environments")
    @classmethod
    def _env_names(cls, environments: dict[str, EnvironmentSpec]) -> dict[str, EnvironmentSpec]:
        for name in environments:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not a valid environment name (a-z, 0-9, - and _)")
        return environments

    @model_validator(mode="after")
    def _cross_references(self) -> Spec:
        problems = cross_reference_problems(self.model_dump())
        problems += margin_problems(self.phases, self.rollback_triggers, self.kpis)
        problems += freeze_problems(self.freeze, self.timezone)
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


def cross_reference_problems(data: Mapping[str, object]) -> list[str]:
    """What one item of the spec says of others: keys and names listed once, offsets
    apart, each phase's env an environment, each KPI (a `[kpis.*]` table, a trigger's)
    one the bot measures. Read from the file's data as well as from a valid spec, so that
    a file with wrong fields has these listed along with them; what can't be read is
    left to the fields' problems."""
    problems: list[str] = []
    jobs = _tables(data.get("jobs"))
    if _listed_twice([job.get("key") for job in jobs]):
        problems.append("jobs: a job key is listed twice")
    if not _accepted(data.get("allow_offset_collisions", False)):
        problems.extend(_collisions(_valid_jobs(jobs)))
    phases = _tables(data.get("phases"))
    if _listed_twice([phase.get("name") for phase in phases]):
        problems.append("phases: a phase name is listed twice")
    environments = data.get("environments")
    if isinstance(environments, dict):
        for index, phase in enumerate(phases):
            env = phase.get("env")
            if isinstance(env, str) and env not in environments:
                problems.append(
                    f"{key_path(('phases', index, 'env'), data)}: unknown environment "
                    f"{env!r}{nearest_or_known(env, list(environments))}"
                )
        problems.extend(unknown_env_problems(_tables(data.get("freeze")), list(environments)))
    kpis = data.get("kpis")
    for name in kpis if isinstance(kpis, dict) else ():
        if name not in MEASURED_KPI_NAMES:
            problems.append(f"{key_path(('kpis', name), data)}: {unknown_kpi(name)}")
    for index, trigger in enumerate(_tables(data.get("rollback_triggers"))):
        kpi = trigger.get("kpi")
        if isinstance(kpi, str) and kpi not in MEASURED_KPI_NAMES:
            path = key_path(("rollback_triggers", index, "kpi"), data)
            problems.append(f"{path}: {unknown_kpi(kpi)}")
    return problems


def _tables(items: object) -> list[dict[str, object]]:
    """The tables of a list of tables, as far as it is one."""
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _listed_twice(values: list[object]) -> bool:
    named = [value for value in values if isinstance(value, str)]
    return len(set(named)) != len(named)


def _accepted(value: object) -> bool:
    """Whether the field reads as true, as the spec's own check reads it."""
    try:
        return _BOOLEAN.validate_python(value)
    except ValidationError:
        return False


def _valid_jobs(jobs: list[dict[str, object]]) -> list[JobSpec]:
    """Every job, or none while one of them is wrong: its offsets would mislead."""
    try:
        return [JobSpec.model_validate(job) for job in jobs]
    except ValidationError:
        return []


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
        problems = describe(error.errors(), data, Spec)
        # A wrong field stops the spec's own cross-reference check: list them all at once.
        problems += [p for p in cross_reference_problems(data) if p not in problems]
        raise SpecError(source, problems) from None
