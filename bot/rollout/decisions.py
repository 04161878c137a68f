"""Deciding on requests: approving (the policy read at click time, the claim that starts
the execution), denying, and expiring. Every decision and refusal goes to the audit
trail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import NoReturn

from bot.core.approvals import (
    ApprovalRequest,
    Approve,
    Refuse,
    Status,
    counting_approvals,
    decide_approval,
    decide_denial,
    required_approvals,
)
from bot.core.clock import isoformat
from bot.core.errors import NotAllowed, UserError
from bot.core.replies import Reply, Source
from bot.rollout.context import BotContext
from bot.rollout.execution import execute_request
from bot.rollout.execution_lease import (
    busy_message,
    claim_execution,
    recover_interrupted,
)
from bot.rollout.holds import Hold, transition_hold
from bot.rollout.plan_pinning import checked_at_click
from bot.rollout.request_message import refresh_request_message
from bot.rollout.waiting_rollback import NOT_DENIABLE, runs_without_approval
from bot.store.audit import AuditEntry
from bot.store.executions import Executions


class Decisions:
    def __init__(self, context: BotContext) -> None:
        self.context = context

    def approve(self, request_id: str, user: str, source: Source) -> Reply:
        # Two approvers clicking at once: the one whose write lost reads the request again
        # and gets the answer that is true now (recorded, or already executing).
        for _attempt in range(3):
            reply = self._approve_once(request_id, user, source)
            if reply is not None:
                return reply
        raise UserError(f"Request `{request_id}` changed while you clicked; look again.")

    def _approve_once(self, request_id: str, user: str, source: Source) -> Reply | None:
        """The approval, or None if the request changed between reading and writing it."""
        context = self.context
        request = self._find(request_id)
        environment = context.spec.environment(request.env)
        if environment is None:
            raise UserError(f"Environment {request.env} is no longer in the spec; nothing was run.")
        # An approval covers the plan the request was made for, never a changed one.
        request = checked_at_click(context, request, user, source)
        now = context.clock.now()
        decision = decide_approval(request, environment.approvals, user, now)
        if isinstance(decision, Refuse):
            self._refuse(request, user, source, "approve", decision, now)
        assert isinstance(decision, Approve)
        hold = transition_hold(context, request.env, now)
        if hold is not None and request.action == "transition":  # a rollback is never held
            self._held(request, user, source, hold)
        if decision.complete:
            # Refused before the approval counts: a click that can't run now is no click.
            recover_interrupted(context, request.env)
            busy = Executions(context.store).running(request.env)
            if busy and busy[0].request.id == request.id:
                # Read as pending a moment before another click claimed it: not "busy".
                raise UserError(f"Request `{request.id}` is already being handled.")
            if busy:
                raise UserError(busy_message(context, busy[0]))
        if not context.store.record_approval(request, decision.approved_by):
            return None
        needed = required_approvals(environment.approvals, request)
        counted = len(counting_approvals(environment.approvals, request, decision.approved_by))
        context.record(
            AuditEntry(
                user,
                source,
                "approve",
                request.env,
                {"request": request.id},
                "ok",
                f"{counted}/{needed}",
            )
        )
        updated = replace(request, approved_by=decision.approved_by, required=needed)
        if not decision.complete:
            refresh_request_message(self.context, updated)
            return Reply(
                text=f"Approval recorded for `{request.id}` ({counted}/{needed}).",
            )
        try:
            claimed = claim_execution(context, request, decided_by=user, decided_at=now)
        except UserError:
            # Another change took the env between the look above and the claim: this
            # approval does not count, so the next click claims again.
            context.store.record_approval(updated, request.approved_by)
            raise
        if not claimed:
            raise UserError(f"Request `{request.id}` is already being handled.")
        executing = replace(updated, status=Status.EXECUTING, decided_by=user)
        refresh_request_message(self.context, executing, f"Approved by <@{user}>; executing.")
        return Reply(
            text=f"Approved `{request.id}`; executing {request.description} now.",
            followups=(lambda: execute_request(self.context, request.id),),
        )

    def deny(self, request_id: str, user: str, source: Source, reason: str) -> Reply:
        context = self.context
        request = self._find(request_id)
        environment = context.spec.environment(request.env)
        policy = environment.approvals if environment else None
        now = context.clock.now()
        decision = (
            decide_denial(request, policy, user, now) if policy else Refuse("unknown environment")
        )
        if request.status is Status.PENDING and runs_without_approval(request):
            decision = Refuse(f"`{request.id}` can't be denied: {NOT_DENIABLE}.")
        if isinstance(decision, Refuse):
            self._refuse(request, user, source, "deny", decision, now)
        if not context.store.transition(
            request.id,
            (Status.PENDING,),
            Status.DENIED,
            decided_by=user,
            decided_at=now,
            outcome=reason,
        ):
            raise UserError(f"Request `{request.id}` is already being handled.")
        context.record(
            AuditEntry(user, source, "deny", request.env, {"request": request.id}, "denied", reason)
        )
        denied = replace(request, status=Status.DENIED, decided_by=user)
        note = f"Denied by <@{user}>" + (f": {reason}" if reason else "") + ". Nothing was run."
        refresh_request_message(self.context, denied, note)
        return Reply(text=f"Denied `{request.id}`; nothing was run.")

    def expire(self, request: ApprovalRequest, now: datetime) -> bool:
        # It must run: its waiter, or the sweep once that is gone (`orphaned_rollback`).
        if request.status is Status.PENDING and runs_without_approval(request):
            return False
        if not self.context.store.transition(
            request.id, (Status.PENDING,), Status.EXPIRED, decided_at=now
        ):
            return False
        self.context.record(
            AuditEntry(
                "bot",
                "scheduler",
                "expire",
                request.env,
                {"request": request.id},
                "expired",
                f"not approved by {isoformat(request.expires_at)}",
            )
        )
        refresh_request_message(
            self.context,
            replace(request, status=Status.EXPIRED),
            "Expired before it was approved. Nothing was run.",
        )
        return True

    def _refuse(
        self,
        request: ApprovalRequest,
        user: str,
        source: Source,
        verb: str,
        refusal: Refuse,
        now: datetime,
    ) -> NoReturn:
        """Audit a refused click; an expired request is closed on the spot."""
        self.context.record(
            AuditEntry(
                user,
                source,
                f"{verb}.refused",
                request.env,
                {"request": request.id},
                "refused",
                refusal.reason,
            )
        )
        if refusal.expired:
            self.expire(request, now)
        raise NotAllowed(refusal.reason)

    def _held(self, request: ApprovalRequest, user: str, source: Source, hold: Hold) -> NoReturn:
        """A transition's approval while its env is locked or frozen: refused, audited; the
        request stays pending, so it can be approved once the hold ends."""
        self.context.record(
            AuditEntry(
                user, source, "approve.refused", request.env, {"request": request.id},
                "refused", hold.audit_reason,
            )
        )  # fmt: skip
        raise UserError(
            f"Not approved: {hold.text} Nothing was run; `{request.id}` stays pending and can "
            "be approved once that ends."
        )

    def _find(self, request_id: str) -> ApprovalRequest:
        request = self.context.store.request(request_id.strip())
        if request is None:
            raise UserError(f"There is no request `{request_id}`.")
        return request
