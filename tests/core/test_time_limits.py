"""How long an execution may hold its env: one tier's timeouts for each tier (batch) it
runs in — the env's tiers, or a retry's subset of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.approvals import ApprovalRequest
from bot.core.spec import Spec
from bot.core.time_limits import execution_time_limit, request_time_limit
from tests.core.test_plan import make_spec

HOSTS = [f"app@web-{number}.example.com" for number in range(1, 6)]
NOW = datetime(2026, 2, 1, 12, tzinfo=UTC)


def batched(tmp_path: Path, **changes: object) -> Spec:
    """Staging's five hosts: web-1 the canary, then one host per batch (five tiers)."""
    return make_spec(
        tmp_path,
        HOSTS,
        environments__staging__canary=[HOSTS[0]],
        environments__staging__max_parallel=1,
        **changes,
    )


def request(action: str, args: dict[str, str]) -> ApprovalRequest:
    return ApprovalRequest(
        "RLIMIT", action, "staging", args, "U0OPS1", "", NOW, NOW + timedelta(minutes=30), 1
    )


def test_a_transition_in_five_batches_may_take_five_tiers_time(tmp_path: Path) -> None:
    spec = batched(tmp_path)
    move = request("transition", {"phase": "staging-baseline"})

    one_tier = execution_time_limit(spec, "transition", 1)
    two_tiers = execution_time_limit(spec, "transition", 2)
    assert request_time_limit(spec, move) == one_tier + 4 * (two_tiers - one_tier)


def test_a_retry_on_two_hosts_may_take_two_tiers_time(tmp_path: Path) -> None:
    spec = batched(tmp_path)
    retry = request("transition", {"phase": "staging-baseline", "hosts": ",".join(HOSTS[3:])})

    assert request_time_limit(spec, retry) == execution_time_limit(spec, "transition", 2)


def test_a_rollback_goes_to_every_host_at_once_unless_the_env_rolls_back_in_tiers(
    tmp_path: Path,
) -> None:
    rollback = request("rollback", {})

    assert request_time_limit(batched(tmp_path), rollback) == execution_time_limit(
        batched(tmp_path), "rollback", 1
    )
    in_tiers = batched(tmp_path, environments__staging__rollback_in_tiers=True)
    assert request_time_limit(in_tiers, rollback) == execution_time_limit(in_tiers, "rollback", 5)
    assert execution_time_limit(in_tiers, "rollback", 5) > execution_time_limit(
        in_tiers, "rollback", 1
    )
