"""App Home shows who holds an env's lock, since when, why, until when, and the freeze
windows in force or starting within a day."""

from __future__ import annotations

import json
from collections.abc import Callable

from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR


def test_app_home_shows_the_lock_and_the_coming_freeze(bot_factory: Callable[..., Bot]) -> None:
    bot = bot_factory(
        freeze=[{"cron": "0 20 * * *", "duration": "2h", "envs": ["staging"], "reason": "batch"}]
    )
    bot.command(LEAD, "lock prod --reason 'quarter <close>' --for 3h")
    reply = bot.sender.event({"type": "app_home_opened", "user": OPERATOR, "tab": "home"})
    assert reply.status == 200
    published = bot.slack.wait_for(lambda c: True, method="views.publish")
    view = published.params["view"]
    text = json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)
    assert (
        f":lock: *prod* is locked by <@{LEAD}> since 2026-02-01 12:00 UTC (0m ago): "
        "quarter &lt;close&gt;; until 2026-02-01 15:00 UTC" in text
    )
    assert "Rollbacks are not blocked." in text
    assert (
        ":snowflake: *staging* freezes from 2026-02-01 20:00 UTC until 2026-02-01 22:00 UTC: batch."
        in text
    )
