from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from bot.core.approvals import (
    ApprovalRequest,
    Approve,
    Deny,
    Refuse,
    Status,
    counting_approvals,
    decide_approval,
    decide_denial,
    required_approvals,
    unsatisfiable,
)
from bot.core.spec_fleet import ApprovalPolicy

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
POLICY = ApprovalPolicy(approvers=["U0LEAD1", "U0LEAD2"], required=1, allow_self=False)


PENDING = ApprovalRequest(
    id="RABCDE",
    action="rollback",
    env="prod",
    args={},
    requester="U0LEAD1",
    reason="pool at 90%",
    created_at=NOW,
    expires_at=NOW + timedelta(minutes=30),
    required=1,
)


def request(
    *,
    requester: str = PENDING.requester,
    required: int = PENDING.required,
    approved_by: tuple[str, ...] = PENDING.approved_by,
    status: Status = PENDING.status,
) -> ApprovalRequest:
    return dataclasses.replace(
        PENDING, requester=requester, required=required, approved_by=approved_by, status=status
    )


def test_requester_cannot_approve_own_prod_rollback() -> None:
    decision = decide_approval(request(), POLICY, "U0LEAD1", NOW)
    assert isinstance(decision, Refuse)
    assert "needs approval from another approver" in decision.reason


def test_requester_may_approve_own_request_where_allow_self() -> None:
    policy = POLICY.model_copy(update={"allow_self": True})
    assert decide_approval(request(), policy, "U0LEAD1", NOW) == Approve(("U0LEAD1",), True)


def test_non_approver_is_refused_by_name() -> None:
    decision = decide_approval(request(), POLICY, "U0RANDOM", NOW)
    assert (
        isinstance(decision, Refuse)
        and "<@U0RANDOM> is not an approver for prod" in decision.reason
    )


def test_expired_request_cannot_be_approved() -> None:
    decision = decide_approval(request(), POLICY, "U0LEAD2", NOW + timedelta(minutes=30))
    assert isinstance(decision, Refuse) and decision.expired


def test_two_required_approvals_complete_only_on_the_second() -> None:
    policy = POLICY.model_copy(update={"required": 2})
    first = decide_approval(request(requester="U0OPS1", required=2), policy, "U0LEAD1", NOW)
    assert first == Approve(("U0LEAD1",), complete=False)
    second = decide_approval(
        request(requester="U0OPS1", required=2, approved_by=("U0LEAD1",)), policy, "U0LEAD1", NOW
    )
    assert isinstance(second, Refuse) and "already approved" in second.reason
    third = decide_approval(
        request(requester="U0OPS1", required=2, approved_by=("U0LEAD1",)), policy, "U0LEAD2", NOW
    )
    assert third == Approve(("U0LEAD1", "U0LEAD2"), complete=True)


def test_a_closed_request_cannot_be_approved_or_denied() -> None:
    closed = request(status=Status.DENIED)
    assert isinstance(decide_approval(closed, POLICY, "U0LEAD2", NOW), Refuse)
    assert isinstance(decide_denial(closed, POLICY, "U0LEAD2", NOW), Refuse)


def test_the_requester_may_withdraw_but_strangers_may_not_deny() -> None:
    assert decide_denial(request(requester="U0OPS1"), POLICY, "U0OPS1", NOW) == Deny("U0OPS1")
    assert isinstance(decide_denial(request(requester="U0OPS1"), POLICY, "U0RANDOM", NOW), Refuse)


def test_the_number_of_approvals_needed_is_the_policys_at_click_time() -> None:
    made_under_one = request(requester="U0OPS1", required=1)
    raised = ApprovalPolicy(approvers=["U0LEAD1", "U0LEAD2"], required=2, allow_self=False)

    first = decide_approval(made_under_one, raised, "U0LEAD1", NOW)

    assert first == Approve(approved_by=("U0LEAD1",), complete=False)
    second = decide_approval(
        request(requester="U0OPS1", required=1, approved_by=("U0LEAD1",)), raised, "U0LEAD2", NOW
    )
    assert second == Approve(approved_by=("U0LEAD1", "U0LEAD2"), complete=True)


def test_a_forced_request_needs_one_approval_more_than_the_policy_says_at_click_time() -> None:
    forced = dataclasses.replace(request(requester="U0OPS1"), args={"forced": "yes"})
    one = ApprovalPolicy(approvers=["U0LEAD1", "U0LEAD2"], required=1)

    assert required_approvals(one, forced) == 2
    decision = decide_approval(forced, one, "U0LEAD1", NOW)
    assert decision == Approve(approved_by=("U0LEAD1",), complete=False)


def test_a_policy_an_approvers_own_request_can_never_meet_is_named() -> None:
    tight = ApprovalPolicy(approvers=["U0LEAD1", "U0LEAD2"], required=2, allow_self=False)

    problem = unsatisfiable(tight, "U0LEAD1")

    assert problem is not None and "needs 2 approval(s)" in problem and "<@U0LEAD2>" in problem
    assert unsatisfiable(tight, "U0OPS1") is None  # an operator's request can be met
    assert unsatisfiable(tight.model_copy(update={"allow_self": True}), "U0LEAD1") is None
    assert unsatisfiable(POLICY, "U0LEAD1", forced=True) is not None


def test_an_approval_from_someone_no_longer_an_approver_does_not_count() -> None:
    earlier = request(requester="U0OPS1", approved_by=("U0FIRED",))
    two = ApprovalPolicy(approvers=["U0LEAD1", "U0LEAD2"], required=2)

    decision = decide_approval(earlier, two, "U0LEAD1", NOW)

    assert decision == Approve(approved_by=("U0FIRED", "U0LEAD1"), complete=False)


def test_a_self_approval_made_while_allowed_stops_counting_when_it_is_not() -> None:
    earlier = request(requester="U0LEAD1", approved_by=("U0LEAD1",))

    decision = decide_approval(earlier, POLICY, "U0LEAD2", NOW)  # allow_self = false now

    assert decision == Approve(approved_by=("U0LEAD1", "U0LEAD2"), complete=True)
    assert counting_approvals(POLICY, earlier, ("U0LEAD1", "U0LEAD2")) == ("U0LEAD2",)
