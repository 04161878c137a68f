"""Running a claimed request, whatever its action, under its lease.

Only a request claimed as EXECUTING (one transaction, one per env: `bot.store.executions`)
is run, so a double click or a retry can't run it twice and two changes never run on one
env at once; while it runs its lease is renewed (`bot.rollout.execution_lease`).
"""

from __future__ import annotations

from bot.rollout.context import BotContext
from bot.rollout.execution_lease import LeaseKeeper
from bot.rollout.rollback import RollbackRunner
from bot.rollout.transition_runner import TransitionRunner


def execute_request(context: BotContext, request_id: str) -> None:
    request = context.store.request(request_id)
    if request is None:
        return
    with LeaseKeeper(context, request):
        if request.action == "transition":
            TransitionRunner(context).execute(request_id)
        else:
            RollbackRunner(context).execute(request_id)
