"""Screens that serve the operator, end to end over real HTTP (uvicorn on loopback, SQLite): a
customer's phone number is understood (the `phone` entity the rules test) and stored redacted,
and the operator's own Fraud line in a hand-off message reaches the customer intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.conftest import serving, workspace_key

FRAUD_LINE = "0800 123 4567"
CUSTOMER_PHONE = "020 7946 0958"


def _configure(workspace: Path) -> None:
    settings = workspace / "frontdesk.yaml"
    settings.write_text(
        settings.read_text()
        + f'\nguard:\n  operator_contacts:\n    phones: ["{FRAUD_LINE}"]\n'
        + "    from_workspace: false\n"  # the configured number alone, not the workspace's
    )
    rules = workspace / "rules.yaml"
    rule = (
        "  - name: call back\n"
        "    when: {has_entity: [phone]}\n"
        "    then:\n"
        "      action: handoff\n"
        "      team: priority\n"
        f'      message: "Our Fraud team will call you back. If it is urgent, call our Fraud line'
        f' on {FRAUD_LINE}."\n\n'
    )
    rules.write_text(rules.read_text().replace("rules:\n", "rules:\n" + rule, 1))


def _database_text(workspace: Path) -> str:
    with sqlite3.connect(workspace / ".frontdesk" / "frontdesk.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            str(value)
            for table in tables
            for row in db.execute(f'SELECT * FROM "{table}"')
            for value in row
        )


def test_phone_understood_stored_redacted_and_operator_line_kept(workspace: Path) -> None:
    _configure(workspace)
    headers = {"Authorization": f"Bearer {workspace_key(workspace, 'service')}"}
    with serving(workspace) as url, httpx.Client(base_url=url, timeout=60) as http:
        conversation = http.post("/v1/conversations", json={}, headers=headers)
        assert conversation.status_code == 201, conversation.text
        conversation_id = conversation.json()["id"]
        response = http.post(
            f"/v1/conversations/{conversation_id}/messages",
            json={"text": f"Someone took money from my card, please call me on {CUSTOMER_PHONE}"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        reply = response.json()
        phones = [e for e in reply["entities"] if e["type"] == "phone"]
        assert [(e["text"], e["value"]) for e in phones] == [("[PHONE]", "[PHONE]")]
        assert reply["route"]["action"] == "handoff"
        assert reply["route"]["rule"] == "call back"
        assert f"call our Fraud line on {FRAUD_LINE}." in reply["answer"]

        transcript = http.get(f"/v1/conversations/{conversation_id}", headers=headers).json()
        customer, assistant = transcript["messages"]
        assert customer["text"] == ("Someone took money from my card, please call me on [PHONE]")
        assert FRAUD_LINE in assistant["text"]

    stored = _database_text(workspace)
    assert "[PHONE]" in stored
    for variant in (CUSTOMER_PHONE, CUSTOMER_PHONE.replace(" ", "")):
        assert variant not in stored
    assert FRAUD_LINE in stored  # the operator's line, in the stored reply
