"""The push channels (Slack, WhatsApp): how an answer gets out to a thread of theirs, for
agents' replies from the desk and for messages resumed after a restart; and how their voice
messages are read."""

from __future__ import annotations

import httpx

from frontdesk.api.channel_intake import ChannelIntake, MediaReader, Outbound, PushChannel
from frontdesk.api.routes.slack_channel import slack_files, slack_outbound
from frontdesk.api.routes.whatsapp_channel import whatsapp_media, whatsapp_outbound
from frontdesk.config.settings import Settings
from frontdesk.interfaces import Channel as OutputChannel
from frontdesk.outbound import AddressPolicy, configured_hosts, guarded_client
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


def channel_client(settings: Settings) -> httpx.AsyncClient:
    """Answers out to Slack's and WhatsApp's APIs (the hosts configured for any tenant) and
    their voice files in: a redirect, or a file URL their answers name, elsewhere must be a
    public address."""
    urls: list[str] = []
    for channels in (settings.channels, *(t.channels for t in settings.tenants.values())):
        if channels is not None and channels.slack is not None:
            urls.append(channels.slack.api_base_url)
        if channels is not None and channels.whatsapp is not None:
            urls.append(channels.whatsapp.graph_base_url)
    return guarded_client(AddressPolicy(configured_hosts(urls)), timeout=10.0)
