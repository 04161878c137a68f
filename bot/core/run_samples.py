"""Per-run job durations: what the judge compares, the current phase's runs against the
baseline phase's. One `RunDuration` per completed run (from the app's job table); the
samples of a window are each job's durations, with where they came from and, when the
database could not be read, why they are only what the store kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RunDuration:
    """One completed run: its job, when it started (aware), and how long it took."""

    job: str
    started_at: datetime
    duration_ms: float
    # Among runs of the job that started at the same moment (several hosts): which one.
    ordinal: int = 0


@dataclass(frozen=True)
class DurationSamples:
    """A window's run durations by job name, in the order the runs started (the log's:
    in the order they completed). `error`: why the database was not read (the samples
    are then what the store kept of the window), None when it was."""

    by_job: dict[str, tuple[float, ...]]
    source: str  # "database" or "log"
    error: str | None = None

    @property
    def count(self) -> int:
        """How many runs, over every job."""
        return sum(len(durations) for durations in self.by_job.values())
