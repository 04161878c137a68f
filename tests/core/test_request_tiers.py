"""Which tiers a rollback runs in: the env's `rollback_in_tiers` ones for a person's
approved request, every host at once for a break-glass and for `auto_rollback`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.approvals import ApprovalRequest
from bot.core.request_tiers import execution_tiers
from bot.core.spec import parse_spec
from bot.core.tiers import ALL_HOSTS
from tests.core.test_tiers import HOSTS, prod_with

START = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SPEC = parse_spec(prod_with(canary=[HOSTS[0]], max_parallel=3, rollback_in_tiers=True))


def rollback(requester: str, required: int, **args: Any) -> ApprovalRequest:
    return ApprovalRequest(
        "R1TIER", "rollback", "prod", args, requester, "pool at 95%",
        START, START + timedelta(minutes=30), required,
    )  # fmt: skip


def test_an_approved_rollback_follows_rollback_in_tiers() -> None:
    tiers = execution_tiers(SPEC, rollback("U0OPS1", 1))
    assert [tier.name for tier in tiers] == ["canary", "batch 2", "batch 3"]


def test_a_break_glass_rollback_goes_to_every_host_at_once_whatever_rollback_in_tiers() -> None:
    tiers = execution_tiers(SPEC, rollback("U0ONCALL", 0, break_glass="U0ONCALL"))
    assert [(tier.name, tier.hosts) for tier in tiers] == [(ALL_HOSTS, tuple(HOSTS))]


def test_the_bots_auto_rollback_goes_to_every_host_at_once_whatever_rollback_in_tiers() -> None:
    tiers = execution_tiers(SPEC, rollback("stagger-bot", 0))
    assert [(tier.name, tier.hosts) for tier in tiers] == [(ALL_HOSTS, tuple(HOSTS))]
