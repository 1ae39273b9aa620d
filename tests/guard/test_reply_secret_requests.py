"""The output screen never lets a reply ask the customer for a card number, security code,
password, PIN or one-time code (issue 17.3), whoever wrote the sentence: a model, a quoted
article or a template. Replies that only talk about secrets safely pass unchanged."""

from __future__ import annotations

import pytest

from frontdesk.guard.output_screen import SECRET_REPLACEMENT, OutputScreen


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("Please reply with your full card number and the CVV so I can check.", "card number"),
        ("Could you tell me the one-time code we just sent you?", "one-time code"),
        ("What is your PIN?", "PIN"),
        ("To verify you, send me your password.", "password"),
        ("Type the 3-digit security code on the back of your card in this chat.",
         "card security code"),
        ("I'll need your online banking login details to look into it.", "bank login"),
    ],
)  # fmt: skip
def test_a_reply_asking_for_a_secret_loses_that_sentence(reply: str, kind: str) -> None:
    text = f"Thanks for waiting [1].\n{reply} Then I can help."
    # Even when the operator's article says it (a quoted passage is no excuse).
    result = OutputScreen().check(text, given=[], passages=[reply])
    assert result.text == f"Thanks for waiting [1].\n{SECRET_REPLACEMENT} Then I can help."
    assert result.findings == [f"secret_request:{kind}"]


@pytest.mark.parametrize(
    "reply",
    [
        "Never share your PIN or password with anyone, including us.",
        "We will never ask for your card number by email or chat.",
        "Enter the one-time code we texted you into the app.",
        "Reset your password at Settings > Security.",
        "At checkout, enter your card number, expiry date and CVV in the secure payment form.",
        "Please confirm the last four digits of the card you paid with.",
        SECRET_REPLACEMENT,
    ],
)
def test_replies_that_talk_about_secrets_safely_pass(reply: str) -> None:
    result = OutputScreen().check(reply, given=[])
    assert (result.text, result.findings) == (reply, [])
