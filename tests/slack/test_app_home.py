"""The App Home tab, published when a user opens it (a signed Events API delivery)."""

from __future__ import annotations

import json
from datetime import timedelta

from tests.support.rollout_state import start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR, START


def test_opening_app_home_publishes_each_envs_phase_and_pending_approvals(bot: Bot) -> None:
    start_phase(bot, "staging-baseline", START - timedelta(hours=3))
    bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")
    reply = bot.sender.event({"type": "app_home_opened", "user": OPERATOR, "tab": "home"})
    assert reply.status == 200
    published = bot.slack.wait_for(lambda c: True, method="views.publish")
    assert published.params["user_id"] == OPERATOR
    view = published.params["view"]
    text = json.dumps(json.loads(view) if isinstance(view, str) else view, ensure_ascii=False)
    assert "Rollout: *staging-baseline* on staging for 3h" in text
    assert "rollback prod — pending, 0/1 approvals" in text
    assert "Silences: none" in text


def test_a_forged_event_is_refused(bot: Bot) -> None:
    reply = bot.sender.event({"type": "app_home_opened", "user": OPERATOR}, sign_with="wrong")
    assert reply.status == 401
    assert bot.slack.of("views.publish") == []
