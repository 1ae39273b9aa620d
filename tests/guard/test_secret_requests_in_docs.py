"""Requests for secrets against ordinary documentation (written before the fix, from what the
knowledge screen held back in two public docs sets, rclone and httpx): a CLI transcript that
prompts "Confirm the password:", a library that reads credentials, a login error's heading
are not requests; the same verbs addressed to the conversation still are."""

from __future__ import annotations

import pytest

from frontdesk.secret_requests import asks_for_secret

DOCUMENTATION = [
    "Enter the password:\npassword:\nConfirm the password:\npassword:",
    "Choose a new password and confirm it.",
    "Confirm your new password, then select Save.",
    "Read credentials from runtime (environment variables, CLI or MSI).",
    "The client reads credentials from the netrc file.",
    "Incorrect email or password",
    "Sign in with your email and password.",
]

REQUESTS = [
    "Please confirm your password in your reply so we can verify you.",
    "To verify your identity, confirm your PIN to the agent.",
    "Confirm the 3-digit security code on the back of your card in this chat.",
    "Read me the long number on your card.",
    "Read out the one-time code on your screen.",
    "Email us your password and we'll reset it.",
    "Reply with your email and password.",
]


@pytest.mark.parametrize("text", DOCUMENTATION)
def test_documentation_about_secrets_is_not_a_request(text: str) -> None:
    assert not asks_for_secret(text)


@pytest.mark.parametrize("text", REQUESTS)
def test_the_same_verbs_addressed_to_the_conversation_are_requests(text: str) -> None:
    assert asks_for_secret(text)
