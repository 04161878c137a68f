"""What an approval covers, as the request's message shows it."""

from __future__ import annotations

from bot.core.plan import Plan
from bot.render.plan_text import plan_text


def test_a_few_hosts_are_all_listed_with_the_change() -> None:
    plan = Plan("prod", ("app@web-1", "app@web-2"), "JOB_STAGGER_ENABLED", "false")
    text = plan_text(plan)
    assert "*Hosts (prod):* `app@web-1`, `app@web-2`" in text
    assert "*Change:* `JOB_STAGGER_ENABLED=false`" in text
    assert f"`{plan.short_digest}`" in text and "Phase" not in text


def test_many_hosts_are_counted_with_the_first_few_named() -> None:
    hosts = tuple(f"app@web-{number:02}" for number in range(1, 41))
    text = plan_text(Plan("prod", hosts, "JOB_STAGGER_ENABLED", "true"))
    assert "40 hosts: `app@web-01`" in text and "`app@web-05` and 35 more" in text
    assert "app@web-06" not in text


def test_a_move_shows_its_target_phase_and_terms() -> None:
    plan = Plan(
        "prod", ("app@web-1",), "JOB_STAGGER_ENABLED", "true", "prod-stagger",
        (("min_hours", "168"), ("pool_util_max", "< 50")),
    )  # fmt: skip
    assert "*Phase:* prod-stagger (min_hours 168, pool_util_max < 50)" in plan_text(plan)
