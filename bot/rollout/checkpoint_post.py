"""Posting one KPI checkpoint for an env: the table, then the chart in its thread, and
the record of what it found (the success declaration reads those records). In a phase
the chart covers the phase so far against its baseline phase; outside one, the window
the checkpoint measured."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.clock import describe_duration
from bot.core.kpi_report import KpiReport, window_text
from bot.core.kpi_series import HOUR, hourly_points, series
from bot.core.log_lines import LogEvent
from bot.core.phase_record import PhaseRecord
from bot.core.phases import gates_text
from bot.core.thresholds import Condition, gating
from bot.render.audit_head import with_audit_head
from bot.render.charts import checkpoint_chart
from bot.render.checkpoint_text import checkpoint_text, phase_line
from bot.rollout.context import BotContext
from bot.rollout.judging import judge_phase
from bot.rollout.measuring import measure, stored_report
from bot.store.checkpoints import Checkpoints
from bot.store.event_log import EventLog
from bot.store.kpi_history import EventsOf, KpiHistory
from bot.store.timeline import Timeline

logger = logging.getLogger(__name__)


def post_checkpoint(
    context: BotContext, env: str, phase: PhaseRecord | None, slot: datetime, span: timedelta
) -> str | None:
    """Measure the last `span` (never before the phase began) and post; the message ts."""
    now = context.clock.now()
    window = min(span, now - phase.started_at) if phase else span
    report = measure(context, env, max(window, timedelta(minutes=1)))
    checkpoints = Checkpoints(context.store)
    previous = checkpoints.latest(env)
    same_phase = previous is not None and phase is not None and previous.phase_id == phase.id
    where = (
        phase_line(context.spec.phase(phase.phase), phase.phase, phase.elapsed(now))
        if phase
        else "no phase running"
    )
    text = checkpoint_text(
        context.spec,
        report,
        previous.values if previous and same_phase else None,
        where,
        previous.window if previous and same_phase else None,
    )
    if phase is not None:
        text += _criteria_section(context, env, phase, now, [h.error for h in report.hosts])
    text = with_audit_head(text, context.audit.head())
    ts = context.poster.post(context.spec.channel, text)
    values = {n: m.value for n, m in report.measurements.items() if m.value is not None}
    # A dry-run KPI's verdict is left out: it holds no checkpoint (nor the success) back.
    verdicts = {j.kpi: j.verdict.value for j in gating(report.judgements)}
    measured = (report.start, report.end)
    checkpoints.add(env, phase.id if phase else 0, slot, values, verdicts, ts, measured)
    if phase is not None:
        _post_chart(context, env, phase, ts)
    else:
        _post_window_chart(context, env, report, ts)
    return ts


def _criteria_section(
    context: BotContext, env: str, phase: PhaseRecord, now: datetime, errors: list[str | None]
) -> str:
    """The phase's success criteria as the judge sees them since the phase began (from
    the events just scanned: no second scan), each inconclusive one with how long it may
    take to settle."""
    spec = context.spec.phase(phase.phase)
    if spec is None or not spec.success:
        return ""
    # The hosts the scan just failed to read stay unread here: the judge sees a partial
    # fleet as one.
    since_start = stored_report(
        context, env, phase.started_at, now, errors,
        per_host="max_concurrent_jobs" in spec.success,
    )  # fmt: skip
    gates = judge_phase(context, spec, phase, since_start).gates
    return f"\n*Success criteria* (since {phase.phase} began):\n" + gates_text(gates)


def _events_of(context: BotContext, env: str) -> EventsOf:
    log = EventLog(context.store)
    hosts = context.spec.environments[env].host_addresses

    def events(start: datetime, end: datetime) -> list[list[LogEvent]]:
        return [log.events(env, str(host), start, end) for host in hosts]

    return events


def _baseline_phase(context: BotContext, env: str, before: PhaseRecord) -> PhaseRecord | None:
    """The latest finished phase of `env` with the stagger off, before `before`."""
    for record in reversed(Timeline(context.store).history(env)):
        spec = context.spec.phase(record.phase)
        if record.id < before.id and record.ended_at and spec is not None and not spec.stagger:
            return record
    return None


def _post_chart(context: BotContext, env: str, phase: PhaseRecord, thread: str | None) -> None:
    now = context.clock.now()
    history = KpiHistory(context.store)
    points = history.extend(phase.id, phase.started_at, now, _events_of(context, env))
    if not points:
        return
    baseline = _baseline_phase(context, env, phase)
    base_points = (
        history.extend(
            baseline.id, baseline.started_at, baseline.ended_at, _events_of(context, env)
        )
        if baseline is not None and baseline.ended_at is not None
        else []
    )
    hours = len(points)
    label = f"baseline ({baseline.phase})" if baseline else "baseline"
    png = checkpoint_chart(
        f"{env} — {phase.phase}",
        (series(phase.phase, points, "pool_avg"), series(label, base_points[:hours], "pool_avg")),
        (series(phase.phase, points, "busiest"), series(label, base_points[:hours], "busiest")),
        pool_alert=_pool_alert(context),
    )
    if not context.poster.upload(
        context.spec.channel,
        png,
        f"checkpoint-{env}-{now:%Y%m%dT%H%M}.png",
        f"{env}: pool utilization and concurrent jobs, {phase.phase}",
        thread_ts=thread,
    ):
        logger.warning("the checkpoint chart for %s could not be uploaded", env)


def _pool_alert(context: BotContext) -> float | None:
    alert = context.spec.kpis.get("pool_util_avg")
    return _threshold(alert.alert) if alert else None


def _post_window_chart(
    context: BotContext, env: str, report: KpiReport, thread: str | None
) -> None:
    """Outside a phase: the window measured, hour by hour (the last hour may be partial)."""
    hours = math.ceil((report.end - report.start) / HOUR)
    hosts = _events_of(context, env)(report.start, report.end)
    points = hourly_points(hosts, report.start, 0, hours - 1)
    zone = context.spec.timezone
    window = window_text(report.start, report.end, zone)
    label = f"last {describe_duration(report.end - report.start)}"
    nothing = series("baseline", [], "pool_avg")
    png = checkpoint_chart(
        f"{env} — no phase running",
        (series(label, points, "pool_avg"), nothing),
        (series(label, points, "busiest"), nothing),
        pool_alert=_pool_alert(context),
        x_label=f"hours since {report.start.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}",
    )
    if not context.poster.upload(
        context.spec.channel,
        png,
        f"checkpoint-{env}-{report.end:%Y%m%dT%H%M}.png",
        f"{env}: pool utilization and concurrent jobs per hour, {window}",
        thread_ts=thread,
    ):
        logger.warning("the checkpoint chart for %s could not be uploaded", env)


def _threshold(condition: str) -> float | None:
    """The line to draw for an absolute `> N` alert; none for a relative one."""
    parsed = Condition.parse(condition)
    return None if parsed.relative or parsed.comparison.startswith("<") else parsed.threshold
