"""Measuring an environment: scan every host's log (in parallel), keep the events, and
judge the window's KPIs. A host that can't be read is `unavailable` with its reason; the
others are still reported. Counts carry their window's hours, so they are compared with
the baseline per hour; job durations come from the database, or from the log for an env
that names none."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

from bot.core.baseline import with_baseline
from bot.core.errors import RemoteError
from bot.core.host_address import HostAddress
from bot.core.kpi_catalog import COUNT_KPI_NAMES, DB_KPI_NAMES, DURATION_KPI_NAMES, MIN_EVENTS
from bot.core.kpi_report import HostReport, KpiReport, window_hours
from bot.core.kpis import log_kpis
from bot.core.log_lines import LogEvent
from bot.core.thresholds import Measurement, judge_all
from bot.hosts.db_source import DatabaseUnavailable, db_kpis
from bot.hosts.log_source import scan_batches
from bot.rollout.context import BotContext
from bot.store.baselines import Baselines
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
            # Where the file's last scan ended in time: a local time in the hour a zone
            # repeats is read after it. A file never scanned starts from scratch.
            after = None if cursor is None else events.latest(env, str(host))
            # Each batch is stored with the cursor after it: memory stays bounded, and a
            # scan that breaks off keeps what it read.
            scan = scan_batches(session, str(host), path, context.spec.logs, cursor, after=after)
            for batch in scan:
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


def measure(
    context: BotContext, env: str, window: timedelta, hosts: Sequence[HostAddress] | None = None
) -> KpiReport:
    """The env's KPIs over the last `window`, on every host or on `hosts` of it (a soaking
    canary tier)."""
    environment = context.spec.environments[env]
    events = EventLog(context.store)
    hosts = list(environment.host_addresses if hosts is None else hosts)
    with ThreadPoolExecutor(max_workers=len(hosts), thread_name_prefix="kpi") as pool:
        errors = list(pool.map(lambda host: _scan_host(context, env, host, events), hosts))
    end = context.clock.now()
    return stored_report(context, env, end - window, end, errors, hosts=hosts)


def stored_report(
    context: BotContext,
    env: str,
    start: datetime,
    end: datetime,
    errors: list[str | None] | None = None,
    *,
    per_host: bool = True,
    hosts: Sequence[HostAddress] | None = None,
) -> KpiReport:
    """The KPIs of [start, end) from the events the store holds (no scan): `errors`, each
    host's scan error (None where it answered), as `measure` found them. Without
    `per_host`, the hosts' own KPIs, and so the fleet's concurrency (its busiest host's),
    are left out: a week of events read back at every checkpoint costs half as much."""
    environment = context.spec.environments[env]
    events = EventLog(context.store)
    hosts = list(environment.host_addresses if hosts is None else hosts)
    errors = errors if errors is not None else [None] * len(hosts)
    answering = [str(host) for host, error in zip(hosts, errors, strict=True) if error is None]
    rated_from = _covered_from(events, env, answering, start, end)
    offsets = expected_offsets(context, env)
    reports: list[HostReport] = []
    answered: list[list[LogEvent]] = []
    for host, error in zip(hosts, errors, strict=True):
        if error is not None:
            reports.append(HostReport(str(host), error, {}))
            continue
        host_events = events.events(env, str(host), start, end)
        answered.append(host_events)
        own = log_kpis(host_events, offsets) if per_host else {}
        reports.append(HostReport(str(host), None, own))
    measurements = _combine(answered, offsets, reports)
    measurements.update(database_measurements(context, env, start, end))
    measurements = _as_counts(context, measurements, window_hours(rated_from, end))
    baseline = Baselines(context.store).latest(env)
    measurements = with_baseline(measurements, baseline)
    return KpiReport(
        env, start, end, tuple(reports), measurements,
        tuple(judge_all(context.spec.kpis, measurements)),
        baseline.window if baseline else None, rated_from,
    )  # fmt: skip


def _covered_from(
    events: EventLog, env: str, hosts: list[str], start: datetime, end: datetime
) -> datetime:
    """Where the window starts for rates: at its start, or where the hosts' logs begin
    (their first stored event) if that is well inside it (a fresh install, a rotated
    log), so a count over 3 hours of log is not divided by the 24 asked for. A first
    event in the window's first tenth is taken as covering it: events are sparse, and
    the first comes a little after the log began."""
    firsts = [first for host in hosts if (first := events.earliest(env, host)) is not None]
    if not firsts:
        return start
    covered = min(firsts)
    return covered if start + (end - start) / 10 < covered < end else start


def _as_counts(
    context: BotContext, measurements: dict[str, Measurement], hours: float
) -> dict[str, Measurement]:
    """Each count with its window's hours and the events its baseline needs."""
    kpis = context.spec.kpis
    return {
        name: replace(
            measurement,
            hours=hours,
            min_events=kpis[name].min_events if name in kpis else MIN_EVENTS,
        )
        if name in COUNT_KPI_NAMES
        else measurement
        for name, measurement in measurements.items()
    }


def measure_since(
    context: BotContext, env: str, start: datetime, hosts: Sequence[HostAddress] | None = None
) -> KpiReport:
    """The KPIs from `start` (a phase's beginning) until now; at least the last minute."""
    window = max(context.clock.now() - start, timedelta(minutes=1))
    return measure(context, env, window, hosts)


def database_measurements(
    context: BotContext, env: str, start: datetime, end: datetime
) -> dict[str, Measurement]:
    """The database KPIs, or why they are unavailable. For an env whose spec names no
    database the job durations are left out: the log's stand."""
    named = context.spec.environments[env].database_url_env is not None
    names = DB_KPI_NAMES if named else tuple(n for n in DB_KPI_NAMES if n not in DURATION_KPI_NAMES)
    dsn = context.database_url(env)
    if isinstance(dsn, str):
        return {name: Measurement(None, reason=dsn) for name in names}
    try:
        kpis = db_kpis(dsn.get_secret_value(), context.spec.database, start, end)
    except DatabaseUnavailable as error:
        return {name: Measurement(None, reason=f"database unavailable: {error}") for name in names}
    no_runs = "no completed job runs in the window"

    def duration(value: float | None) -> Measurement:
        return Measurement(value, reason="" if value is not None else no_runs, source="database")

    return {
        "job_duration_avg": duration(kpis.avg_duration_ms),
        "job_duration_p95": duration(kpis.p95_duration_ms),
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
    # The fleet's counts and levels need no time order; its concurrency is per host.
    combined = log_kpis([e for h in answered for e in h], offsets, concurrency=False)
    # Each host runs its own jobs: concurrency is per host, not summed across hosts.
    busiest = [r.measurements.get("max_concurrent_jobs") for r in reports if not r.error]
    combined["max_concurrent_jobs"] = (
        Measurement(max(m.value or 0.0 for m in busiest if m is not None))
        if all(m is not None for m in busiest)
        else Measurement(None, reason="not measured per host here")
    )
    if down:
        note = "partial: " + ", ".join(down) + " unavailable"
        combined = {name: replace(m, reason=m.reason or note) for name, m in combined.items()}
    return combined
