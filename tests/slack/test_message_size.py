"""No post beyond Slack's limits or a sane size, through the signed HTTP path: an answer or
a post too big goes as a summary with a file holding all of it, and one command makes at
most three posts, every line still there."""

from __future__ import annotations

from collections.abc import Callable

from bot.rehearsal.slack_standin import ApiCall
from bot.store.audit import AuditEntry
from tests.support.served_bot import Bot
from tests.support.spec_data import OPERATOR

# Nothing listens on these loopback ports: each host is refused at once. (22 would be
# shown without its port.)
UNREACHABLE = tuple(f"root@127.0.0.1:{port}" for port in range(2, 47) if port != 22)


def uploads(bot: Bot) -> list[ApiCall]:
    return bot.slack.of("files.completeUploadExternal")


def test_an_audit_answer_of_a_hundred_entries_is_a_summary_and_a_file_with_all_of_them(
    bot: Bot,
) -> None:
    for n in range(100):
        bot.context.record(
            AuditEntry(OPERATOR, "slack", "silence", None, {"n": n}, "ok", f"entry {n}")
        )

    reply = bot.command(OPERATOR, "audit 100").json()

    assert "rows" in reply["text"] and "the full text is in the attached file" in reply["text"]
    assert "entry 50" not in reply["text"]
    upload = bot.slack.wait_for(lambda call: True, method="files.completeUploadExternal")
    [(title, filename, content)] = upload.files
    text = content.decode()
    assert all(f"entry {n}" in text for n in range(100))
    assert filename in reply["text"] and "Audit trail" in title
    assert upload.params["channel_id"] == "C0ROLLOUT"
    assert f"<@{OPERATOR}>" in upload.params["initial_comment"]


def test_a_short_answer_has_no_file(bot: Bot) -> None:
    reply = bot.command(OPERATOR, "audit 3").json()
    assert "attached file" not in reply["text"]
    bot.command(OPERATOR, "status")  # a later command: the first has surely finished
    assert uploads(bot) == []


def test_a_kpi_table_of_many_hosts_is_posted_as_a_summary_with_the_table_in_its_thread(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=UNREACHABLE)

    bot.command(OPERATOR, "kpi prod 1h")

    summary = bot.slack.wait_for(
        lambda call: "KPIs for prod" in call.text, method="chat.postMessage"
    )
    assert "the full text is in the attached file" in summary.text
    assert len(summary.text) < 3000
    upload = bot.slack.wait_for(lambda call: True, method="files.completeUploadExternal")
    assert upload.params["thread_ts"] == summary.params["_ts"]
    [(_, _, content)] = upload.files
    assert all(f"`{host}`" in content.decode() for host in UNREACHABLE)


def test_a_failed_rollback_past_its_three_posts_is_broadcast_on_its_own_with_every_line(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(required=0, extra_hosts=UNREACHABLE)  # runs at once, no approval

    bot.command(OPERATOR, "rollback prod --reason 'pool at 90%'")

    # Its request and "Rolling back" of 45 hosts (a summary and a file) spend the three
    # posts; the failed outcome is an alarm: its own post, broadcast, with its file.
    outcome = bot.slack.wait_for(
        lambda call: "FAILED on 44 of 45 host(s)" in call.text, method="chat.postMessage"
    )
    assert outcome.params["reply_broadcast"] in (True, "1", "true")
    assert "the full text is in the attached file" in outcome.text
    upload = bot.slack.wait_for(
        lambda call: (
            call.params.get("thread_ts") == outcome.params["thread_ts"]
            and any(b"FAILED on 44 of 45" in content for _, _, content in call.files)
        ),
        method="files.completeUploadExternal",
    )
    [(_, _, content)] = upload.files
    assert all(f"`{host}`" in content.decode() for host in UNREACHABLE)
    assert not [c for c in bot.slack.of("chat.update") if "FAILED on 44" in c.text]


def test_a_file_slack_refuses_is_posted_as_a_long_message_in_the_thread_instead(
    bot_factory: Callable[..., Bot],
) -> None:
    bot = bot_factory(extra_hosts=UNREACHABLE)
    for _ in range(4):  # the first try and the ServerErrorRetryHandler's three retries
        bot.slack.fail_next("files.getUploadURLExternal", 500)

    bot.command(OPERATOR, "kpi prod 1h")

    summary = bot.slack.wait_for(
        lambda call: "KPIs for prod" in call.text, method="chat.postMessage"
    )
    whole = bot.slack.wait_for(
        lambda call: call.params.get("thread_ts") == summary.params["_ts"],
        method="chat.postMessage",
    )
    assert all(f"`{host}`" in whole.all_text() for host in UNREACHABLE)
    assert uploads(bot) == []
