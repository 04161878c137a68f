"""Running a claimed request, whatever its action, under its lease.

Only a request claimed as EXECUTING (one transaction, one per env: `bot.store.executions`)
is run, so a double click or a retry can't run it twice and two changes never run on one
env at once; its lease is kept from the claim to the end (`bot.rollout.execution_lease`).
"""

from __future__ import annotations

from bot.core.approvals import Status
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import held_lease
from bot.rollout.rollback import RollbackRunner
from bot.rollout.transition_runner import TransitionRunner


def execute_request(context: BotContext, request_id: str) -> None:
    request = context.store.request(request_id)
    if request is None:
        return
    if request.status is not Status.EXECUTING:
        # Claimed, then taken from this process before it started (its lease lapsed and
        # it was reported interrupted): say so where the request was asked for.
        context.poster.post(
            context.spec.channel,
            f":warning: `{request.id}` ({request.description}) was not run: it is "
            f"{request.status.value}. Request it again if it is still needed.",
            thread_ts=request.message_ts,
            broadcast=True,
        )
        return
    with held_lease(context, request):
        if request.action == "transition":
            TransitionRunner(context).execute(request_id)
        else:
            RollbackRunner(context).execute(request_id)
