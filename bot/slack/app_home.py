"""The App Home tab: each env's phase and time in it, the last checkpoint, open alerts,
silences and pending approvals — built from the store, pure apart from reading it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.clock import describe_duration, format_time
from bot.render.blocks import context as context_block
from bot.render.blocks import escape, section
from bot.rollout.context import BotContext
from bot.rollout.holds import hold_lines
from bot.store.breaches import Breaches
from bot.store.checkpoints import Checkpoints
from bot.store.silences import Silences
from bot.store.timeline import Timeline
from commands.status import acknowledgement_text, flag_text


def home_view(context: BotContext, now: datetime) -> dict[str, Any]:
    current = Timeline(context.store).current()
    rollout = (
        f"*{current.phase}* on {current.env} for {describe_duration(current.elapsed(now))}"
        if current
        else "*not started*"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Job stagger rollout"}},
        section(f"Rollout: {rollout}"),
    ]
    breaches = Breaches(context.store).open_breaches()
    for env in context.spec.environments:
        state = context.store.env_state(env)
        lines = [f"*{env}* — phase *{state.phase}*, {flag_text(state)}"]
        if state.since:
            lines[0] += f", for {describe_duration(now - state.since)}"
        lines.extend(hold_lines(context, env, now))
        checkpoint = Checkpoints(context.store).latest(env)
        if checkpoint is not None:
            met = "every target met" if checkpoint.all_met else "not every target met"
            slot = format_time(checkpoint.slot, context.spec.timezone)
            lines.append(f"Last checkpoint: {slot}, {met}")
        lines.extend(
            f":red_circle: {escape(breach.detail)}"
            + acknowledgement_text(breach, context.spec.timezone)
            for breach in breaches
            if breach.env == env and breach.key.startswith(("kpi:", "trigger:"))
        )
        lines.extend(
            f":test_tube: (dry run) {escape(breach.detail)}"
            for breach in breaches
            if breach.env == env and breach.key.startswith("dry-run:")
        )
        lines.extend(
            f":hourglass_flowing_sand: `{request.id}` {escape(request.description)} — "
            f"{request.status.value}, {len(request.approved_by)}/{request.required} approvals"
            for request in context.store.open_requests(env)
        )
        blocks.append(section("\n".join(lines)))
    silences = Silences(context.store).active(now)
    blocks.append(
        context_block(
            "Silences: "
            + (
                "; ".join(
                    f"{s.kpi} until {format_time(s.until, context.spec.timezone)} (<@{s.by}>)"
                    for s in silences
                )
                if silences
                else "none"
            )
        )
    )
    return {"type": "home", "blocks": blocks}
