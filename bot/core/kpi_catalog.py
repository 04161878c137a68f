"""Every KPI the bot can measure, by name: from the app's logs, and from its
job-execution table. A KPI the spec names (`[kpis.*]`, a phase's `success`, a trigger)
must be one of these; adding a KPI starts here, then `bot.core.kpis` (log arithmetic)
or `bot.hosts.db_source` (SQL) computes it."""

from __future__ import annotations

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
