"""The store locked by another process: commands that only read still answer, one that
must write says the store is locked, nothing is half-done, and all works once it is free."""

from __future__ import annotations

from typing import Any

from tests.support.other_process import HOLD_THE_LOCK, another_process
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR


def test_a_store_locked_by_another_process_is_named_and_nothing_half_done(
    bot_factory: Any,
) -> None:
    bot: Bot = bot_factory(db_busy_timeout_s=0.5)
    with another_process(HOLD_THE_LOCK, bot.store.path):
        status = bot.command(OPERATOR, "status prod")
        assert status.status == 200 and "*prod* — phase *not started*" in status.json()["text"]

        refused = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")

        assert refused.status == 200
        text = refused.json()["text"]
        assert "is locked or unwritable" in text and str(bot.store.path) in text
        assert "Traceback" not in text
    assert bot.store.open_requests() == []
    accepted = bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'").json()["text"]
    assert bot.request_id_from(accepted) in [r.id for r in bot.store.open_requests()]
