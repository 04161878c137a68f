"""A request to /slack/events as the `BoltRequest` Bolt dispatches, its body read here.

Bolt's own reading takes any form body with the word `payload` anywhere in it for a
button's payload, so `/stagger rollback staging --reason 'payload queue backed up'` was
answered 404. Here a form body is a button's only when it has a `payload` field, as
Slack sends them; every other form body is a slash command's fields, whatever its text.
Bolt still checks the signature, on the raw body kept in `raw_body`.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context

# The context key under which a body that could not be read says why. The app refuses
# such a request, but only after the signature is checked: an unsigned one is a 401.
UNREADABLE = "stagger_unreadable_body"


def events_request(raw_body: str, headers: Mapping[str, str], query: str = "") -> BoltRequest:
    request = BoltRequest(body="", query=query, headers=dict(headers))
    try:
        body = read_body(raw_body, request.content_type)
        context = build_context(BoltContext({}), body)
    except (ValueError, TypeError, AttributeError, KeyError) as error:
        body, context = {}, build_context(BoltContext({}), {})
        context[UNREADABLE] = (
            str(error) if isinstance(error, UnreadableBody) else "its fields are not Slack's"
        )
    # Set after construction: BoltRequest's constructor reads the body its own way. (It
    # reads `raw_body` again only to copy a request for a lazy listener; this app has none.)
    request.raw_body = raw_body
    request.body = body
    request.context = context
    return request


class UnreadableBody(ValueError):
    """Why a body is not one Slack sends."""


def read_body(raw_body: str, content_type: str | None) -> dict[str, Any]:
    """An Events API delivery (JSON), a button's `payload` (JSON in a form field) or a slash
    command's form fields."""
    if not raw_body:
        return {}
    if (content_type or "").strip().lower() == "application/json":
        return _json_object(raw_body, "the body")
    fields = dict(urllib.parse.parse_qsl(raw_body, keep_blank_values=True))
    if "payload" in fields:
        return _json_object(fields["payload"], "its payload")
    return fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise UnreadableBody(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise UnreadableBody(f"{what} is not a JSON object")
    return value
