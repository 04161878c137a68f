"""Requesting, approving and denying actions; execution lives in `bot.rollout.rollback`.

The approval policy is read from the spec at click time, so an approver list edited
while a request is pending is honoured. Every request, refusal, decision, SSH command
and result goes to the audit trail.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import NoReturn

from bot.core.approvals import (
    ApprovalRequest,
    Approve,
    Refuse,
    Status,
    decide_approval,
    decide_denial,
    expiry,
    may_request,
    new_request_id,
    required_approvals,
    unsatisfiable,
)
from bot.core.clock import isoformat
from bot.core.errors import NotAllowed, UserError
from bot.core.replies import Reply, Source
from bot.core.time_limits import execution_time_limit
from bot.render import blocks
from bot.rollout.context import BotContext
from bot.rollout.execution import execute_request
from bot.rollout.execution_lease import busy_message, claim_execution, recover_interrupted
from bot.rollout.request_message import refresh_request_message
from bot.store.audit import AuditEntry
from bot.store.executions import Executions

logger = logging.getLogger(__name__)

_BUSY_POLL_S = 0.5


class Actions:
    def __init__(self, context: BotContext) -> None:
        self.context = context

    # -- requesting ----------------------------------------------------------------------

    def request_rollback(
        self, user: str, source: Source, env: str, job: str | None, reason: str
    ) -> Reply:
        context = self.context
        spec = context.spec
        environment = spec.environment(env)
        assert environment is not None  # the command validated the name
        arguments = {"job": job} if job else {}
        if not may_request(spec, env, user):
            context.record(
                AuditEntry(
                    user, source, "rollback.refused", env, arguments, "refused", "not an operator"
                )
            )
            raise NotAllowed(
                f"<@{user}> is not an operator; ask one of the operators to request it."
            )
        # An execution whose owner went away no longer holds the env: reported first.
        recover_interrupted(context, env)
        for open_request in context.store.open_requests(env):
            if open_request.action == "rollback" and open_request.args == arguments:
                context.record(
                    AuditEntry(
                        user,
                        source,
                        "rollback.refused",
                        env,
                        arguments,
                        "refused",
                        f"{open_request.id} already {open_request.status.value}",
                    )
                )
                raise UserError(
                    f"A rollback of {open_request.target} is already "
                    f"{open_request.status.value} as `{open_request.id}`."
                )
        now = context.clock.now()
        policy = environment.approvals
        problem = unsatisfiable(policy, user) if policy.required else None
        if problem is not None:
            context.record(
                AuditEntry(user, source, "rollback.refused", env, arguments, "refused", problem)
            )
            raise UserError(
                f"A rollback of {env} requested by <@{user}> could never be approved: "
                f"{problem}. Nothing was requested; ask another operator to request it."
            )
        request = ApprovalRequest(
            id=new_request_id(),
            action="rollback",
            env=env,
            args=arguments,
            requester=user,
            reason=reason,
            created_at=now,
            expires_at=expiry(policy, now),
            required=policy.required,
        )
        return self.submit(request, source)

    def propose_rollback(self, env: str, reason: str, *, auto: bool) -> Reply:
        """The bot's own rollback request (a failed validation or a fired trigger): posted
        for the approvers, or run at once where the env sets `auto_rollback`."""
        recover_interrupted(self.context, env)
        open_rollbacks = [
            request
            for request in self.context.store.open_requests(env)
            if request.action == "rollback" and not request.args
        ]
        if open_rollbacks:
            return Reply(text=f"A rollback of {env} is already open as `{open_rollbacks[0].id}`.")
        environment = self.context.spec.environments[env]
        now = self.context.clock.now()
        request = ApprovalRequest(
            id=new_request_id(),
            action="rollback",
            env=env,
            args={},
            requester="stagger-bot",
            reason=reason,
            created_at=now,
            expires_at=expiry(environment.approvals, now),
            required=0 if auto else environment.approvals.required,
        )
        return self.submit(request, "scheduler")

    def submit(self, request: ApprovalRequest, source: Source) -> Reply:
        """Store a new request, audit it, and post it for approval (or start it at once
        where no approval is required). A rollback closes pending transitions of its env."""
        context = self.context
        context.store.add_request(request)
        context.record(
            AuditEntry(
                request.requester,
                source,
                f"{request.action}.requested",
                request.env,
                {**request.args, "request": request.id},
                "pending",
                request.reason,
            )
        )
        if request.action == "rollback":
            self._preempt_transitions(request)
        if request.required == 0:
            return self._start_without_approval(request, source)
        policy = context.spec.environments[request.env].approvals
        return Reply(
            text=(
                f"{request.action.capitalize()} request `{request.id}` for {request.target} "
                f"posted in <#{context.spec.channel}>; "
                f"it needs {request.required} approval(s) from "
                + ", ".join(f"<@{approver}>" for approver in policy.approvers)
                + f" within {policy.expires_after_min} min."
            ),
            followups=(lambda: self._post_request(request),),
        )

    def _preempt_transitions(self, rollback: ApprovalRequest) -> None:
        for pending in self.context.store.open_requests(rollback.env):
            if pending.action != "transition" or not self.context.store.transition(
                pending.id,
                (Status.PENDING,),
                Status.CANCELLED,
                decided_by="stagger-bot",
                decided_at=self.context.clock.now(),
                outcome=f"pre-empted by rollback {rollback.id}",
            ):
                continue
            self.context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "transition.cancelled",
                    pending.env,
                    {"request": pending.id, "rollback": rollback.id},
                    "cancelled",
                    "pre-empted by a rollback request",
                )
            )
            refresh_request_message(
                self.context,
                replace(pending, status=Status.CANCELLED),
                f"Cancelled: rollback {rollback.id} was requested. Nothing was run.",
            )

    def _post_request(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Approval needed: {request.description} ({request.id})",
            blocks.approval_request_blocks(request),
            request_id=request.id,
        )
        if ts is None:
            self.context.record(
                AuditEntry(
                    "bot",
                    "bot",
                    "slack.post_failed",
                    request.env,
                    {"request": request.id},
                    "failed",
                    "the approval request could not be posted",
                )
            )
            return
        self.context.store.set_message(request.id, channel, ts)

    def _start_without_approval(self, request: ApprovalRequest, source: Source) -> Reply:
        if not self._claim_at_once(request, source):
            raise UserError(f"Request `{request.id}` was already taken.")
        self.context.record(
            AuditEntry(
                "bot",
                source,
                f"{request.action}.approved",
                request.env,
                {"request": request.id},
                "ok",
                "no approval required",
            )
        )
        executing = replace(request, status=Status.EXECUTING)

        def post_and_execute() -> None:
            self._post_request_executing(executing)
            execute_request(self.context, request.id)

        return Reply(
            text=f"{'Rolling back' if request.action == 'rollback' else 'Moving'} "
            f"{request.target} now (`{request.id}`, no approval required).",
            followups=(post_and_execute,),
        )

    def _claim_at_once(self, request: ApprovalRequest, source: Source) -> bool:
        """Claim a request that needs no approval. A person is told at once when another
        change is executing on the env; the bot's own rollback (`auto_rollback`) waits for
        it instead, at most its time limit, since a rollback the bot decided on must run."""
        context = self.context
        deadline = context.wall_clock.now() + timedelta(
            seconds=execution_time_limit(context.spec, "rollback")
        )
        while True:
            try:
                return claim_execution(
                    context, request, decided_by="policy", decided_at=context.clock.now()
                )
            except UserError as busy:
                if source == "scheduler" and context.wall_clock.now() < deadline:
                    threading.Event().wait(_BUSY_POLL_S)
                    continue
                self._refuse_busy(request, source, str(busy))

    def _refuse_busy(self, request: ApprovalRequest, source: Source, why: str) -> NoReturn:
        context = self.context
        context.store.transition(
            request.id,
            (Status.PENDING,),
            Status.CANCELLED,
            decided_by="stagger-bot",
            decided_at=context.clock.now(),
            outcome="another change was executing on the env",
        )
        context.record(
            AuditEntry(
                request.requester, source, f"{request.action}.refused", request.env,
                {**request.args, "request": request.id}, "refused", why,
            )
        )  # fmt: skip
        raise UserError(why)

    def _post_request_executing(self, request: ApprovalRequest) -> None:
        channel = self.context.spec.channel
        ts = self.context.poster.post(
            channel,
            f"Executing {request.description} ({request.id})",
            blocks.closed_request_blocks(request, "Executing now."),
            request_id=request.id,
        )
        if ts:
            self.context.store.set_message(request.id, channel, ts)

    # -- deciding ------------------------------------------------------------------------

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
        now = context.clock.now()
        decision = decide_approval(request, environment.approvals, user, now)
        if isinstance(decision, Refuse):
            self._refuse(request, user, source, "approve", decision, now)
        assert isinstance(decision, Approve)
        if decision.complete:
            # Refused before the approval counts: a click that can't run now is no click.
            recover_interrupted(context, request.env)
            busy = Executions(context.store).running(request.env)
            if busy:
                raise UserError(busy_message(context, busy[0]))
        if not context.store.record_approval(request, decision.approved_by):
            return None
        needed = required_approvals(environment.approvals, request)
        context.record(
            AuditEntry(
                user,
                source,
                "approve",
                request.env,
                {"request": request.id},
                "ok",
                f"{len(decision.approved_by)}/{needed}",
            )
        )
        updated = replace(request, approved_by=decision.approved_by, required=needed)
        if not decision.complete:
            refresh_request_message(self.context, updated)
            return Reply(
                text=f"Approval recorded for `{request.id}` "
                f"({len(decision.approved_by)}/{needed}).",
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

    def _find(self, request_id: str) -> ApprovalRequest:
        request = self.context.store.request(request_id.strip())
        if request is None:
            raise UserError(f"There is no request `{request_id}`.")
        return request
