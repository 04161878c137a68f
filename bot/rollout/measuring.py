"""Measuring an environment: scan every host's log (in parallel), keep the events, and
judge the window's KPIs. A host that can't be read is `unavailable` with its reason; the
others are still reported."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from bot.core.errors import RemoteError
from bot.core.host_address import HostAddress
from bot.core.kpi_report import HostReport, KpiReport
from bot.core.kpis import log_kpis
from bot.core.log_lines import LogEvent
from bot.core.thresholds import Measurement, judge_all
from bot.hosts.db_source import DatabaseUnavailable, db_kpis
from bot.hosts.log_source import scan_batches
from bot.rollout.context import BotContext
from bot.store.baselines import Baselines, with_baseline
from bot.store.event_log import EventLog

logger = logging.getLogger(__name__)


def expected_offsets(context: BotContext, env: str) -> dict[str, int]:
    """Where each job should start now: its offset with the stagger on, :00 with it off."""
    state = context.store.env_state(env)
    return {
        job.name: 0
        if state.stagger_enabled is False or job.key in state.disabled_jobs
        else job.offset_s
        for job in context.spec.jobs
    }


def _scan_host(context: BotContext, env: str, host: HostAddress, events: EventLog) -> str | None:
    environment = context.spec.environments[env]
    path = environment.log_file_on(host)
    malformed = 0
    try:
        with context.transport.connect(host) as session:
            cursor = events.cursor(env, str(host), path)
            # Each batch is stored with the cursor after it: memory stays bounded, and a
            # scan that breaks off keeps what it read.
            for batch in scan_batches(session, str(host), path, context.spec.logs, cursor):
                if not events.append(
                    env, str(host), path, batch.events, batch.cursor, after=cursor
                ):
                    logger.info("%s: another scan stored these lines first", host)
                    break
                cursor = batch.cursor
                malformed += batch.malformed
    except RemoteError as error:
        return error.reason
    if malformed:
        logger.info("%s: %d malformed log line(s) skipped", host, malformed)
    return None


def measure(context: BotContext, env: str, window: timedelta) -> KpiReport:
    environment = context.spec.environments[env]
    events = EventLog(context.store)
    hosts = environment.host_addresses
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="kpi") as pool:
        errors = list(pool.map(lambda host: _scan_host(context, env, host, events), hosts))
    end = context.clock.now()
    start = end - window
    offsets = expected_offsets(context, env)
    reports: list[HostReport] = []
    answered: list[list[LogEvent]] = []
    for host, error in zip(hosts, errors, strict=True):
        if error is not None:
            reports.append(HostReport(str(host), error, {}))
            continue
        host_events = events.events(env, str(host), start, end)
        answered.append(host_events)
        reports.append(HostReport(str(host), None, log_kpis(host_events, offsets)))
    measurements = _combine(answered, offsets, reports)
    measurements.update(database_measurements(context, env, start, end))
    measurements = with_baseline(measurements, Baselines(context.store).latest(env))
    return KpiReport(
        env, start, end, tuple(reports), measurements,
        tuple(judge_all(context.spec.kpis, measurements)),
    )  # fmt: skip


def measure_since(context: BotContext, env: str, start: datetime) -> KpiReport:
    """The KPIs from `start` (a phase's beginning) until now; at least the last minute."""
    window = max(context.clock.now() - start, timedelta(minutes=1))
    return measure(context, env, window)


def database_measurements(
    context: BotContext, env: str, start: datetime, end: datetime
) -> dict[str, Measurement]:
    """job_duration_avg, db_metadata_errors and db_max_overlap, or why they are unavailable."""
    names = ("job_duration_avg", "db_metadata_errors", "db_max_overlap")
    dsn = context.database_url(env)
    if isinstance(dsn, str):
        return {name: Measurement(None, reason=dsn) for name in names}
    try:
        kpis = db_kpis(dsn.get_secret_value(), context.spec.database, start, end)
    except DatabaseUnavailable as error:
        return {name: Measurement(None, reason=f"database unavailable: {error}") for name in names}
    no_runs = "no completed job runs in the window"
    return {
        "job_duration_avg": Measurement(
            kpis.avg_duration_ms, reason="" if kpis.avg_duration_ms is not None else no_runs
        ),
        "db_metadata_errors": Measurement(float(kpis.metadata_errors)),
        "db_max_overlap": Measurement(float(kpis.max_overlap)),
    }


def _combine(
    answered: list[list[LogEvent]], offsets: dict[str, int], reports: list[HostReport]
) -> dict[str, Measurement]:
    down = [report.host for report in reports if report.error]
    if not answered:
        reason = "no host could be read: " + "; ".join(f"{r.host}: {r.error}" for r in reports)
        return {name: Measurement(None, reason=reason) for name in log_kpis([], offsets)}
    combined = log_kpis(sorted((e for h in answered for e in h), key=lambda e: e.at), offsets)
    # Each host runs its own jobs: concurrency is per host, not summed across hosts.
    combined["max_concurrent_jobs"] = Measurement(
        max(r.measurements["max_concurrent_jobs"].value or 0.0 for r in reports if not r.error)
    )
    if down:
        note = "partial: " + ", ".join(down) + " unavailable"
        combined = {
            name: Measurement(m.value, m.baseline, m.reason or note) for name, m in combined.items()
        }
    return combined
