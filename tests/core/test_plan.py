"""The plan an approval covers: what it holds, its digest, and what a changed spec changes
in it, in words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.plan import Plan, PlanUnavailable, plan_of
from bot.core.spec import Spec, parse_spec
from tests.support.spec_data import spec_data

HOSTS = ["app@web-1.example.com", "app@web-2.example.com"]


def make_spec(tmp_path: Path, hosts: list[str] | None = None, **changes: Any) -> Spec:
    data = spec_data(
        hosts or HOSTS, "/srv/app", known_hosts=tmp_path / "kh", key_file=tmp_path / "key"
    )
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[leaf] = value
    return parse_spec(data)


def test_a_rollback_plan_is_the_envs_hosts_and_the_flag_turned_off(tmp_path: Path) -> None:
    plan = plan_of(make_spec(tmp_path), "rollback", "prod", {})
    assert plan == Plan("prod", tuple(HOSTS), "JOB_STAGGER_ENABLED", "false")
    assert plan.change == "JOB_STAGGER_ENABLED=false" and plan.phase is None


def test_a_job_rollback_plan_sets_that_jobs_switch_to_zero(tmp_path: Path) -> None:
    plan = plan_of(make_spec(tmp_path), "rollback", "prod", {"job": "LIVE_STATS_SYNC"})
    assert plan.change == "JOB_STAGGER_LIVE_STATS_SYNC=0"
    assert plan.digest() != plan_of(make_spec(tmp_path), "rollback", "prod", {}).digest()


def test_a_transition_plan_holds_the_target_phase_and_its_terms_as_the_spec_states_them(
    tmp_path: Path,
) -> None:
    plan = plan_of(make_spec(tmp_path), "transition", "prod", {"phase": "prod-stagger"})
    assert (plan.env, plan.change, plan.phase) == (
        "prod",
        "JOB_STAGGER_ENABLED=true",
        "prod-stagger",
    )
    terms = dict(plan.terms)
    assert terms["min_hours"] == "168" and terms["max_hours"] == "none"
    assert terms["pool_util_max"] == "< 50"
    assert terms["error_rate"] == "change <= 0% (margin 0.5 points)"


def test_the_digest_is_stable_across_host_order_and_round_trips_through_json(
    tmp_path: Path,
) -> None:
    plan = plan_of(make_spec(tmp_path), "transition", "prod", {"phase": "prod-stagger"})
    shuffled = plan_of(
        make_spec(tmp_path, hosts=list(reversed(HOSTS))), "transition", "prod",
        {"phase": "prod-stagger"},
    )  # fmt: skip
    assert shuffled.digest() == plan.digest()
    assert Plan.from_json(plan.to_json()) == plan
    assert len(plan.digest()) == 64 and plan.digest().startswith(plan.short_digest)
    assert len(plan.short_digest) == 12


def test_a_host_added_or_removed_is_named(tmp_path: Path) -> None:
    pinned = plan_of(make_spec(tmp_path), "rollback", "prod", {})
    now = plan_of(
        make_spec(tmp_path, hosts=[HOSTS[0], "app@web-3.example.com"]), "rollback", "prod", {}
    )
    assert now.changes_from(pinned) == [
        "hosts: added app@web-3.example.com",
        "hosts: removed app@web-2.example.com",
    ]
    assert pinned.changes_from(pinned) == []


def test_a_changed_criterion_of_the_target_phase_is_named_with_its_old_and_new_value(
    tmp_path: Path,
) -> None:
    args = {"phase": "staging-stagger"}
    pinned = plan_of(make_spec(tmp_path), "transition", "staging", args)
    shorter = plan_of(
        make_spec(tmp_path, phases__1__min_duration_h=24), "transition", "staging", args
    )
    assert shorter.changes_from(pinned) == [
        "phase staging-stagger: criteria changed (min_hours 72 -> 24)"
    ]
    looser = plan_of(
        make_spec(tmp_path, phases__1__success={"pool_util_max": "< 60"}), "transition",
        "staging", args,
    )  # fmt: skip
    words = looser.changes_from(pinned)[0]
    assert "pool_util_max < 50 -> < 60" in words and "lock_skips removed" in words


def test_a_flag_renamed_changes_the_plan(tmp_path: Path) -> None:
    pinned = plan_of(make_spec(tmp_path), "rollback", "prod", {})
    renamed = plan_of(make_spec(tmp_path, flag__name="STAGGER_ON"), "rollback", "prod", {})
    assert renamed.changes_from(pinned) == [
        "the change: JOB_STAGGER_ENABLED=false -> STAGGER_ON=false"
    ]


def test_what_the_plan_does_not_hold_leaves_it_unchanged(tmp_path: Path) -> None:
    args = {"phase": "prod-stagger"}
    pinned = plan_of(make_spec(tmp_path), "transition", "prod", args)
    other_phase = make_spec(tmp_path, phases__1__min_duration_h=1)
    other_people = make_spec(tmp_path, operators=["U0SOMEONE"])
    for spec in (other_phase, other_people):
        assert plan_of(spec, "transition", "prod", args).digest() == pinned.digest()


def test_a_subset_of_hosts_named_by_the_request_is_its_plan(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, hosts=[*HOSTS, "app@web-3.example.com"])
    plan = plan_of(
        spec, "rollback", "prod", {"hosts": "app@web-3.example.com, app@web-1.example.com"}
    )
    assert plan.hosts == ("app@web-1.example.com", "app@web-3.example.com")
    # A host added to the env is not in a retry of the hosts that failed.
    assert (
        plan_of(
            make_spec(tmp_path, hosts=[*HOSTS, "app@web-3.example.com", "app@web-4.example.com"]),
            "rollback",
            "prod",
            {"hosts": "app@web-3.example.com,app@web-1.example.com"},
        )
        == plan
    )


@pytest.mark.parametrize(
    ("action", "args", "why"),
    [
        ("transition", {"phase": "prod-canary"}, "phase prod-canary is no longer in the spec"),
        ("rollback", {}, "environment qa is no longer in the spec"),
    ],
)
def test_a_plan_the_spec_no_longer_has_says_what_is_gone(
    tmp_path: Path, action: str, args: dict[str, str], why: str
) -> None:
    with pytest.raises(PlanUnavailable, match=why):
        plan_of(make_spec(tmp_path), action, "qa", args)
