"""Deliver the posts Slack refused earlier (queued in the store's outbox), oldest first.
A request's post delivered late became that request's message; one decided while it
waited is closed at once, so no live buttons stay on a closed request."""

from __future__ import annotations

from datetime import datetime

from bot.core.approvals import Status
from bot.core.clock import isoformat
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.outbox import Outbox


def run(context: BotContext, now: datetime) -> int:
    pending = Outbox(context.store).pending()
    queued = {call.request_id for call in pending if call.request_id}
    sent = context.poster.flush()
    for call in Outbox(context.store).dropped_of([call.id for call in pending]):
        context.record(
            AuditEntry(
                "bot", "bot", "slack.dropped", None,
                {"method": call.method, "queued_at": isoformat(call.queued_at)},
                "failed",
                "Slack refused a queued post for good, even as text alone: "
                + str(call.arguments.get("text", ""))[:200],
            )
        )  # fmt: skip
    if queued:
        still_queued = {call.request_id for call in Outbox(context.store).pending()}
        for request_id in sorted(queued - still_queued):
            request = context.store.request(request_id)
            if request is not None and request.status is not Status.PENDING:
                refresh_request_message(context, request)
    return sent
