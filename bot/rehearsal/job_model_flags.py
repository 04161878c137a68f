"""What the simulated runner reads from its env file when it (re)starts, and what it logs.

As in the runbook's backend: `JOB_STAGGER_ENABLED=true` puts every job at its offset,
`JOB_STAGGER_<KEY>=0` keeps one job at :00, and the runner logs `Job stagger enabled` or
`disabled` on start. A flag written but not reloaded changes nothing. Standard library
only: the reload command imports this in a fresh process.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.envfile import read_env_value


@dataclass(frozen=True)
class SimJob:
    key: str
    name: str
    interval_s: int
    offset_s: int


@dataclass(frozen=True)
class FlagNames:
    """The spec's [flag] section, as far as the runner needs it."""

    name: str = "JOB_STAGGER_ENABLED"
    job_prefix: str = "JOB_STAGGER_"
    enabled_line: str = "Job stagger enabled"
    disabled_line: str = "Job stagger disabled"


@dataclass(frozen=True)
class RunnerFlags:
    staggered: bool = False
    unstaggered_keys: frozenset[str] = frozenset()

    def staggered_job(self, job: SimJob) -> bool:
        return self.staggered and job.key not in self.unstaggered_keys

    def start_second(self, job: SimJob) -> int:
        """The second of its interval at which `job` starts."""
        return job.offset_s if self.staggered_job(job) else 0

    def to_json(self) -> str:
        return json.dumps(
            {"staggered": self.staggered, "unstaggered_keys": sorted(self.unstaggered_keys)}
        )

    @classmethod
    def from_json(cls, text: str) -> RunnerFlags:
        data = json.loads(text)
        return cls(bool(data["staggered"]), frozenset(str(k) for k in data["unstaggered_keys"]))


def read_flags(env_file: bytes, jobs: Sequence[SimJob], names: FlagNames) -> RunnerFlags:
    enabled = (read_env_value(env_file, names.name) or "").strip().lower() == "true"
    held_back = frozenset(
        job.key
        for job in jobs
        if (read_env_value(env_file, names.job_prefix + job.key) or "").strip() == "0"
    )
    return RunnerFlags(enabled, held_back)


def offset_collisions(jobs: Sequence[SimJob], flags: RunnerFlags) -> list[tuple[SimJob, SimJob]]:
    """Pairs of staggered jobs that start in the same second at some point of the cycle."""
    staggered = [job for job in jobs if flags.staggered_job(job)]
    return [
        (first, second)
        for index, first in enumerate(staggered)
        for second in staggered[index + 1 :]
        if (first.offset_s - second.offset_s) % math.gcd(first.interval_s, second.interval_s) == 0
    ]


def startup_messages(jobs: Sequence[SimJob], flags: RunnerFlags, names: FlagNames) -> list[str]:
    """The lines (without time stamp) the runner logs when it starts with `flags`."""
    held_back = [job.name for job in jobs if job.key in flags.unstaggered_keys]
    if flags.staggered:
        detail = f" ({', '.join(held_back)} at :00)" if held_back else ""
        messages = [f"info: ▶️ {names.enabled_line}{detail}"]
    else:
        messages = [f"info: ⏸️ {names.disabled_line}"]
    messages.extend(
        f"warn: ⚠️ Offset collision: {first.name} and {second.name} can start in the same second"
        for first, second in offset_collisions(jobs, flags)
    )
    return messages
