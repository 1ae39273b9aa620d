"""The push channels the desk sends agents' replies through (Slack, WhatsApp)."""

from __future__ import annotations

from frontdesk.api.channel_intake import ChannelIntake, PushChannel
from frontdesk.api.routes.slack_channel import slack_outbound
from frontdesk.api.routes.whatsapp_channel import whatsapp_outbound
from frontdesk.interfaces import Channel as OutputChannel
from frontdesk.types import Channel


def push_channels(intake: ChannelIntake) -> dict[str, OutputChannel]:
    return {
        Channel.SLACK.value: PushChannel(intake, Channel.SLACK, slack_outbound(intake)),
        Channel.WHATSAPP.value: PushChannel(intake, Channel.WHATSAPP, whatsapp_outbound(intake)),
    }
