"""Approval requests and the policy that decides who may approve them.

Pure: every function takes the request, the policy, the user and the time, and returns a
decision. The store persists what the decision says.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.plan import Plan
from bot.core.spec import Spec
from bot.core.spec_fleet import ApprovalPolicy


class Status(StrEnum):
    PENDING = "pending"
    EXECUTING = "executing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    # A transition parked after its canary tier until its soak ends: it holds its env
    # against other transitions, never against a rollback.
    SOAKING = "soaking"

    @property
    def is_open(self) -> bool:
        return self in (Status.PENDING, Status.EXECUTING, Status.SOAKING)


@dataclass(frozen=True)
class ApprovalRequest:
    id: str
    action: str
    env: str
    args: dict[str, str]
    requester: str
    reason: str
    created_at: datetime
    expires_at: datetime
    required: int
    status: Status = Status.PENDING
    approved_by: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: datetime | None = None
    channel: str | None = None
    message_ts: str | None = None
    outcome: str = ""
    # What the approval covers, pinned when the request was made (None: made before that).
    plan: Plan | None = None

    @property
    def target(self) -> str:
        """`prod`, `prod (job LIVE_STATS_SYNC)`, or for a transition `prod to prod-stagger`."""
        if self.action == "transition":
            return f"{self.env} to {self.args.get('phase', '?')}"
        job = self.args.get("job")
        return self.env + (f" (job {job})" if job else "")

    @property
    def forced(self) -> bool:
        return self.args.get("forced") == "yes"

    @property
    def from_cli(self) -> bool:
        """Asked for from `stagger-bot cmd`, whose `--user` nobody vouches for."""
        return self.args.get("via") == "cli"

    @property
    def break_glass_by(self) -> str | None:
        """Who ran it as a break-glass rollback (no approval), if anyone."""
        return self.args.get("break_glass") or None

    @property
    def description(self) -> str:
        return f"{self.action} {self.target}" + (" (forced)" if self.forced else "")


@dataclass(frozen=True)
class Approve:
    """The approval counts; `complete` when enough are in to execute."""

    approved_by: tuple[str, ...]
    complete: bool


@dataclass(frozen=True)
class Refuse:
    reason: str
    expired: bool = False


@dataclass(frozen=True)
class Deny:
    by: str


ApprovalDecision = Approve | Refuse


def new_request_id() -> str:
    """Short, unambiguous, typeable: `R7KQ2M`."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "R" + "".join(secrets.choice(alphabet) for _ in range(5))


def expiry(policy: ApprovalPolicy, now: datetime) -> datetime:
    return now + timedelta(minutes=policy.expires_after_min)


def may_request(spec: Spec, env: str, user: str) -> bool:
    """Operators may request actions; so may the env's approvers. With no operators listed,
    the approvers alone may: an empty list never means anyone in the workspace."""
    environment = spec.environment(env)
    approvers = environment.approvals.approvers if environment else []
    return user in spec.operators or user in approvers


def decide_approval(
    request: ApprovalRequest, policy: ApprovalPolicy, user: str, now: datetime
) -> ApprovalDecision:
    """May `user` approve `request` now? The policy is the spec's at click time."""
    if request.status is not Status.PENDING:
        return Refuse(f"Request {request.id} is already {request.status.value}.")
    if now >= request.expires_at:
        return Refuse(f"Request {request.id} expired; nothing was run.", expired=True)
    if user not in policy.approvers:
        return Refuse(f"<@{user}> is not an approver for {request.env}.")
    if user == request.requester and not policy.allow_self:
        return Refuse(
            f"You requested {request.id}; {request.env} needs approval from another approver."
        )
    if user in request.approved_by:
        return Refuse(f"You already approved {request.id}.")
    approved_by = (*request.approved_by, user)
    counted = counting_approvals(policy, request, approved_by)
    return Approve(
        approved_by=approved_by, complete=len(counted) >= required_approvals(policy, request)
    )


def counting_approvals(
    policy: ApprovalPolicy, request: ApprovalRequest, approved_by: tuple[str, ...]
) -> tuple[str, ...]:
    """The approvals that count under the policy as it is now: from people who are still
    approvers, and not the requester's own where self-approval is off."""
    return tuple(
        approver
        for approver in approved_by
        if approver in policy.approvers and (policy.allow_self or approver != request.requester)
    )


def required_approvals(policy: ApprovalPolicy, request: ApprovalRequest) -> int:
    """How many approvals `request` needs under the policy as it is now: the policy's
    count, one more for a forced move, and one more for a request from the CLI where the
    requester may not approve (the person at the shell could have typed anyone's id, and
    then approved it as themselves). Read at click time, like who may approve."""
    return (
        policy.required + (1 if request.forced else 0) + unvouched_extra(policy, request.from_cli)
    )


def unvouched_extra(policy: ApprovalPolicy, from_cli: bool) -> int:
    """The approval a CLI request needs on top where its requester may not approve."""
    return 1 if from_cli and policy.required and not policy.allow_self else 0


def unsatisfiable(
    policy: ApprovalPolicy, requester: str, *, forced: bool = False, from_cli: bool = False
) -> str | None:
    """Why a request by `requester` could never get its approvals, or None."""
    needed = policy.required + (1 if forced else 0) + unvouched_extra(policy, from_cli)
    eligible = [a for a in dict.fromkeys(policy.approvers) if policy.allow_self or a != requester]
    if needed <= len(eligible):
        return None
    others = " other than the requester" if not policy.allow_self else ""
    listed = ", ".join(f"<@{a}>" for a in eligible) or "nobody"
    return (
        f"it needs {needed} approval(s) from approvers{others}, and there "
        f"{'is' if len(eligible) == 1 else 'are'} only {len(eligible)} ({listed})"
    )


def decide_denial(
    request: ApprovalRequest, policy: ApprovalPolicy, user: str, now: datetime
) -> Deny | Refuse:
    """Approvers may deny; the requester may withdraw their own request."""
    if request.status is not Status.PENDING:
        return Refuse(f"Request {request.id} is already {request.status.value}.")
    if now >= request.expires_at:
        return Refuse(f"Request {request.id} expired; nothing was run.", expired=True)
    if user not in policy.approvers and user != request.requester:
        return Refuse(f"<@{user}> is not an approver for {request.env}.")
    return Deny(by=user)


__all__ = [
    "ApprovalDecision",
    "ApprovalRequest",
    "Approve",
    "Deny",
    "Refuse",
    "Status",
    "counting_approvals",
    "decide_approval",
    "decide_denial",
    "expiry",
    "may_request",
    "new_request_id",
    "required_approvals",
    "unsatisfiable",
    "unvouched_extra",
]
