"""Every KPI the bot can measure, by name: from the app's logs, and from its
job-execution table. A KPI the spec names (`[kpis.*]`, a phase's `success`, a trigger)
must be one of these; adding a KPI starts here, then `bot.core.kpis` (log arithmetic)
or `bot.hosts.db_source` (SQL) computes it."""

from __future__ import annotations

# Job durations come from the job-execution table; for an env without one, from the
# durations its completed log lines carry.
DURATION_KPI_NAMES = ("job_duration_avg", "job_duration_p95")
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
    *DURATION_KPI_NAMES,
)
DB_KPI_NAMES = (*DURATION_KPI_NAMES, "db_metadata_errors", "db_max_overlap")
MEASURED_KPI_NAMES = tuple(dict.fromkeys(LOG_KPI_NAMES + DB_KPI_NAMES))
# Counts of events over a window. A relative condition on one compares events per hour
# of each window (windows differ: 6 h against a 24 h baseline), and only from MIN_EVENTS
# in the baseline window (a KPI's `min_events`); absolute ones (`<= 0`) judge the count.
COUNT_KPI_NAMES = (
    "job_starts",
    "job_completions",
    "job_failures",
    "lock_skips",
    "slow_queries",
    "collision_warnings",
    "offset_misses",
    "db_metadata_errors",
)
MIN_EVENTS = 10
