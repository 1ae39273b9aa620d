"""Slack/WhatsApp settings from frontdesk.yaml: per tenant, never inherited, secrets inline or
from the environment and kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest

from frontdesk.config.workspace import Workspace, load_settings
from frontdesk.errors import ConfigError

CHANNELS = """
channels:
  slack:
    signing_secret_env: TEST_SLACK_SIGNING_SECRET
    bot_token: xoxb-inline-token
  whatsapp:
    app_secret: inline-app-secret
    verify_token_env: TEST_WA_VERIFY
    access_token_env: TEST_WA_ACCESS
    phone_number_id: "106540352242922"
    not_text_reply: null
  delivery: {attempts: 2, backoff_s: 0.5}
tenants:
  acme:
    channels:
      slack: {signing_secret: acme-secret, bot_token: xoxb-acme}
  globex:
    retention_days: 30
"""


def test_channels_per_tenant_from_the_file_and_environment(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = workspace / "frontdesk.yaml"
    config.write_text(config.read_text() + CHANNELS)
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", "from-the-environment")
    monkeypatch.setenv("TEST_WA_VERIFY", "verify-from-env")
    monkeypatch.delenv("TEST_WA_ACCESS", raising=False)
    settings = load_settings(Workspace.at(workspace))

    own = settings.channels_for(settings.tenant)
    assert own is not None
    assert own.slack is not None
    assert own.whatsapp is not None
    assert own.slack.signing_secret_value() == "from-the-environment"
    assert own.slack.bot_token_value() == "xoxb-inline-token"
    assert own.slack.api_base_url == "https://slack.com/api"
    assert own.whatsapp.app_secret_value() == "inline-app-secret"
    assert own.whatsapp.verify_token_value() == "verify-from-env"
    assert own.whatsapp.access_token_value() is None  # the variable is not set
    assert own.whatsapp.graph_base_url == "https://graph.facebook.com/v20.0"
    assert own.whatsapp.not_text_reply is None
    assert (own.delivery.attempts, own.delivery.backoff_s) == (2, 0.5)
    assert "xoxb-inline-token" not in repr(settings)  # SecretStr

    acme = settings.channels_for("acme")
    assert acme is not None
    assert acme.slack is not None
    assert acme.slack.signing_secret_value() == "acme-secret"
    assert acme.whatsapp is None  # its own settings only: nothing of the workspace's
    # A tenant without channels of its own gets none (not the workspace tenant's secrets).
    assert settings.channels_for("globex") is None
    assert settings.channels_for("unknown") is None


def test_a_typo_in_channel_settings_is_an_error(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    config.write_text(config.read_text() + "\nchannels:\n  slack:\n    signing_secrett: x\n")
    with pytest.raises(ConfigError, match=r"signing_secrett"):
        load_settings(Workspace.at(workspace))


def test_whatsapp_needs_its_phone_number_id(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    config.write_text(config.read_text() + "\nchannels:\n  whatsapp:\n    app_secret: x\n")
    with pytest.raises(ConfigError, match=r"phone_number_id"):
        load_settings(Workspace.at(workspace))


def test_the_demo_files_commented_example_loads(workspace: Path) -> None:
    config = workspace / "frontdesk.yaml"
    lines = config.read_text().splitlines()
    start = lines.index("# channels:")
    example = [line[2:] for line in lines[start:] if line.startswith("# ")]
    config.write_text("\n".join(lines[:start] + example) + "\n")
    settings = load_settings(Workspace.at(workspace))
    channels = settings.channels_for(settings.tenant)
    assert channels is not None
    assert channels.slack is not None
    assert channels.slack.signing_secret_env == "SLACK_SIGNING_SECRET"
    assert channels.whatsapp is not None
    assert channels.whatsapp.phone_number_id == "106540352242922"
