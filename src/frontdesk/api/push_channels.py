"""The push channels (Slack, WhatsApp): how an answer gets out to a thread of theirs, for
agents' replies from the desk and for messages resumed after a restart; and how their voice
messages are read."""

from __future__ import annotations

from frontdesk.api.channel_intake import ChannelIntake, MediaReader, Outbound, PushChannel
from frontdesk.api.routes.slack_channel import slack_files, slack_outbound
from frontdesk.api.routes.whatsapp_channel import whatsapp_media, whatsapp_outbound
from frontdesk.interfaces import Channel as OutputChannel
from frontdesk.types import Channel


def outbounds(intake: ChannelIntake) -> dict[Channel, Outbound]:
    return {Channel.SLACK: slack_outbound(intake), Channel.WHATSAPP: whatsapp_outbound(intake)}


def media_readers(intake: ChannelIntake) -> dict[Channel, MediaReader]:
    return {Channel.SLACK: slack_files(intake), Channel.WHATSAPP: whatsapp_media(intake)}


def push_channels(intake: ChannelIntake) -> dict[str, OutputChannel]:
    return {
        channel.value: PushChannel(intake, channel, outbound)
        for channel, outbound in outbounds(intake).items()
    }
