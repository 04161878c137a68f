"""`/stagger baseline capture`: who may rewrite what the relative targets are judged against,
and not during the stagger it would be compared with."""

from __future__ import annotations

from datetime import timedelta

from bot.store.baselines import Baselines
from tests.support.app_logs import Traffic, append_log
from tests.support.rollout_state import save_baseline, start_phase
from tests.support.served_bot import Bot
from tests.support.spec_data import LEAD, OPERATOR, START, STRANGER


def test_a_stranger_cannot_rewrite_the_baseline_that_mutes_the_abort_trigger(bot: Bot) -> None:
    save_baseline(bot, "prod", START - timedelta(hours=2), error_rate=1.0)
    text = bot.command(STRANGER, "baseline capture prod 6h").json()["text"]
    assert f"<@{STRANGER}> may not run `baseline capture` on prod" in text
    assert f"<@{OPERATOR}>" in text and f"<@{LEAD}>" in text
    baseline = Baselines(bot.store).latest("prod")
    assert baseline is not None and baseline.captured_by == "test"  # untouched
    refusal = bot.context.audit.latest("prod", 1)[0]
    assert (refusal["action"], refusal["actor"]) == ("baseline.capture.refused", STRANGER)
    assert not bot.slack.of("chat.postMessage")


def test_a_capture_during_the_stagger_phase_is_refused_unless_forced_with_a_reason(
    bot: Bot,
) -> None:
    save_baseline(bot, "prod", START - timedelta(hours=3), error_rate=1.0)
    start_phase(bot, "prod-stagger", START - timedelta(hours=2))
    append_log(
        bot.app_dir / "logs" / "combined.log", bot.context.spec, START - timedelta(hours=2), 60,
        Traffic(staggered=True, pool_util=20.0, lock_skips_per_minute=0),
    )  # fmt: skip
    refused = bot.command(OPERATOR, "baseline capture prod 6h").json()["text"]
    assert "prod-stagger" in refused and "compare the stagger with itself" in refused
    assert "--force --reason" in refused
    assert Baselines(bot.store).latest("prod").captured_by == "test"  # type: ignore[union-attr]
    assert bot.context.audit.latest("prod", 1)[0]["action"] == "baseline.capture.refused"
    no_reason = bot.command(OPERATOR, "baseline capture prod 6h --force").json()["text"]
    assert "`--force` needs `--reason TEXT`" in no_reason

    forced = bot.command(OPERATOR, "baseline capture prod 1h --force --reason 'new hosts'")
    assert "Capturing the baseline for prod" in forced.json()["text"]
    posted = bot.slack.wait_for(
        lambda call: "Baseline for prod captured by" in call.text, method="chat.postMessage"
    )
    assert posted.params["channel"] == "C0ROLLOUT"
    assert f"<@{OPERATOR}>" in posted.text and "last 1h" in posted.text
    assert "2026-02-01 11:00–12:00 UTC (1h)" in posted.text
    assert "forced during the stagger phase prod-stagger: new hosts" in posted.text
    assert Baselines(bot.store).latest("prod").captured_by == OPERATOR  # type: ignore[union-attr]
    captured = bot.context.audit.latest("prod", 1)[0]
    assert captured["action"] == "baseline.captured" and '"forced": "yes"' in captured["args"]


def test_every_capture_is_posted_in_the_channel_saying_it_was_not_forced(bot: Bot) -> None:
    start_phase(bot, "prod-stagger", START - timedelta(hours=2))
    # A log that covers the 6 hours (one that began inside them would rate its own span).
    append_log(
        bot.app_dir / "logs" / "combined.log", bot.context.spec, START - timedelta(hours=6), 60,
        Traffic(staggered=True, pool_util=20.0, lock_skips_per_minute=0),
    )  # fmt: skip
    # Staging is not the env being staggered: its baseline may be taken as usual.
    bot.command(LEAD, "baseline capture staging 6h")
    posted = bot.slack.wait_for(
        lambda call: "Baseline for staging captured by" in call.text, method="chat.postMessage"
    )
    assert posted.params["channel"] == "C0ROLLOUT" and f"<@{LEAD}>" in posted.text
    assert "over the last 6h (2026-02-01 06:00–12:00 UTC (6h)), not forced" in posted.text
