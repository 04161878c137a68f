"""A break-glass rollback is executed at once: on an env that rolls back in tiers, it
still goes to every host in one go, so a failing host stops nothing. Three hosts on a
real sshd, signed Slack requests."""

from __future__ import annotations

from tests.rollout.test_break_glass import ONCALL, on_call
from tests.rollout.test_canary_tiers import OFF, audited, ssh_hosts
from tests.support.tiered_fleet import TieredFleet


def test_a_break_glass_rollback_goes_to_every_host_at_once_even_where_rollbacks_go_in_tiers(
    tiered_fleet: TieredFleet,
) -> None:
    fleet = tiered_fleet
    canary, second, third = fleet.hosts
    bot = on_call(fleet.make_bot(rollback_in_tiers=True))
    fleet.break_reload(canary)

    text = bot.command(ONCALL, "rollback staging --now --reason 'pool at 95%'").json()["text"]
    request_id = bot.request_id_from(text)
    failed = bot.slack.wait_for(lambda call: "FAILED" in call.text, method="chat.postMessage")

    assert "not started" not in failed.text
    assert ssh_hosts(bot, request_id) == {canary, second, third}
    assert not audited(bot, "rollback.tier")  # one tier: no batches
    assert OFF in fleet.env_file(second) and OFF in fleet.env_file(third)
