"""What a post too big for Slack becomes: its first lines and a note in the message, all
of it in the file; and several posts as one message, every line kept."""

from __future__ import annotations

from bot.render.blocks import rollback_offer_blocks
from bot.render.message_caps import SECTION_LIMIT, TABLE_ROWS, cap, chunks, combined, fits


def table(rows: int) -> str:
    body = "\n".join(f"job-{n:03d}   {n * 7 % 60:>2}s   ok" for n in range(rows))
    return f"*Offsets for prod*\n```\njob       offset\n{body}\n```\n_done_"


def test_a_short_post_and_a_forty_row_table_go_as_they_are() -> None:
    text = table(TABLE_ROWS - 1)  # with its header row: forty
    assert fits(text)
    assert cap(text).file is None and cap(text).text == text


def test_a_table_over_forty_rows_is_a_summary_and_a_file_with_every_row() -> None:
    text = table(212)
    capped = cap(text)
    assert capped.file is not None
    assert capped.file.decode() == text
    assert capped.text.startswith("*Offsets for prod*")
    assert "213 rows" in capped.text and "the full text is in the attached file" in capped.text
    assert capped.filename == "offsets-for-prod.txt" and capped.filename in capped.text
    assert "job-100" not in capped.text


def test_a_text_over_three_thousand_characters_goes_as_a_file() -> None:
    text = "*Audit trail* (newest first)\n" + "\n".join(
        f"• entry {n} " + "x" * 80 for n in range(35)
    )
    assert len(text) > SECTION_LIMIT and text.count("\n") < TABLE_ROWS
    capped = cap(text, name="audit")
    assert capped.filename == "audit.txt"
    assert capped.file == text.encode()
    assert len(capped.text) < 1500


def test_a_capped_post_keeps_its_buttons_and_its_summary_closes_an_open_code_block() -> None:
    text = "```\n" + "\n".join(f"host-{n}" for n in range(60)) + "\n```"
    capped = cap(text, rollback_offer_blocks(text, "prod"))
    assert capped.blocks is not None
    assert [block["type"] for block in capped.blocks] == ["section", "actions"]
    assert capped.text.count("```") % 2 == 0


def test_posts_combined_in_one_message_keep_every_line_in_sections_slack_takes() -> None:
    parts = [table(100), "second post", table(80)]
    text, blocks = combined(parts, [])
    assert all(len(block["text"]["text"]) <= SECTION_LIMIT for block in blocks)
    shown = "\n".join(block["text"]["text"] for block in blocks)
    for line in "\n\n".join(parts).splitlines():
        assert line in shown
    assert text == "\n\n".join(parts)


def test_a_line_longer_than_a_section_is_cut_into_pieces_that_lose_nothing() -> None:
    line = "y" * (SECTION_LIMIT * 2 + 5)
    pieces = chunks(line + "\nnext", SECTION_LIMIT)
    assert "".join(pieces) == line + "\nnext"
    assert all(len(piece) <= SECTION_LIMIT for piece in pieces)


def test_a_capped_posts_file_is_named_for_its_words_not_its_emoji_codes() -> None:
    text = ":tada: *Rollout succeeded.* prod-stagger ran 7 days\n" + "\n".join(
        f":white_check_mark: target {n} met " + "x" * 80 for n in range(40)
    )
    capped = cap(text)
    assert capped.filename == "rollout-succeeded-prod-stagger-ran-7-days.txt"


def test_posts_joined_in_one_message_keep_each_of_their_button_rows_apart() -> None:
    offer = {"type": "actions", "block_id": "offer:prod", "elements": []}
    _, blocks = combined(["post 1", "post 2", "post 3"], [offer, offer, offer])
    ids = [block["block_id"] for block in blocks if block["type"] == "actions"]
    assert ids == ["offer:prod", "offer:prod#2", "offer:prod#3"]


def test_posts_joined_past_slacks_limit_say_the_rest_is_not_shown() -> None:
    text, _ = combined(["x" * 30_000, "y" * 30_000], [])
    assert len(text) <= 40_000
    assert "characters more do not fit in one Slack message and are not shown" in text
    assert "audit trail" not in text
