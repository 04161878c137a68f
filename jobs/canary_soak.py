"""Continuing transitions whose canary soak has come due: when no validation check over
the canary hosts failed, the change is claimed again (under a new lease) and its other
hosts run in their batches; when one failed, the rest never runs (the check itself
proposed, or under `auto_rollback` ran, the rollback). A check due within the soak that
has not run yet is waited for. A soak whose request left `soaking` (a rollback cancelled
it) is closed. A soak over while its env is held (a lock, a freeze) waits, not cancelled,
until the hold ends (`bot.rollout.soak_hold`), and while a full rollback of the env is
pending approval (`bot.rollout.soak_rollback_hold`)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.core.approvals import Status
from bot.rollout.context import BotContext
from bot.rollout.execution_lease import EnvBusy, claim_execution, held_lease
from bot.rollout.soak_hold import held_soak
from bot.rollout.soak_rollback_hold import held_by_rollback
from bot.rollout.transition_runner import TransitionRunner
from bot.store.check_schedule import CheckSchedule
from bot.store.soaks import Soak, Soaks

logger = logging.getLogger(__name__)


def run(context: BotContext, now: datetime) -> list[str]:
    """The ids of the requests whose soak ended in this run."""
    soaks = Soaks(context.store)
    ended: list[str] = []
    for soak in soaks.due(now):
        request = context.store.request(soak.request_id)
        if request is None or request.status is not Status.SOAKING:
            soaks.close(soak.request_id, "cancelled", "the request was no longer soaking")
            continue
        verdict = _canary_verdict(context, soak)
        if verdict is None:
            continue  # a check due within the soak has not run yet
        if not verdict and held_soak(context, request, now) is not None:
            continue  # the other hosts wait until the lock or freeze ends
        if not verdict and held_by_rollback(context, request, now) is not None:
            continue  # ... and while a full rollback of the env waits for approval
        try:
            claimed = claim_execution(context, request, from_statuses=(Status.SOAKING,))
        except EnvBusy:
            logger.info("%s: its env is busy; the soak goes on until it is free", request.id)
            continue
        if not claimed:
            continue
        soaks.close(request.id, "stopped" if verdict else "continued", verdict or "checks passed")
        with held_lease(context, request):
            TransitionRunner(context).resume(request.id, verdict)
        ended.append(request.id)
    return ended


def _canary_verdict(context: BotContext, soak: Soak) -> str | None:
    """ "" when no check due within the soak failed, what failed otherwise, None while one
    of them is still to run."""
    checks = [
        c for c in CheckSchedule(context.store).of_phase(soak.phase_id) if c.due_at <= soak.due_at
    ]
    if any(check.status in ("pending", "running") for check in checks):
        return None
    failed = [
        f"validation {c.label} {c.result}"
        for c in checks
        if c.status == "done" and c.result != "passed"
    ]
    return ", ".join(failed)
