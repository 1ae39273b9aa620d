"""The operator's own contact details, configured and found in the workspace."""

from __future__ import annotations

from pathlib import Path

from frontdesk.config.settings import OperatorContacts
from frontdesk.guard.own_contacts import OwnContacts, find_contacts, workspace_contacts


def test_found_in_text_and_normalised() -> None:
    found = find_contacts(
        [
            "Call 0800 123 4567 or +44 20 7946 0958, mail Help@Heronvale.example.",
            "See [status](https://Status.Heronvale.example/now), www.heronvale.example/help "
            "or http://192.168.1.1 on your router. Phishing comes from kestrel-refunds.example.",
        ]
    )
    assert found.phones == {"08001234567", "442079460958"}
    assert found.emails == {"help@heronvale.example"}
    assert found.domains == {"status.heronvale.example", "heronvale.example", "192.168.1.1"}


def test_configured_values_are_normalised_like_found_ones() -> None:
    own = OwnContacts.configured(
        OperatorContacts(
            phones=["0800-123-4567"], emails=["HELP@heronvale.example"],
            domains=["https://www.heronvale.example/x", "Shop.Example:443"],
        )
    )  # fmt: skip
    assert own.values == {"08001234567", "help@heronvale.example"}
    assert own.domains == {"heronvale.example", "shop.example"}


def test_workspace_contacts_read_knowledge_text_files_and_rules(tmp_path: Path) -> None:
    knowledge = tmp_path / "knowledge"
    (knowledge / "billing").mkdir(parents=True)
    (knowledge / "billing" / "fraud.md").write_text("Fraud line: 0800 123 4567\n")
    (knowledge / "links.txt").write_text("https://heronvale.example/help\n")
    (knowledge / "scan.pdf").write_bytes(b"%PDF 0161 496 0799")  # not read: not text
    (knowledge / ".drafts").mkdir()
    (knowledge / ".drafts" / "old.md").write_text("old line 0161 496 0720")  # hidden: not read
    rules = {"rules": [{"then": {"message": "Mail fraud@heronvale.example or call 0161 496 0760"}}]}
    own = workspace_contacts(knowledge, rules)
    assert own.phones == {"08001234567", "01614960760"}
    assert own.emails == {"fraud@heronvale.example"}
    assert own.domains == {"heronvale.example"}
    assert workspace_contacts(tmp_path / "missing") == OwnContacts()
