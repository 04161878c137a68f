"""The runbook's before/after analysis (`sql/p1-analysis.sql` by hand, today): each KPI
now against the baseline window, and each job's runs, failures and average duration from
the database — posted as a message, or as a file where it is too long for one. The two
windows differ in length (a day against a 6.5 h baseline): counts are compared per hour
of each, and both windows are named."""

from __future__ import annotations

from datetime import timedelta

from bot.core.baseline import Baseline
from bot.core.kpi_report import window_text
from bot.hosts.db_source import DatabaseUnavailable, db_kpis
from bot.render.analysis_text import job_rows, kpi_rows
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure

# Longer texts go up as a file: a Slack message shows about this much before folding.
MESSAGE_LIMIT = 3500


def analysis_text(context: BotContext, env: str, window: timedelta, baseline: Baseline) -> str:
    report = measure(context, env, window)
    since, until = baseline.window_start, baseline.window_end
    zone = context.spec.timezone
    text = (
        f"*Analysis for {env}*: {window_text(report.start, report.end, zone)} "
        f"against the baseline of {window_text(since, until, zone)}; counts per hour of "
        "each window\n```\n" + "\n".join(kpi_rows(report)) + "\n```"
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
    windows = ((since, until), (report.start, report.end))
    return text + "\n```\n" + "\n".join(job_rows(before.jobs, after.jobs, windows)) + "\n```"


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
