"""`/stagger offsets [env]`: the distribution table, the collision check, and with an
env's database the predicted overlap from real durations."""

from __future__ import annotations

from datetime import timedelta

from bot.core.errors import UsageError
from bot.core.offsets import distribution_text, predicted_overlap
from bot.core.replies import Invocation, Reply
from bot.hosts.db_source import DatabaseUnavailable, db_kpis
from bot.rollout.context import BotContext
from commands.parsing import require_env

NAME = "offsets"
USAGE = "offsets [env]"
SUMMARY = "Each job's start offset, the collision check, and the overlap its durations predict."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    table = distribution_text(context.spec.jobs)
    if not words:
        return Reply(
            text=table + "\n_Give an environment to predict the overlap from its durations._"
        )
    env = require_env(context.spec, words[0], NAME)
    dsn = context.database_url(env)
    if isinstance(dsn, str):
        return Reply(text=table + f"\n_No predicted overlap: {dsn}._")
    channel = invocation.channel or context.spec.channel

    def predict() -> None:
        now = context.clock.now()
        try:
            kpis = db_kpis(
                dsn.get_secret_value(), context.spec.database, now - timedelta(hours=24), now
            )
        except DatabaseUnavailable as error:
            context.poster.post(
                channel, table + f"\n_No predicted overlap: database unavailable: {error}_"
            )
            return
        durations = {job.job: job.avg_duration_ms for job in kpis.jobs if job.avg_duration_ms}
        overlap = predicted_overlap(context.spec.jobs, durations)
        context.poster.post(
            channel,
            table + f"\n*Predicted overlap* (average durations of the last 24h in {env}): "
            f"at most {overlap} job(s) at once; measured in the same window: {kpis.max_overlap}.",
        )

    return Reply(text="Reading job durations…", followups=(predict,))
