"""The locks job: a lock whose expiry passed is released and announced; a lock held for a
day or more is recalled in the channel once a day (on the test's manual clock)."""

from __future__ import annotations

from datetime import timedelta

from bot.rehearsal.slack_standin import ApiCall
from bot.store.locks import EnvLocks
from jobs import env_locks
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR, START


def channel_posts(bot: Bot, words: str) -> list[ApiCall]:
    return [call for call in bot.slack.of("chat.postMessage") if words in call.text]


def test_an_expired_lock_is_released_and_announced_once(bot: Bot) -> None:
    bot.command(LEAD, "lock prod --reason 'db migration' --for 2h")
    bot.clock.advance(timedelta(hours=1, minutes=59))
    assert env_locks.run(bot.context, bot.clock.now()).released == ()
    assert channel_posts(bot, "is unlocked") == []

    bot.clock.advance(timedelta(minutes=1))
    swept = env_locks.run(bot.context, bot.clock.now())
    assert [lock.holder for lock in swept.released] == [LEAD]
    announced = bot.slack.wait_for(lambda c: "is unlocked" in c.text, method="chat.postMessage")
    assert announced.params["channel"] == bot.context.spec.channel
    assert (
        f"*prod* is unlocked: the lock <@{LEAD}> took 2026-02-01 12:00 UTC (db migration) "
        "expired at 2026-02-01 14:00 UTC" in announced.text
    )
    assert env_locks.run(bot.context, bot.clock.now()).released == ()
    assert len(channel_posts(bot, "is unlocked")) == 1
    released = next(
        row for row in bot.context.audit.latest("prod", 20) if row["action"] == "lock.released"
    )
    assert (released["actor"], released["source"], released["detail"]) == (
        "bot", "scheduler", "expired",
    )  # fmt: skip
    assert "Checking the gates" in bot.command(OPERATOR, "advance").json()["text"]


def test_a_forgotten_lock_is_recalled_once_a_day(bot: Bot) -> None:
    bot.command(LEAD, "lock prod --reason 'waiting for the vendor'")
    for minutes in range(0, 24 * 60, 30):  # every half hour of the first day: nothing
        env_locks.run(bot.context, START + timedelta(minutes=minutes))
    assert channel_posts(bot, "has been locked") == []

    day = timedelta(days=1)
    recalled = env_locks.run(bot.context, START + day).recalled
    assert [lock.reason for lock in recalled] == ["waiting for the vendor"]
    for minutes in range(1, 24 * 60, 30):
        env_locks.run(bot.context, START + day + timedelta(minutes=minutes))
    env_locks.run(bot.context, START + 2 * day + timedelta(minutes=5))

    posts = bot.slack.wait_for(lambda c: "for 2d" in c.text, method="chat.postMessage")
    assert (
        f"*prod* has been locked by <@{LEAD}> for 2d: waiting for the vendor. "
        "Its transitions are held until `/stagger unlock prod`." in posts.text
    )
    texts = [call.text for call in channel_posts(bot, "has been locked")]
    assert len(texts) == 2 and "for 1d:" in texts[0]
    recalls = [r for r in bot.context.audit.latest("prod", 50) if r["action"] == "lock.recalled"]
    assert len(recalls) == 2


def test_an_unlocked_env_is_not_recalled(bot: Bot) -> None:
    bot.command(LEAD, "lock prod --reason 'waiting for the vendor'")
    bot.command(LEAD, "unlock prod")
    assert env_locks.run(bot.context, START + timedelta(days=3)).recalled == ()
    assert EnvLocks(bot.store).active(START + timedelta(days=3)) == []
    assert channel_posts(bot, "has been locked") == []
