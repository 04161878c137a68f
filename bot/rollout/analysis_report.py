"""The runbook's before/after analysis (`sql/p1-analysis.sql` by hand, today): each KPI
now against the baseline window, and each job's runs, failures and average duration from
the database — posted as a message, or as a file where it is too long for one."""

from __future__ import annotations

from datetime import timedelta

from bot.core.kpi_report import KpiReport, format_value
from bot.core.thresholds import change_pct
from bot.hosts.db_source import DatabaseUnavailable, JobStats, db_kpis
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.store.baselines import Baseline

# Longer texts go up as a file: a Slack message shows about this much before folding.
MESSAGE_LIMIT = 3500


def _change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return "—"
    change = change_pct(now, before)
    return f"{change:+.1f}%" if abs(change) != float("inf") else "new"


def kpi_rows(report: KpiReport) -> list[str]:
    rows = [f"{'KPI':<22}{'baseline':>10}{'now':>10}{'change':>10}"]
    for name, m in report.measurements.items():
        change = _change(m.value, m.baseline)
        before, now = format_value(m.baseline), format_value(m.value)
        rows.append(f"{name[:21]:<22}{before:>10}{now:>10}{change:>10}")
    return rows


def _arrow(before: float | None, after: float | None) -> str:
    return f"{format_value(before)}→{format_value(after)}"


def job_rows(before: tuple[JobStats, ...], after: tuple[JobStats, ...]) -> list[str]:
    rows = [f"{'job':<26}{'runs':>11}{'failures':>11}{'avg ms':>18}{'change':>9}"]
    earlier = {job.job: job for job in before}
    for job in after:
        old = earlier.get(job.job)
        runs = _arrow(old.runs if old else None, job.runs)
        failures = _arrow(old.failures if old else None, job.failures)
        old_ms = old.avg_duration_ms if old else None
        duration = _arrow(old_ms, job.avg_duration_ms)
        change = _change(job.avg_duration_ms, old_ms)
        rows.append(f"{job.job[:25]:<26}{runs:>11}{failures:>11}{duration:>18}{change:>9}")
    return rows


def analysis_text(context: BotContext, env: str, window: timedelta, baseline: Baseline) -> str:
    report = measure(context, env, window)
    since, until = baseline.window_start, baseline.window_end
    text = (
        f"*Analysis for {env}*: {report.start:%Y-%m-%d %H:%M}–{report.end:%H:%M} UTC "
        f"against the baseline of {since:%Y-%m-%d %H:%M}–{until:%Y-%m-%d %H:%M}\n"
        "```\n" + "\n".join(kpi_rows(report)) + "\n```"
    )
    dsn = context.database_url(env)
    if isinstance(dsn, str):
        return text + f"\n_Per job: {dsn}._"
    try:
        spec = context.spec.database
        before = db_kpis(dsn.get_secret_value(), spec, since, until)
        after = db_kpis(dsn.get_secret_value(), spec, report.start, report.end)
    except DatabaseUnavailable as error:
        return text + f"\n_Per job: database unavailable: {error}_"
    return text + "\n```\n" + "\n".join(job_rows(before.jobs, after.jobs)) + "\n```"


def post_analysis(
    context: BotContext,
    env: str,
    window: timedelta,
    baseline: Baseline,
    channel: str,
    name: str,
    heading: str = "",
) -> None:
    text = (heading + "\n" if heading else "") + analysis_text(context, env, window, baseline)
    if len(text) <= MESSAGE_LIMIT:
        context.poster.post(channel, text)
        return
    first_line = text.splitlines()[0]
    plain = text.replace("```", "").replace("*", "")
    if not context.poster.upload(
        channel, plain.encode("utf-8"), f"{name}.txt", first_line, comment=first_line
    ):
        context.poster.post(channel, text[: MESSAGE_LIMIT - 40] + "\n_(cut: the upload failed)_")
