"""Every time people read is in the spec's timezone, named: `2026-02-01 13:15 Europe/Berlin`
— never the store's `2026-02-01T12:15:00Z`, never a time without its zone."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from jobs import alert_watch, checkpoints
from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR, START

ZONE = "Europe/Berlin"
ISO = re.compile(r"\d{2}T\d{2}:\d{2}(?::\d{2})?Z")
# A clock time, and what follows it: a zone named, or the end of a range in one.
CLOCK = re.compile(r"\b\d{2}:\d{2}(?::\d{2})?\b(?P<after>[^,;)\n]*)")


def zoneless(text: str) -> list[str]:
    """The clock times in `text` not followed, within their phrase, by the zone."""
    return [m[0] for m in CLOCK.finditer(text) if ZONE not in m["after"]]


def assert_read_in_zone(text: str) -> None:
    assert not ISO.search(text), text
    assert not zoneless(text), text
    assert ZONE in text, text


def test_audit_approval_baseline_checkpoints_and_alerts_show_times_in_the_spec_zone(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(timezone=ZONE)
    log = bot.app_dir / "logs" / "combined.log"
    append_log(log, bot.context.spec, START - timedelta(hours=2), 120, Traffic(staggered=False))

    capture = bot.command(OPERATOR, "baseline capture prod 1h").json()["text"]
    assert "Capturing the baseline" in capture, capture
    bot.slack.wait_for(lambda c: "Baseline for prod captured" in c.text)
    shown = bot.command(OPERATOR, "baseline show prod").json()["text"]
    assert "Baseline for prod" in shown
    assert_read_in_zone(shown)

    request = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    assert "Rollback request" in request, request
    posted = bot.slack.wait_for(lambda c: "Approval needed" in str(c.blocks))
    expires = next(line for b in posted.blocks for line in str(b).split("\\n") if "Expires" in line)
    shown_expiry = expires.split("|", 1)[1]  # the fallback text, after Slack's date token
    assert_read_in_zone(shown_expiry)
    assert "13:" in shown_expiry or "14:" in shown_expiry  # 12:xx UTC is an hour on in Berlin

    audit = bot.command(LEAD, "audit prod").json()["text"]
    assert "baseline.captured" in audit
    for line in audit.splitlines()[1:]:
        assert_read_in_zone(line)

    midnight = START - timedelta(hours=12)
    start_phase(bot, "prod-stagger", midnight - timedelta(hours=1))
    bot.clock.set(midnight)
    checkpoints.run(bot.context, midnight)
    bot.clock.set(START + timedelta(hours=1))
    checkpoints.run(bot.context, START + timedelta(hours=1))
    missed = bot.slack.wait_for(lambda c: "were missed" in c.text, method="chat.postMessage")
    assert_read_in_zone(missed.text.split("not running (", 1)[1].split(")", 1)[0])


def test_an_alert_reminder_names_when_the_alert_began_in_the_spec_zone(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(timezone=ZONE)
    start_phase(bot, "prod-stagger", START)
    log = bot.app_dir / "logs" / "combined.log"
    append_log(log, bot.context.spec, START, 60, Traffic(staggered=True, pool_util=65.0))
    for minutes in (10, 30, 40, 70):
        bot.clock.set(START + timedelta(minutes=minutes))
        alert_watch.run(bot.context, bot.clock.now())
    reminder = bot.slack.wait_for(lambda c: "Still in alert since" in c.text)
    since = reminder.text.split("Still in alert since", 1)[1].split(": ", 1)[0]
    assert_read_in_zone(since)
    assert "2026-02-01 13:10 Europe/Berlin" in since
