"""`/stagger baseline capture <env> [window]`: keep the KPIs now as the env's baseline."""

from __future__ import annotations

from bot.core.errors import UsageError
from bot.core.kpi_report import format_value, parse_window
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.store.audit import AuditEntry
from bot.store.baselines import Baseline, Baselines, snapshot
from commands.parsing import require_env

NAME = "baseline"
USAGE = "baseline capture <env> [window] | baseline show <env>"
SUMMARY = "Capture the KPIs over a window (default 24h) as the env's baseline, or show it."


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if not words or words[0] not in ("capture", "show"):
        raise UsageError("Say `capture` or `show`.", NAME)
    if len(words) > 3 or (words[0] == "show" and len(words) > 2):
        raise UsageError(f"Unexpected `{words[-1]}`.", NAME)
    env = require_env(context.spec, words[1] if len(words) > 1 else None, NAME)
    baselines = Baselines(context.store)
    if words[0] == "show":
        baseline = baselines.latest(env)
        if baseline is None:
            return Reply(text=f"No baseline captured for {env} yet.")
        values = describe(baseline.values)
        return Reply(
            text=f"*Baseline for {env}* — {baseline.window_start:%Y-%m-%d %H:%M} to "
            f"{baseline.window_end:%Y-%m-%d %H:%M} UTC, "
            f"captured by <@{baseline.captured_by}>: {values}"
        )
    window_text = words[2] if len(words) > 2 else "24h"
    window = parse_window(window_text)
    channel = invocation.channel or context.spec.channel

    def capture() -> None:
        report = measure(context, env, window)
        values = snapshot(report.measurements)
        baselines.save(
            Baseline(env, context.clock.now(), report.start, report.end, invocation.user, values)
        )
        context.record(
            AuditEntry(
                invocation.user,
                invocation.source,
                "baseline.captured",
                env,
                values,
                "ok",
                f"{report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M}",
            )
        )
        missing = sorted(set(report.measurements) - set(values))
        context.poster.post(
            channel,
            f":triangular_ruler: Baseline for {env} captured over the last {window_text}: "
            + describe(values)
            + (
                f". Not available, so not in the baseline: {', '.join(missing)}."
                if missing
                else "."
            ),
        )

    return Reply(
        text=f"Capturing the baseline for {env} over the last {window_text}…", followups=(capture,)
    )


def describe(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {format_value(value)}" for name, value in sorted(values.items()))
