"""`/stagger analysis <env> [window]`: the runbook's before/after comparison — the current
phase (or the window given) against the env's baseline phase, KPI by KPI, and job by job
from the database."""

from __future__ import annotations

from datetime import timedelta

from bot.baselines import Baselines
from bot.blocks import format_value
from bot.context import BotContext
from bot.db_source import DatabaseUnavailable, JobStats, db_kpis
from bot.errors import UsageError
from bot.kpi_report import KpiReport, measure, parse_window
from bot.replies import Invocation, Reply
from bot.thresholds import change_pct
from bot.timeline import Timeline
from commands.parsing import require_env

NAME = "analysis"
USAGE = "analysis <env> [window]"
SUMMARY = "Before/after: the current phase (or a window) against the baseline, per KPI and per job."


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


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 2:
        raise UsageError(f"Unexpected `{words[2]}`.", NAME)
    env = require_env(context.spec, words[0] if words else None, NAME)
    phase = Timeline(context.store).last_of(env)
    if len(words) > 1:
        window = parse_window(words[1])
    elif phase is not None and phase.ended_at is None:
        window = max(context.clock.now() - phase.started_at, timedelta(minutes=1))
    else:
        window = parse_window("24h")
    baseline = Baselines(context.store).latest(env)
    if baseline is None:
        return Reply(
            text=f"No baseline for {env} yet: `/stagger baseline capture {env}` first.", ok=False
        )
    channel = invocation.channel or context.spec.channel

    def analyse() -> None:
        report = measure(context, env, window)
        since, until = baseline.window_start, baseline.window_end
        text = (
            f"*Analysis for {env}*: {report.start:%Y-%m-%d %H:%M}–{report.end:%H:%M} UTC "
            f"against the baseline of {since:%Y-%m-%d %H:%M}–{until:%Y-%m-%d %H:%M}\n"
            "```\n" + "\n".join(kpi_rows(report)) + "\n```"
        )
        dsn = context.database_url(env)
        if isinstance(dsn, str):
            text += f"\n_Per job: {dsn}._"
        else:
            try:
                spec = context.spec.database
                before = db_kpis(
                    dsn.get_secret_value(), spec, baseline.window_start, baseline.window_end
                )
                after = db_kpis(dsn.get_secret_value(), spec, report.start, report.end)
                text += "\n```\n" + "\n".join(job_rows(before.jobs, after.jobs)) + "\n```"
            except DatabaseUnavailable as error:
                text += f"\n_Per job: database unavailable: {error}_"
        context.poster.post(channel, text)

    return Reply(text=f"Analysing {env}…", followups=(analyse,))
