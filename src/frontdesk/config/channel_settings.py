"""Settings for the push channels (`channels:` in frontdesk.yaml, or `tenants.<slug>.channels`).

Every secret may be given inline (a `SecretStr`, kept out of logs and reprs) or by the name of
the environment variable that holds it (`*_env`), so the file itself can be committed.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, SecretStr

NOT_TEXT_REPLY = "Sorry, I can only read text messages. Please type your question."


def secret_value(value: SecretStr | None, env: str | None) -> str | None:
    """The inline secret, else the variable `env` names; None (not "") when neither is set."""
    if value is not None:
        return value.get_secret_value() or None
    return (os.environ.get(env) or None) if env else None


class DeliverySettings(BaseModel):
    """How the answer is posted back: attempts with exponential backoff, then it is logged,
    counted (`frontdesk_channel_posts_total{outcome="failed"}`) and kept on the job row."""

    attempts: int = Field(default=4, ge=1)
    backoff_s: float = Field(default=1.0, ge=0.0)  # doubles each retry
    backoff_max_s: float = Field(default=8.0, ge=0.0)
    timeout_s: float = Field(default=10.0, gt=0)


class SlackSettings(BaseModel):
    """A Slack app's Events API subscription (bot token scopes: chat:write, and the
    `message.*` events of the conversations it should answer)."""

    model_config = ConfigDict(extra="forbid")
    signing_secret: SecretStr | None = None
    signing_secret_env: str | None = None
    bot_token: SecretStr | None = None  # xoxb-...
    bot_token_env: str | None = None
    api_base_url: str = Field(default="https://slack.com/api", pattern=r"^https?://")
    # Our own bot user (U...). Its messages are never answered; Slack also names it in each
    # event's `authorizations`, which is used when this is unset.
    bot_user_id: str | None = None
    max_clock_skew_s: int = Field(default=300, ge=1)  # Slack's advice: five minutes
    # Audio clips and audio files without text are downloaded (the bot token needs
    # `files:read`) and transcribed with the workspace's `voice` settings, then answered like
    # text; one that cannot be gets `NOT_TEXT_REPLY`.
    transcribe_voice: bool = True

    def signing_secret_value(self) -> str | None:
        return secret_value(self.signing_secret, self.signing_secret_env)

    def bot_token_value(self) -> str | None:
        return secret_value(self.bot_token, self.bot_token_env)


class WhatsAppSettings(BaseModel):
    """A WhatsApp Cloud API number: the Meta app's secret signs the webhooks, the verify token
    is the one typed into the app's webhook form, the access token sends the answers."""

    model_config = ConfigDict(extra="forbid")
    app_secret: SecretStr | None = None
    app_secret_env: str | None = None
    verify_token: SecretStr | None = None
    verify_token_env: str | None = None
    access_token: SecretStr | None = None
    access_token_env: str | None = None
    phone_number_id: str = Field(min_length=1)
    graph_base_url: str = Field(default="https://graph.facebook.com/v20.0", pattern=r"^https?://")
    # Sent once to a customer who sends an image, voice note, sticker...: the assistant reads
    # text only. None: such messages are skipped (logged and counted) without a reply.
    not_text_reply: str | None = NOT_TEXT_REPLY
    # Voice notes and audio are fetched from the Graph API and transcribed (the workspace's
    # `voice` settings; needs the `voice` extra), then answered like text. When they cannot be
    # (off, no speech, not audio) the customer gets `not_text_reply`.
    transcribe_voice: bool = True

    def app_secret_value(self) -> str | None:
        return secret_value(self.app_secret, self.app_secret_env)

    def verify_token_value(self) -> str | None:
        return secret_value(self.verify_token, self.verify_token_env)

    def access_token_value(self) -> str | None:
        return secret_value(self.access_token, self.access_token_env)


class ChannelSettings(BaseModel):
    """The push channels of one tenant; a channel left unset is not served (its webhook
    answers 404)."""

    model_config = ConfigDict(extra="forbid")
    slack: SlackSettings | None = None
    whatsapp: WhatsAppSettings | None = None
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
