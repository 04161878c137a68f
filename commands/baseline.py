"""`/stagger baseline capture <env> [window]`: keep the KPIs now as the env's baseline.

The relative rollback triggers and targets are judged against the latest baseline, so
capturing one is a write (`bot.core.authorization`), refused while the env's stagger
phase runs unless forced with a reason, and announced in the rollout channel."""

from __future__ import annotations

from bot.core.baseline import Baseline
from bot.core.errors import UsageError, UserError
from bot.core.kpi_report import format_value, parse_window
from bot.core.kpi_report import window_text as spans
from bot.core.replies import Invocation, Reply
from bot.rollout.context import BotContext
from bot.rollout.measuring import measure
from bot.store.audit import AuditEntry
from bot.store.baselines import Baselines, snapshot
from bot.store.timeline import Timeline
from commands.parsing import Parsed, parse_options, require_env, single_line

NAME = "baseline"
USAGE = "baseline capture <env> [window] [--force --reason TEXT] | baseline show <env>"
SUMMARY = (
    "Capture the KPIs over a window (default 24h) as the env's baseline (not during its "
    "stagger phase unless forced), or show it."
)


def parse(context: BotContext, words: list[str]) -> tuple[str, Parsed]:
    if not words or words[0] not in ("capture", "show"):
        raise UsageError("Say `capture` or `show`.", NAME)
    capture = words[0] == "capture"
    parsed = (
        parse_options(words[1:], NAME, ("--reason",), ("--force",))
        if capture
        else Parsed(words[1:])
    )
    limit = 2 if capture else 1
    if len(parsed.positionals) > limit:
        raise UsageError(f"Unexpected `{parsed.positionals[limit]}`.", NAME)
    env = require_env(context.spec, parsed.positionals[0] if parsed.positionals else None, NAME)
    return env, parsed


def target_env(context: BotContext, words: list[str]) -> str:
    return parse(context, words)[0]


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    env, parsed = parse(context, words)
    if words[0] == "capture":
        return capture(context, invocation, env, parsed)
    baseline = Baselines(context.store).latest(env)
    if baseline is None:
        return Reply(text=f"No baseline captured for {env} yet.")
    return Reply(
        text=f"*Baseline for {env}* — "
        f"{spans(baseline.window_start, baseline.window_end, context.spec.timezone)}, "
        f"captured by <@{baseline.captured_by}>: {describe(baseline.values)}"
    )


def capture(context: BotContext, invocation: Invocation, env: str, parsed: Parsed) -> Reply:
    window_text = parsed.positionals[1] if len(parsed.positionals) > 1 else "24h"
    window = parse_window(window_text, NAME)
    forced = "--force" in parsed.options
    reason = single_line(parsed.options.get("--reason", ""), "reason")
    if forced and not reason:
        raise UsageError("`--force` needs `--reason TEXT`, saying why.", NAME)
    staggering = stagger_phase(context, env)
    if staggering is not None and not forced:
        context.record(
            AuditEntry(
                invocation.user,
                invocation.source,
                "baseline.capture.refused",
                env,
                {"window": window_text},
                "refused",
                f"during the stagger phase {staggering}",
            )
        )
        raise UserError(
            f"{env} is in its stagger phase *{staggering}*: a baseline taken now would "
            "compare the stagger with itself, and the relative rollback triggers and targets "
            "are judged against it. If you must: "
            f"`/stagger baseline capture {env} {window_text} --force --reason TEXT`."
        )
    how = "forced" if forced else "not forced"
    if forced and staggering:
        how += f" during the stagger phase {staggering}"
    if reason:
        how += f": {reason}"

    def run_capture() -> None:
        report = measure(context, env, window)
        values = snapshot(report.measurements)
        # Over what the logs cover of the window: 3 hours of log are not a day's rate.
        start, end = report.rated_window
        Baselines(context.store).save(
            Baseline(env, context.clock.now(), start, end, invocation.user, values)
        )
        context.record(
            AuditEntry(
                invocation.user,
                invocation.source,
                "baseline.captured",
                env,
                {**values, "window": window_text, "forced": "yes" if forced else "no"},
                "ok",
                f"{spans(start, end, context.spec.timezone)}; {how}",
            )
        )
        missing = sorted(set(report.measurements) - set(values))
        # In the rollout channel wherever it was typed: everyone sees the baseline change.
        context.poster.post(
            context.spec.channel,
            f":triangular_ruler: Baseline for {env} captured by <@{invocation.user}> over the "
            f"last {window_text} ({spans(start, end, context.spec.timezone)}), "
            f"{how}. "
            + describe(values)
            + (
                f". Not available, so not in the baseline: {', '.join(missing)}."
                if missing
                else "."
            ),
        )

    return Reply(
        text=f"Capturing the baseline for {env} over the last {window_text}…",
        followups=(run_capture,),
    )


def stagger_phase(context: BotContext, env: str) -> str | None:
    """The env's stagger phase if it is the one running now."""
    current = Timeline(context.store).current()
    if current is None or current.is_terminal or current.env != env:
        return None
    phase = context.spec.phase(current.phase)
    return current.phase if phase is not None and phase.stagger else None


def describe(values: dict[str, float]) -> str:
    return ", ".join(f"{name} {format_value(value)}" for name, value in sorted(values.items()))
