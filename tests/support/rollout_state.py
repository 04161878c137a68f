"""Putting the rollout into a state directly (a phase, a baseline, a pending rollback),
so a test starts where it matters."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.baseline import Baseline
from bot.core.phase_record import Entry, PhaseRecord
from bot.store.baselines import Baselines
from bot.store.check_schedule import CheckSchedule
from bot.store.store import EnvState
from bot.store.timeline import Timeline
from tests.support.bot_process import wait_until
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR


def start_phase(bot: Bot, phase: str, at: datetime, thread_ts: str | None = None) -> PhaseRecord:
    spec = bot.context.spec.phase(phase)
    assert spec is not None
    timeline = Timeline(bot.store)
    current = timeline.current()
    record = timeline.enter(
        Entry(phase, spec.env, at, "advanced", None, (LEAD,)),
        expected_current=current.id if current else None,
    )
    bot.store.set_env_state(EnvState(spec.env, phase, spec.stagger, at))
    if spec.stagger:
        minutes = bot.context.spec.validation.checks_after_min
        CheckSchedule(bot.store).schedule(
            spec.env,
            record.id,
            thread_ts,
            [(f"+{m} min", at + timedelta(minutes=m)) for m in minutes],
        )
    return record


def save_baseline(bot: Bot, env: str, at: datetime, **values: float) -> None:
    Baselines(bot.store).save(Baseline(env, at, at - timedelta(hours=24), at, "test", dict(values)))


def request_rollback(bot: Bot, text: str = "rollback prod --reason 'pool at 90%'") -> str:
    reply = bot.command(OPERATOR, text)
    assert reply.status == 200
    body = reply.json()
    assert body["response_type"] == "ephemeral"
    request_id = bot.request_id_from(body["text"])
    bot.slack.wait_for(lambda call: request_id in call.all_text(), method="chat.postMessage")
    # The post's ts is stored just after Slack answers; updates to the message need it.
    wait_until(lambda: bot.request(request_id).message_ts is not None)
    return request_id
