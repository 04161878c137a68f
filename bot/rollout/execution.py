"""Running an approved request, whatever its action, and owning up to interrupted ones.

Only a request claimed as EXECUTING (one atomic UPDATE) is run, so a double click or a
retry can't run it twice; a request left EXECUTING by a crash is reported at start as
interrupted, never re-run silently.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.approvals import ApprovalRequest, Status
from bot.rollout.context import BotContext
from bot.rollout.request_message import refresh_request_message
from bot.rollout.rollback import RollbackRunner
from bot.rollout.transition_runner import TransitionRunner
from bot.store.audit import AuditEntry
from bot.store.process_identity import is_running, this_process

logger = logging.getLogger(__name__)


def execute_request(context: BotContext, request_id: str) -> None:
    request = context.store.request(request_id)
    if request is None:
        return
    if request.action == "transition":
        TransitionRunner(context).execute(request_id)
    else:
        RollbackRunner(context).execute(request_id)


def recover_interrupted(context: BotContext, *, at_start: bool = True) -> list[ApprovalRequest]:
    """Requests left EXECUTING by a process that is gone are reported, never re-run
    silently; one a live process is executing is left to it. At start this process runs
    nothing yet, so its own (a test's) count as gone; later (`jobs.recover_orphans`) they
    are its own work in flight."""
    interrupted = []
    me = this_process()
    for request in context.store.requests_in(Status.EXECUTING):
        executor = context.store.executor(request.id)
        if executor == me and not at_start:
            continue
        if executor != me and is_running(executor):
            logger.info("%s is being executed by process %s; left to it", request.id, executor)
            continue
        if not context.store.transition(
            request.id,
            (Status.EXECUTING,),
            Status.INTERRUPTED,
            outcome="the bot stopped while executing it",
        ):
            continue
        context.record(
            AuditEntry(
                "bot",
                "bot",
                f"{request.action}.interrupted",
                request.env,
                {"request": request.id},
                "failed",
                "the bot stopped during execution; hosts were not verified",
            )
        )
        context.poster.post(
            context.spec.channel,
            f":warning: *{request.description} (`{request.id}`) was interrupted*: "
            "the bot stopped while executing it, so the hosts are not verified. "
            "Check `/stagger status` and request it again if it is still needed.",
            thread_ts=request.message_ts,
            broadcast=True,
        )
        refresh_request_message(
            context, replace(request, status=Status.INTERRUPTED), "Interrupted; not verified."
        )
        interrupted.append(request)
    return interrupted
