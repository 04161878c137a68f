"""`/stagger status [env]`: each environment's phase, flag, and what is in flight."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.clock import describe_duration, format_time
from bot.core.errors import UsageError
from bot.core.phases import next_phase
from bot.core.replies import Invocation, Reply
from bot.render.blocks import mention
from bot.rollout.context import BotContext
from bot.rollout.holds import hold_lines
from bot.rollout.soak_hold import status_line
from bot.store.breaches import Breach, Breaches
from bot.store.silences import Silences
from bot.store.store import EnvState
from bot.store.timeline import Timeline
from commands.parsing import require_env

NAME = "status"
USAGE = "status [env]"
SUMMARY = "The rollout's phase; each environment's flag and open requests."


def rollout_line(context: BotContext, now: datetime) -> str:
    current = Timeline(context.store).current()
    if current is None:
        first = context.spec.phases[0].name if context.spec.phases else "none"
        return f"Rollout: *not started*; first phase {first} (`/stagger advance`)."
    line = (
        f"Rollout: *{current.phase}* on {current.env} since "
        f"{format_time(current.started_at, context.spec.timezone)} "
        f"({describe_duration(current.elapsed(now))}"
    )
    phase = context.spec.phase(current.phase)
    if phase is not None:
        minimum = timedelta(hours=phase.min_duration_h)
        left = minimum - current.elapsed(now)
        line += (
            f" of at least {describe_duration(minimum)}; {describe_duration(left)} to go"
            if left > timedelta(0)
            else f"; its {describe_duration(minimum)} minimum is done"
        )
    following = next_phase(context.spec, current)
    return line + ")" + (f"; next: {following.name}." if following else ".")


def run(context: BotContext, invocation: Invocation, words: list[str]) -> Reply:
    if len(words) > 1:
        raise UsageError(f"Unexpected `{words[1]}`.", NAME)
    envs = [require_env(context.spec, words[0], NAME)] if words else list(context.spec.environments)
    now = context.clock.now()
    lines = [rollout_line(context, now)]
    for env in envs:
        environment = context.spec.environments[env]
        state = context.store.env_state(env)
        since = (
            f" since {format_time(state.since, context.spec.timezone)} "
            f"({describe_duration(now - state.since)})"
            if state.since
            else ""
        )
        lines.append(
            f"*{env}* — phase *{state.phase}*{since}; {flag_text(state)}; "
            f"{len(environment.hosts)} host(s)"
        )
        if state.disabled_jobs:
            lines.append("   jobs rolled back to :00: " + ", ".join(state.disabled_jobs))
        if state.note:
            lines.append(f"   note: {state.note}")
        lines.extend(f"   {line}" for line in hold_lines(context, env, now))
        for request in context.store.open_requests(env):
            lines.append(
                f"   `{request.id}` {request.description} — {request.status.value}, "
                f"{len(request.approved_by)}/{request.required} approvals, "
                f"requested by <@{request.requester}>"
            )
            held = status_line(context, request, now)
            if held:
                lines.append(f"      {held}")
    lines.extend(alert_lines(context, now))
    return Reply(text="\n".join(lines))


def flag_text(state: EnvState) -> str:
    """The env's stagger flag as the bot last set it. UNKNOWN only after a change that
    failed on some host; an env the bot never changed says so."""
    if state.stagger_enabled is not None:
        return f"stagger {'ON' if state.stagger_enabled else 'OFF'}"
    if state.since is None and not state.note:
        return "stagger not changed by the bot yet"
    return "stagger UNKNOWN"


def alert_lines(context: BotContext, now: datetime) -> list[str]:
    zone = context.spec.timezone
    breaches = Breaches(context.store).open_breaches()
    lines = [
        f":red_circle: {breach.env}: {breach.detail} (since {format_time(breach.opened_at, zone)})"
        + acknowledgement_text(breach, zone)
        for breach in breaches
        if breach.key.startswith(("kpi:", "trigger:"))
    ]
    lines.extend(
        f":grey_question: {breach.env}: {breach.key.removeprefix('unavailable:')} unavailable: "
        f"{breach.detail} (since {format_time(breach.opened_at, zone)})"
        + acknowledgement_text(breach, zone)
        for breach in breaches
        if breach.key.startswith("unavailable:") and breach.message_ts is not None
    )
    lines.extend(
        f":test_tube: {breach.env}: (dry run) {breach.detail} "
        f"(since {format_time(breach.opened_at, zone)})"
        for breach in breaches
        if breach.key.startswith("dry-run:")
    )
    lines.extend(
        f":mute: {silence.kpi} silenced until {format_time(silence.until, zone)} by <@{silence.by}>"
        + (f": {silence.reason}" if silence.reason else "")
        for silence in Silences(context.store).active(now)
    )
    return lines


def acknowledgement_text(breach: Breach, zone: str) -> str:
    """` — alert A12, acknowledged by @x at ...`, or how to acknowledge it."""
    if breach.acknowledged_by is None or breach.acknowledged_at is None:
        return f" — alert `{breach.alert_id}`, not acknowledged (`/stagger ack {breach.alert_id}`)"
    return (
        f" — alert `{breach.alert_id}`, acknowledged by {mention(breach.acknowledged_by)} "
        f"at {format_time(breach.acknowledged_at, zone)}"
    )
