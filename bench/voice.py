"""Voice intake: transcription latency and real-time factor of `whisper:base` (faster-whisper,
int8, beam 1, VAD on) on the committed test recordings, as the voice route runs it.

Clips: tests/speech/data/refund.wav (2.4 s), order.flac (6.6 s) and a 29 s message made of
both three times with half-second pauses. Whisper works in 30-second windows, so a short clip
costs about a whole window's encoder pass and its real-time factor looks poor; the long one
shows the rate on a full window. Each configuration: one warm-up, then `--runs` timed
transcriptions of each clip (decoding the file included, model loading not). Also measured
once: joining the model's two package parts into an empty cache dir, and loading the model.

    nice -n 10 taskset -c 1 .venv/bin/python bench/voice.py [--runs 5]

On one core (`taskset -c 1`) the configurations use 1 thread; without taskset also 2.
Writes bench/results/voice.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from frontdesk.config.voice_settings import VoiceSettings
from frontdesk.speech import whisper
from frontdesk.speech.audio import SAMPLE_RATE, decode
from frontdesk.speech.whisper import WhisperTranscriber, prepare_model_dir

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "speech" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "voice.json"
PROMPT = "Order numbers look like KP-20481736."  # as the demo workspace configures it


def _wav(samples: np.ndarray[Any, Any]) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def clips() -> dict[str, bytes]:
    refund = (DATA / "refund.wav").read_bytes()
    order = (DATA / "order.flac").read_bytes()
    pause = np.zeros(SAMPLE_RATE // 2, dtype=np.float32)
    one = [decode(refund, max_seconds=60), pause, decode(order, max_seconds=60), pause]
    long = np.concatenate(one * 3)[: -len(pause)]  # 29.3 s: one Whisper window, no word cut
    return {"refund.wav": refund, "order.flac": order, "refund+order x3 (29 s)": _wav(long)}


def measure_setup() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        prepare_model_dir("base", Path(cache))
        join_s = time.perf_counter() - started
    whisper._MODELS.clear()
    transcriber = WhisperTranscriber(settings=VoiceSettings(threads=1))
    started = time.perf_counter()
    transcriber.load()  # the default cache dir: joined there already or now
    load_s = time.perf_counter() - started
    return {"join_s": round(join_s, 2), "load_s": round(load_s, 2)}


def run(runs: int, thread_counts: list[int]) -> dict[str, Any]:
    audio = clips()
    rows: list[dict[str, Any]] = []
    for threads in thread_counts:
        for language in ("en", "auto"):
            settings = VoiceSettings(threads=threads, language=language, prompt=PROMPT)
            transcriber = WhisperTranscriber(settings=settings)
            transcriber.transcribe_now(audio["refund.wav"])  # warm-up (and load)
            for name, data in audio.items():
                seconds, cpu, texts = [], [], []
                for _ in range(runs):
                    started, cpu_started = time.perf_counter(), time.process_time()
                    transcript = transcriber.transcribe_now(data)
                    seconds.append(time.perf_counter() - started)
                    cpu.append(time.process_time() - cpu_started)
                    texts.append(transcript.text)
                duration = transcript.duration_s
                p50 = statistics.median(seconds)
                rows.append({
                    "clip": name,
                    "threads": threads,
                    "language": language,
                    "audio_s": round(duration, 2),
                    "p50_ms": round(p50 * 1000),
                    "min_ms": round(min(seconds) * 1000),
                    "max_ms": round(max(seconds) * 1000),
                    "rtf_p50": round(p50 / duration, 3),
                    # CPU time of the process (all threads): what the work costs whatever else
                    # runs on the machine; wall time above waits for the core too.
                    "cpu_p50_ms": round(statistics.median(cpu) * 1000),
                    "transcript": texts[0],
                    "same_every_run": len(set(texts)) == 1,
                })  # fmt: skip
                row = rows[-1]
                print(f"| {name:24} | {threads} | {language:4} | {row['audio_s']:5.1f} | "
                      f"{row['p50_ms']:6} | {row['min_ms']:6} | {row['max_ms']:6} | "
                      f"{row['rtf_p50']:5.3f} | {row['cpu_p50_ms']:6} |", flush=True)  # fmt: skip
    return {"rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    thread_counts = [1] if cores == 1 else [1, 2]
    load_before = [round(x, 2) for x in os.getloadavg()]
    setup = measure_setup()
    print(f"cores {cores}; load average {load_before}; join into an empty cache "
          f"{setup['join_s']} s; model load {setup['load_s']} s")  # fmt: skip
    print("| clip | threads | language | audio s | p50 ms | min ms | max ms | RTF p50 | CPU ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    result = run(args.runs, thread_counts)
    for row in result["rows"]:
        print(f"  {row['clip']}, {row['language']}: {row['transcript']!r}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({
        "what": "whisper:base (faster-whisper 1.2.1, int8, beam 1, VAD) on tests/speech/data",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores_used": cores, "cpu_count": os.cpu_count(),
                    "load_average_at_start": load_before,
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
        "runs": args.runs,
        "prompt": PROMPT,
        **setup,
        **result,
    }, indent=2) + "\n")  # fmt: skip
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
