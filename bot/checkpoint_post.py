"""Posting one KPI checkpoint for an env: the table, then the chart in its thread, and
the record of what it found (the success declaration reads those records)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.baselines import Baselines
from bot.charts import checkpoint_chart
from bot.checkpoint_text import checkpoint_text, phase_line
from bot.checkpoints import Checkpoints
from bot.context import BotContext
from bot.event_log import EventLog
from bot.kpi_report import measure
from bot.kpi_series import Series, concurrency_series, pool_series
from bot.log_lines import LogEvent
from bot.thresholds import Condition
from bot.timeline import PhaseRecord

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
        context.spec, report, previous.values if previous and same_phase else None, where
    )
    ts = context.poster.post(context.spec.channel, text)
    values = {n: m.value for n, m in report.measurements.items() if m.value is not None}
    verdicts = {j.kpi: j.verdict.value for j in report.judgements}
    checkpoints.add(env, phase.id if phase else 0, slot, values, verdicts, ts)
    if phase is not None:
        _post_chart(context, env, phase, ts)
    return ts


def _host_events(
    context: BotContext, env: str, start: datetime, end: datetime
) -> list[list[LogEvent]]:
    events = EventLog(context.store)
    return [
        events.events(env, str(host), start, end)
        for host in context.spec.environments[env].host_addresses
    ]


def _post_chart(context: BotContext, env: str, phase: PhaseRecord, thread: str | None) -> None:
    now = context.clock.now()
    hosts = _host_events(context, env, phase.started_at, now)
    pool_now = pool_series(phase.phase, [e for h in hosts for e in h], phase.started_at, now)
    busy_now = concurrency_series(phase.phase, hosts, phase.started_at, now)
    pool_base: Series | None = None
    busy_base: Series | None = None
    baseline = Baselines(context.store).latest(env)
    if baseline is not None:
        start, end = baseline.window_start, baseline.window_end
        end = min(end, start + (now - phase.started_at))  # the same hours of the baseline
        base_hosts = _host_events(context, env, start, end)
        label = f"baseline ({baseline.captured_by})"
        pool_base = pool_series(label, [e for h in base_hosts for e in h], start, end)
        busy_base = concurrency_series(label, base_hosts, start, end)
    if not pool_now.hours and not busy_now.hours:
        return
    alert = context.spec.kpis.get("pool_util_avg")
    png = checkpoint_chart(
        f"{env} — {phase.phase}",
        (pool_now, pool_base),
        (busy_now, busy_base),
        pool_alert=_threshold(alert.alert) if alert else None,
    )
    if not context.poster.upload(
        context.spec.channel,
        png,
        f"checkpoint-{env}-{now:%Y%m%dT%H%M}.png",
        f"{env}: pool utilization and concurrent jobs, {phase.phase}",
        thread_ts=thread,
    ):
        logger.warning("the checkpoint chart for %s could not be uploaded", env)


def _threshold(condition: str) -> float | None:
    """The line to draw for an absolute `> N` alert; none for a relative one."""
    parsed = Condition.parse(condition)
    return None if parsed.relative or parsed.comparison.startswith("<") else parsed.threshold
