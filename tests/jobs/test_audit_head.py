"""The daily audit head post: the trail's newest entry in the channel once a day, a
witness outside the store; nothing while the trail is empty."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from bot.rollout.context import BotContext
from bot.store.audit import AuditEntry
from jobs import audit_head
from tests.support.spec_data import START


def daily_posts(console: io.StringIO) -> list[str]:
    return re.findall(r"Daily audit head `(\d+:[0-9a-f]+)`", console.getvalue())


def test_the_newest_entry_is_posted_once_a_day(context: BotContext, console: io.StringIO) -> None:
    context.record(AuditEntry("U0OPS1", "slack", "rollback.requested", "prod"))
    newest = context.audit.latest(None, 1)[0]

    assert audit_head.run(context, START)
    assert daily_posts(console) == [f"{newest['id']}:{newest['hash'][:16]}"]
    assert "[C0ROLLOUT]" in console.getvalue()  # in the rollout channel
    assert "stagger-bot audit verify --head" in console.getvalue()

    context.record(AuditEntry("U0LEAD1", "slack", "approve", "prod"))
    assert not audit_head.run(context, START + timedelta(hours=6))  # the same day
    assert audit_head.run(context, START + timedelta(days=1))
    newer = context.audit.latest(None, 1)[0]
    assert daily_posts(console)[-1] == f"{newer['id']}:{newer['hash'][:16]}"
    assert len(daily_posts(console)) == 2


def test_an_empty_trail_posts_nothing(context: BotContext, console: io.StringIO) -> None:
    assert not audit_head.run(context, START)
    assert console.getvalue() == ""
