"""What the app's job-execution table says about a window: each job's runs, failures and
durations, and the fleet's overlap and metadata errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobStats:
    job: str
    runs: int
    failures: int
    avg_duration_ms: float | None
    p95_duration_ms: float | None


@dataclass(frozen=True)
class DbKpis:
    jobs: tuple[JobStats, ...]
    runs: int
    avg_duration_ms: float | None
    max_overlap: int
    metadata_errors: int
    p95_duration_ms: float | None = None
