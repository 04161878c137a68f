"""The judge's samples of a window: each completed run's duration. For an env whose spec
names a database they come from its job table, kept in the store as they are read, and
are then read back from the store: a window the app's table has since lost is still
judged from what was kept, and an unreachable database is named in `error`. For an env
without one, they are the durations its log lines gave. Hosts are not scanned here: the
caller has measured the env already."""

from __future__ import annotations

from datetime import datetime

from bot.core.run_samples import DurationSamples
from bot.hosts.db_source import DatabaseUnavailable, db_durations
from bot.rollout.context import BotContext
from bot.store.event_log import EventLog
from bot.store.run_durations import RunDurations

DATABASE, LOG = "database", "log"


def duration_samples(
    context: BotContext, env: str, start: datetime, end: datetime
) -> DurationSamples:
    if context.spec.environments[env].database_url_env is None:
        return _samples(EventLog(context.store).durations(env, start, end), LOG, None)
    kept = RunDurations(context.store)
    if not context.reads_databases():  # a replay: the runs the store kept, as recorded
        return _samples(kept.between(env, start, end), DATABASE, None)
    error: str | None = None
    dsn = context.database_url(env)
    if isinstance(dsn, str):
        error = dsn
    else:
        try:
            rows = db_durations(dsn.get_secret_value(), context.spec.database, start, end)
        except DatabaseUnavailable as unavailable:
            error = f"database unavailable: {unavailable}"
        else:
            kept.save(env, DATABASE, rows)
    return _samples(kept.between(env, start, end), DATABASE, error)


def _samples(by_job: dict[str, list[float]], source: str, error: str | None) -> DurationSamples:
    return DurationSamples({job: tuple(runs) for job, runs in by_job.items()}, source, error)
