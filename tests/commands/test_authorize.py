"""Who may run what, as the dispatcher enforces it for every command and button."""

from __future__ import annotations

import pytest

from bot.core.replies import Invocation
from bot.rollout.context import BotContext
from bot.store.baselines import Baselines
from bot.store.silences import Silences
from commands import dispatch
from commands.registry import COMMANDS
from tests.support.spec_data import LEAD, LEAD_2, OPERATOR, STRANGER

# Every registered command, as a stranger to the rollout types it, and what the stranger
# gets: the refusal (audited under that action), or an answer.
SAMPLES = {
    "help": ("help", None),
    "status": ("status", None),
    "history": ("history", None),
    "report": ("report prod", None),
    "kpi": ("kpi prod", None),
    "offsets": ("offsets prod", None),
    "audit": ("audit", None),
    "analysis": ("analysis prod", None),
    "baseline": ("baseline capture prod 6h", "baseline.capture.refused"),
    "rollback": ("rollback prod --reason 'pool at 90%'", "rollback.refused"),
    "advance": ("advance", "advance.refused"),
    "phase": ("phase prod-baseline --force --reason skip", "phase.refused"),
    "silence": ("silence all 2h --reason noisy", "silence.refused"),
    "unsilence": ("unsilence", "unsilence.refused"),
    "checkpoint": ("checkpoint prod", "checkpoint.refused"),
    "recover": ("recover RABCDE", "recover.refused"),
    "ack": ("ack A1", "ack.refused"),
    "retry": ("retry RABCDE", "retry.refused"),
    # Slack's approvals: the env's policy answers (there is no such request).
    "approve": ("approve RABCDE", None),
    "deny": ("deny RABCDE", None),
    "lock": ("lock prod --reason 'why not'", "lock.refused"),
    # The lock's holder and the env's approvers: the command answers (nothing is locked).
    "unlock": ("unlock prod", None),
}


def audited(context: BotContext) -> list[str]:
    return [row["action"] for row in context.audit.rows()]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_stranger_may_read_but_not_write(context: BotContext, name: str) -> None:
    text, refusal = SAMPLES[name]
    reply = dispatch(context, Invocation(user=STRANGER, text=text))
    if refusal is None:
        assert "may not run" not in reply.text
        assert not [action for action in audited(context) if action.endswith(".refused")]
        return
    assert not reply.ok and reply.followups == ()
    assert f"<@{STRANGER}> may not run" in reply.text
    assert f"<@{OPERATOR}>" in reply.text and f"<@{LEAD}>" in reply.text  # who may
    last = context.audit.latest(None, 1)[0]
    assert (last["action"], last["actor"], last["outcome"]) == (refusal, STRANGER, "refused")
    assert "not an operator" in last["detail"]
    assert context.store.open_requests() == []
    assert Baselines(context.store).latest("prod") is None
    assert Silences(context.store).active(context.clock.now()) == []


def test_a_stranger_cannot_rewrite_the_baseline(context: BotContext) -> None:
    reply = dispatch(context, Invocation(user=STRANGER, text="baseline capture prod 6h"))
    assert reply.followups == ()  # nothing is measured, nothing saved
    assert "may not run `baseline capture` on prod" in reply.text
    shown = dispatch(context, Invocation(user=STRANGER, text="baseline show prod"))
    assert shown.text == "No baseline captured for prod yet."


def split_approvers(context: BotContext) -> None:
    """staging's leads are LEAD and another, prod's LEAD_2 and another: each env has an
    approver besides whoever requests there."""
    spec = context.spec
    environments = {
        name: environment.model_copy(
            update={
                "approvals": environment.approvals.model_copy(
                    update={
                        "approvers": [LEAD, "U0LEADS"] if name == "staging" else [LEAD_2, "U0LEADP"]
                    }
                )
            }
        )
        for name, environment in spec.environments.items()
    }
    context.spec = spec.model_copy(update={"environments": environments})


def test_an_approver_may_write_on_their_own_env_only(context: BotContext) -> None:
    split_approvers(context)

    def say(user: str, text: str) -> str:
        return dispatch(context, Invocation(user, text)).text

    # advance/phase: the env is the target phase's (the first phase is staging's).
    assert "may not run `advance` on staging" in say(LEAD_2, "advance")
    assert "Checking the gates" in say(LEAD, "advance")
    assert "may not run `phase` on staging" in say(LEAD_2, "phase staging-stagger --force")
    assert "may not run `checkpoint` on prod" in say(LEAD, "checkpoint prod")
    assert "Rollback request `R" in say(LEAD, "rollback staging")
    refused = say(LEAD, "rollback prod")
    assert "may not run `rollback` on prod" in refused and f"<@{LEAD_2}>" in refused
    # silence names no env: an approver of any env may.
    assert dispatch(context, Invocation(LEAD_2, "silence all 1h")).ok


def test_with_no_operators_only_the_approvers_may_write(context: BotContext) -> None:
    context.spec = context.spec.model_copy(update={"operators": []})
    refused = dispatch(context, Invocation(OPERATOR, "rollback prod --reason 'pool at 90%'"))
    assert not refused.ok and "no operators" in refused.text
    assert context.store.open_requests() == []
    assert "Rollback request `R" in dispatch(context, Invocation(LEAD, "rollback prod")).text
    assert dispatch(context, Invocation(OPERATOR, "status")).ok


@pytest.mark.parametrize("text", ["lock prod --reason 'load test'", "unlock prod"])
def test_lock_and_unlock_are_refused_from_the_cli_even_for_an_approvers_typed_id(
    context: BotContext, text: str
) -> None:
    reply = dispatch(context, Invocation(user=LEAD, text=text, source="cli"))
    name = text.split()[0]
    assert not reply.ok and f"`{name}` works only from Slack" in reply.text
    assert f"/stagger {name} <env>" in reply.text
    last = context.audit.latest(None, 1)[0]
    assert (last["action"], last["actor"], last["outcome"]) == (f"{name}.refused", LEAD, "refused")
    assert "locked" not in dispatch(context, Invocation(user=STRANGER, text="status prod")).text
