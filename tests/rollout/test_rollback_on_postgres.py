"""A rollback end to end with the store on PostgreSQL (STAGGER_DB a DSN): the same
signed Slack requests, SSH to a real sshd and Web API calls as on SQLite, and the state
and audit trail in the database, where another replica's connection reads them."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.approvals import Status
from bot.core.audit_key import parse_keys
from bot.render.blocks import APPROVE_ACTION
from bot.store.audit import AuditTrail
from tests.support.rollout_state import request_rollback
from tests.support.served_bot import Bot
from tests.support.spec_data import AUDIT_KEY, ENV_FILE, LEAD
from tests.support.store_backends import StoreFactory


def test_a_rollback_on_a_postgresql_store_is_verified_and_another_replica_reads_it(
    bot_factory: Callable[..., Bot], pg_store: StoreFactory
) -> None:
    bot = bot_factory(environ={"STAGGER_DB": str(pg_store.location)})
    try:
        request_id = request_rollback(bot)
        posted = bot.slack.of("chat.postMessage")[0]
        bot.click(LEAD, APPROVE_ACTION, request_id, message_ts=posted.params["_ts"])
        bot.slack.wait_for(
            lambda call: "verified on all 1 host(s)" in call.text, method="chat.postMessage"
        )
        assert bot.env_file() == ENV_FILE.replace(
            b"JOB_STAGGER_ENABLED=true", b"JOB_STAGGER_ENABLED=false"
        )
        replica = pg_store()
        state = replica.env_state("prod")
        assert (state.phase, state.stagger_enabled) == ("rolled back", False)
        request = replica.request(request_id)
        assert request is not None and request.status is Status.SUCCEEDED
        trail = AuditTrail(replica, keys=parse_keys(AUDIT_KEY, None))
        actions = [row["action"] for row in trail.rows() if row["env"] == "prod"]
        assert actions[:4] == ["rollback.requested", "approve", "rollback.started", "ssh"]
        assert actions[-1] == "rollback.finished"
        assert trail.verify().ok
    finally:
        bot.store.close()
