"""A pending rollback that needs no approval (a break-glass, `auto_rollback`) must run:
nothing expires it. Its waiter claims it when the env is free; one whose waiter is gone
(its process restarted, or it died) is claimed and run by the scheduler's sweep.

A waiter polls every half second, so a rollback whose env the sweep finds free for longer
than a few polls (on the wall clock), with no waiter in this process, has none anywhere.
The claim is atomic: the waiter and the sweep never both run it, and the loser says who
ran it (`RUN_BY_SCHEDULER`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from bot.core.approvals import ApprovalRequest, Status
from bot.core.errors import UserError
from bot.rollout.context import BotContext
from bot.rollout.execution import execute_request
from bot.rollout.execution_lease import EnvBusy, claim_execution
from bot.rollout.request_message import refresh_request_message
from bot.rollout.waiting_rollback import runs_without_approval
from bot.store.audit import AuditEntry
from bot.store.executions import Executions

logger = logging.getLogger(__name__)

WAITER_POLL_S = 0.5
# A live waiter claims within one poll of the env coming free; a few polls leave no doubt.
ORPHANED_AFTER = timedelta(seconds=4 * WAITER_POLL_S)
RUN_BY_SCHEDULER = "scheduler"

_lock = threading.Lock()
_waiting_here: set[str] = set()
_free_since: dict[str, datetime] = {}


@contextmanager
def waiter(request_id: str) -> Iterator[None]:
    """While this process's waiter polls for `request_id`, the sweep leaves it alone."""
    with _lock:
        _waiting_here.add(request_id)
    try:
        yield
    finally:
        with _lock:
            _waiting_here.discard(request_id)


def taken_by_scheduler(context: BotContext, request_id: str) -> bool:
    stored = context.store.request(request_id)
    return stored is not None and stored.decided_by == RUN_BY_SCHEDULER


def orphaned(context: BotContext, request: ApprovalRequest) -> bool:
    """No waiter will claim this pending no-approval rollback: its env has been free for
    longer than a few waiter polls, and no waiter in this process polls for it."""
    with _lock:
        if request.id in _waiting_here:
            _free_since.pop(request.id, None)
            return False
        running = Executions(context.store).running(request.env)
        if any(execution.request.id != request.id for execution in running):
            _free_since.pop(request.id, None)
            return False
        now = context.wall_clock.now()
        first_seen = _free_since.setdefault(request.id, now)
        return now - first_seen >= ORPHANED_AFTER


def run_orphaned(context: BotContext) -> list[str]:
    """Claim and run every pending no-approval rollback whose waiter is gone; the ids run."""
    ran: list[str] = []
    for request in context.store.open_requests():
        if request.status is not Status.PENDING or not runs_without_approval(request):
            continue
        if not orphaned(context, request):
            continue
        with _lock:
            _free_since.pop(request.id, None)
        if _claim(context, request):
            execute_request(context, request.id)
            ran.append(request.id)
    return ran


def _claim(context: BotContext, request: ApprovalRequest) -> bool:
    try:
        claimed = claim_execution(
            context, request, decided_by=RUN_BY_SCHEDULER, decided_at=context.clock.now()
        )
    except EnvBusy:
        return False  # a change took the env meanwhile: looked at again next sweep
    except UserError as why:
        _could_not_start(context, request, str(why))
        return False
    if not claimed:
        return False  # its waiter won
    context.record(
        AuditEntry(
            "bot", "scheduler", "rollback.orphan_run", request.env, {"request": request.id},
            "ok", "its waiter was gone; needs no approval, so the scheduler runs it",
        )
    )  # fmt: skip
    refresh_request_message(
        context,
        context.store.request(request.id) or request,
        "Its waiter was gone (a restart?); it needs no approval, so the scheduler runs it now.",
    )
    return True


def _could_not_start(context: BotContext, request: ApprovalRequest, why: str) -> None:
    logger.warning("%s: an orphaned rollback could not start: %s", request.id, why)
    context.record(
        AuditEntry(
            "bot", "scheduler", "rollback.refused", request.env, {"request": request.id},
            "refused", why,
        )
    )  # fmt: skip
    context.poster.post(
        context.spec.channel,
        f":x: *The rollback of {request.target} (`{request.id}`) could not start*: {why} "
        f"Roll back by hand: `/stagger rollback {request.env} --now --reason TEXT`.",
        thread_ts=request.message_ts,
        broadcast=True,
    )
