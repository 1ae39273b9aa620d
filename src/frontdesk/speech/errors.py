"""What can go wrong with a voice message, each with a stable code for API clients."""

from __future__ import annotations

from frontdesk.errors import FrontdeskError, InvalidRequestError, PayloadTooLargeError


class InvalidAudioError(InvalidRequestError):
    """Empty, truncated or not audio at all (nothing FFmpeg can decode)."""

    code = "invalid_audio"


class NoSpeechError(InvalidRequestError):
    """The audio decodes but holds no words (silence, noise)."""

    code = "no_speech"


class AudioTooLongError(PayloadTooLargeError):
    code = "audio_too_long"


class VoiceUnavailableError(FrontdeskError):
    """Voice intake is off, or its optional packages or model are missing or broken."""

    code = "voice_unavailable"
    status_code = 503


class VoiceBusyError(FrontdeskError):
    """More voice messages are waiting for the transcription thread than `voice.max_queue`."""

    code = "voice_busy"
    status_code = 503

    def __init__(self, message: str, *, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # sent as Retry-After
