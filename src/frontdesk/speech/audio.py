"""Audio bytes to 16 kHz mono samples, with PyAV (FFmpeg's libraries, bundled in its wheel).

Any container and codec that wheel's FFmpeg decodes is accepted: WAV, FLAC, MP3, Ogg
(Vorbis, Opus), WebM, M4A/AAC, AMR and more; the format is sniffed from the bytes, not taken
from the Content-Type. Decoding stops as soon as the audio runs past the limit, so a long
recording compressed into a small upload never becomes a large array in memory.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt

from frontdesk.errors import install_extra
from frontdesk.speech.errors import AudioTooLongError, InvalidAudioError, VoiceUnavailableError

SAMPLE_RATE = 16_000  # what Whisper's feature extractor expects


def decode(data: bytes, *, max_seconds: float) -> npt.NDArray[np.float32]:
    """Samples in [-1, 1] at 16 kHz, mono. Raises InvalidAudioError for anything that is not
    decodable audio and AudioTooLongError past `max_seconds`."""
    if not data:
        raise InvalidAudioError("the request body is empty: send the audio file as the body")
    try:
        import av
    except ImportError as exc:
        raise VoiceUnavailableError(
            f"voice intake needs the optional packages: {install_extra('voice')}",
        ) from exc
    limit = int(max_seconds * SAMPLE_RATE)
    chunks: list[npt.NDArray[np.int16]] = []
    total = 0
    try:
        with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise InvalidAudioError("the file has no audio stream")
            declared = container.duration  # microseconds, from the header (may be absent)
            if declared is not None and declared / 1_000_000 > max_seconds + 0.5:
                raise _too_long(declared / 1_000_000, max_seconds)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                total += _take(resampler.resample(frame), chunks)
                if total > limit:
                    raise _too_long(total / SAMPLE_RATE, max_seconds)
            total += _take(resampler.resample(None), chunks)  # what the resampler held back
    except (av.FFmpegError, ValueError, EOFError, IndexError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)  # FFmpeg's words, not the path
        raise InvalidAudioError(
            f"not decodable audio ({reason}): send a WAV, FLAC, MP3, Ogg or WebM file"
        ) from exc
    if total > limit:
        raise _too_long(total / SAMPLE_RATE, max_seconds)
    if total == 0:
        raise InvalidAudioError("the file holds no audio samples")
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def _take(frames: list[Any], chunks: list[npt.NDArray[np.int16]]) -> int:
    taken = 0
    for frame in frames:
        samples = np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)
        chunks.append(samples)
        taken += samples.size
    return taken


def _too_long(seconds: float, limit: float) -> AudioTooLongError:
    return AudioTooLongError(
        f"the audio is longer than the limit of {limit:g} s ({seconds:.1f} s or more); "
        "send a shorter recording"
    )
