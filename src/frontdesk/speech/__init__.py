"""Speech to text for voice intake. The `Transcriber` protocol is in `frontdesk.interfaces`;
the built-in one is Whisper base on faster-whisper (`frontdesk.speech.whisper`), loaded on
first use so that importing this package needs none of the optional `voice` extra."""

from __future__ import annotations

from frontdesk.speech.errors import (
    AudioTooLongError,
    InvalidAudioError,
    NoSpeechError,
    VoiceBusyError,
    VoiceUnavailableError,
)

__all__ = [
    "AudioTooLongError",
    "InvalidAudioError",
    "NoSpeechError",
    "VoiceBusyError",
    "VoiceUnavailableError",
]
