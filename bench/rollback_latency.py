"""Rollback end to end: from the approving click to verified on the host.

    python3 -m bench.rollback_latency [RUNS]

Real parts throughout: the bot served by waitress, Slack-signed requests, a Slack Web
API stand-in, and a real OpenSSH server on loopback. Prints median and maximum, and
their ratio to the 5 s goal (below 1.0 meets it).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from bot.core.clock import SystemClock
from bot.core.spec import parse_spec
from bot.rehearsal.slack_standin import ApiCall, SlackStandIn
from bot.render.blocks import APPROVE_ACTION
from tests.support.served_bot import ServedBot, start_bot
from tests.support.spec_data import ENV_FILE, LEAD, OPERATOR, make_app_dir, spec_data
from tests.support.ssh_fixtures import SshdServer

GOAL_S = 5.0


def verified(bot: ServedBot[SystemClock], request_id: str, call: ApiCall) -> bool:
    return (
        "verified on all" in call.text
        and call.params.get("_ts") is not None
        and bot.request(request_id).status.value == "succeeded"
    )


def timed_rollbacks(
    bot: ServedBot[SystemClock], slack: SlackStandIn, app_dir: Path, runs: int
) -> list[float]:
    """Seconds from each Approve click to its "verified" post, over `runs` rollbacks."""
    timings: list[float] = []
    for run in range(runs):
        (app_dir / ".env").write_bytes(ENV_FILE)
        reply = bot.command(OPERATOR, f"rollback prod --reason 'bench {run}'")
        request_id = bot.request_id_from(reply.json()["text"])
        started = time.monotonic()
        bot.click(LEAD, APPROVE_ACTION, request_id)
        slack.wait_for(partial(verified, bot, request_id), timeout=60, method="chat.postMessage")
        timings.append(time.monotonic() - started)
        slack.calls.clear()
    return timings


def main(runs: int = 20) -> None:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        sshd = SshdServer(tmp / "sshd")
        slack = SlackStandIn()
        app_dir = make_app_dir(tmp / "host")
        spec = parse_spec(
            spec_data(
                [str(sshd.host_address)],
                app_dir,
                known_hosts=sshd.known_hosts,
                key_file=sshd.client_key,
            )
        )
        bot, (server, executor), _thread = start_bot(tmp, slack, SystemClock(), spec, app_dir)
        try:
            timings = timed_rollbacks(bot, slack, app_dir, runs)
        finally:
            server.close()
            executor.shutdown(wait=True)
            slack.close()
            sshd.stop()
    median, worst = statistics.median(timings), max(timings)
    print(f"{'measure':<28}{'seconds':>10}{'ratio to 5 s goal':>20}")
    print(f"{'click → verified, median':<28}{median:>10.3f}{median / GOAL_S:>20.2f}")
    print(f"{'click → verified, maximum':<28}{worst:>10.3f}{worst / GOAL_S:>20.2f}")
    print(f"({len(timings)} runs, 1 loopback host)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
