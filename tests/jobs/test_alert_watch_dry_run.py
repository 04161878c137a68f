"""Dry-run KPIs on the alert cadence: a trigger on one that holds neither rolls back nor
proposes a rollback, a KPI in alert is not alerted, reminded nor resolved; what would
have happened is said once per breach, quietly."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot.rehearsal.slack_standin import ApiCall
from jobs import alert_watch
from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import ENV_FILE, OPERATOR, START

POOL_TRIGGER = "Pool utilization stays >70%"


def at(bot: Bot, minutes: int) -> datetime:
    bot.clock.set(START + timedelta(minutes=minutes))
    return bot.clock.now()


def log(bot: Bot, from_minute: int, minutes: int, traffic: Traffic) -> None:
    path = bot.app_dir / "logs" / "combined.log"
    append_log(path, bot.context.spec, START + timedelta(minutes=from_minute), minutes, traffic)


def use_spec(bot: Bot, *dry_run: str, auto_rollback: bool = False) -> None:
    spec = bot.context.spec
    kpis = {
        name: kpi.model_copy(update={"dry_run": True}) if name in dry_run else kpi
        for name, kpi in spec.kpis.items()
    }
    prod = spec.environments["prod"].model_copy(update={"auto_rollback": auto_rollback})
    environments = {**spec.environments, "prod": prod}
    bot.context.spec = spec.model_copy(update={"kpis": kpis, "environments": environments})


def posted(bot: Bot, text: str) -> list[ApiCall]:
    return [call for call in bot.slack.of("chat.postMessage") if text in call.text]


@pytest.mark.parametrize(("dry_run", "rolled_back"), [((), True), (("pool_util_avg",), False)])
def test_a_holding_trigger_on_a_dry_run_kpi_rolls_nothing_back_where_it_otherwise_would(
    bot: Bot, dry_run: tuple[str, ...], rolled_back: bool
) -> None:
    use_spec(bot, *dry_run, auto_rollback=True)
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 20, Traffic(staggered=True, pool_util=75.0))  # avg > 70: the trigger holds
    fired = alert_watch.run(bot.context, at(bot, 10))
    assert ([t.name for t in fired] == [POOL_TRIGGER]) is rolled_back
    if rolled_back:
        bot.slack.wait_for(lambda call: "Rollback of prod verified on all 1 host(s)" in call.text)
    assert (bot.env_file() != ENV_FILE) is rolled_back
    assert (bot.store.env_state("prod").phase == "rolled back") is rolled_back
    assert bool(posted(bot, "Rollback trigger fired")) is rolled_back


def test_a_dry_run_trigger_that_would_fire_is_said_once_per_breach_and_proposes_nothing(
    bot: Bot,
) -> None:
    use_spec(bot, "pool_util_avg")
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 30, Traffic(staggered=True, pool_util=75.0))
    assert alert_watch.run(bot.context, at(bot, 10)) == []
    assert alert_watch.run(bot.context, at(bot, 15)) == []
    [note] = posted(bot, f"dry run: trigger {POOL_TRIGGER} would have fired")
    assert "(value pool_util_avg = 75, threshold > 70)" in note.text
    assert not note.blocks and "thread_ts" not in note.params
    assert bot.store.open_requests("prod") == []
    assert posted(bot, "Rollback trigger fired") == []
    audited = [row["action"] for row in bot.context.audit.latest("prod", 50)]
    assert "trigger.fired" not in audited and "trigger.dry_run" in audited
    log(bot, 30, 70, Traffic(staggered=True, pool_util=25.0))
    alert_watch.run(bot.context, at(bot, 95))  # the last 60 min are calm: the breach ends
    log(bot, 100, 70, Traffic(staggered=True, pool_util=75.0))
    alert_watch.run(bot.context, at(bot, 170))  # and begins again
    assert len(posted(bot, f"dry run: trigger {POOL_TRIGGER} would have fired")) == 2
    assert bot.store.open_requests("prod") == []


def test_a_dry_run_kpi_in_alert_is_not_alerted_reminded_or_resolved(bot: Bot) -> None:
    use_spec(bot, "pool_util_avg")
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 60, Traffic(staggered=True, pool_util=65.0))  # avg in alert (> 60), max not
    alert_watch.run(bot.context, at(bot, 10))
    alert_watch.run(bot.context, at(bot, 75))  # past remind_every_min
    assert posted(bot, "Alert on prod") == []
    assert posted(bot, "Still in alert") == []
    [note] = posted(bot, "dry run: would have alerted")
    assert "Pool Utilization (Avg) is 65% (alert > 60, target < 40)" in note.text
    assert not note.blocks  # no rollback button
    status = bot.command(OPERATOR, "status").json()["text"]
    assert ":red_circle:" not in status
    assert "(dry run) Pool Utilization (Avg) is 65%" in status
    bot.sender.event({"type": "app_home_opened", "user": OPERATOR, "tab": "home"})
    view = bot.slack.wait_for(lambda c: True, method="views.publish").params["view"]
    home = json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)
    assert ":test_tube: (dry run) Pool Utilization (Avg) is 65%" in home
    assert ":red_circle:" not in home
    bot.command(OPERATOR, "kpi prod 1h")
    table = bot.slack.wait_for(lambda call: "KPIs for prod" in call.text).text
    pool = next(line for line in table.splitlines() if line.startswith("Pool Utilization (Avg)"))
    assert "65%" in pool and "alert (dry run)" in pool
    log(bot, 60, 70, Traffic(staggered=True, pool_util=25.0))
    alert_watch.run(bot.context, at(bot, 125))
    assert posted(bot, "Resolved") == []
    assert len(posted(bot, "dry run: would have alerted")) == 1
    assert "(dry run)" not in bot.command(OPERATOR, "status").json()["text"]


def test_a_dry_run_kpi_that_cannot_be_measured_raises_no_unavailable_alert(bot: Bot) -> None:
    use_spec(bot, "job_duration_avg")  # prod has no database here: it is unavailable
    start_phase(bot, "prod-stagger", START)
    log(bot, 0, 60, Traffic(staggered=True))
    alert_watch.run(bot.context, at(bot, 5))
    alert_watch.run(bot.context, at(bot, 25))  # past unavailable_grace_min
    unavailable = [call.text for call in posted(bot, "KPIs unavailable on prod")]
    assert not [text for text in unavailable if "job_duration_avg" in text]
