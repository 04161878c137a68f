"""A rollback asked for while a transition soaks after its canary: the rest of that
change is cancelled (audited, said in its thread), and the rollback runs on every host."""

from __future__ import annotations

from dataclasses import replace

from bot.core.approvals import ApprovalRequest, Status
from bot.core.tiers import HostState
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.execution_hosts import ExecutionHosts
from bot.store.soaks import Soaks


def cancel_soaking_transitions(context: BotContext, rollback: ApprovalRequest) -> None:
    for soaking in context.store.open_requests(rollback.env):
        if soaking.action != "transition" or soaking.status is not Status.SOAKING:
            continue
        untouched = [
            standing.host
            for standing in ExecutionHosts(context.store).of(soaking.id)
            if standing.state is HostState.NOT_STARTED
        ]
        why = (
            f"cancelled during its soak: rollback {rollback.id} was requested; "
            f"not started: {', '.join(untouched) or 'none'}"
        )
        if not context.store.transition(
            soaking.id,
            (Status.SOAKING,),
            Status.CANCELLED,
            decided_by="stagger-bot",
            decided_at=context.clock.now(),
            outcome=why,
        ):
            continue
        Soaks(context.store).close(soaking.id, "cancelled", why)
        context.record(
            AuditEntry(
                "bot", "bot", "transition.cancelled", soaking.env,
                {"request": soaking.id, "rollback": rollback.id, "not_started": untouched},
                "cancelled", why,
            )
        )  # fmt: skip
        context.poster.post(
            context.spec.channel,
            f":heavy_multiplication_x: The rest of `{soaking.id}` ({soaking.description}) is "
            f"cancelled: rollback `{rollback.id}` was requested during the soak, and goes to "
            f"every host. Not started: {', '.join(untouched) or 'none'}.",
            thread_ts=soaking.message_ts,
            broadcast=True,
        )
        refresh_request_message(
            context, replace(soaking, status=Status.CANCELLED), why[0].upper() + why[1:] + "."
        )
