"""Embeddings for benchmarks, cached on disk under bench/.cache (gitignored).

Embedding ~30k benchmark sentences with the packaged MiniLM takes minutes on 2 cores, so each
list of texts is embedded once; the key is a hash of the texts and the model's name. How long
the embedding took is kept beside the array, so benchmarks can report it on later runs.

    nice -n 10 .venv/bin/python bench/_embcache.py      # pre-fill for bench/nlu.py
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "datasets"
CACHE = ROOT / "bench" / ".cache"


def cached(texts: Sequence[str], embedder: Any) -> np.ndarray:
    """`embedder.embed_array(texts)`, from the cache when this exact list was embedded."""
    key = hashlib.sha256(("\n".join(texts) + embedder.name).encode()).hexdigest()[:20]
    path = CACHE / f"emb-{key}.npy"
    if path.is_file():
        return np.load(path)
    started = time.perf_counter()
    array = embedder.embed_array(list(texts))
    seconds = time.perf_counter() - started
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, array)
    path.with_suffix(".json").write_text(json.dumps({"texts": len(texts), "seconds": seconds}))
    print(f"embedded {len(texts)} texts in {seconds:.1f}s", file=sys.stderr, flush=True)
    return array


def embed_seconds(texts: Sequence[str], embedder: Any) -> float | None:
    """How long `cached` took to embed this list, when it recorded that."""
    key = hashlib.sha256(("\n".join(texts) + embedder.name).encode()).hexdigest()[:20]
    meta = CACHE / f"emb-{key}.json"
    if meta.is_file():
        return float(json.loads(meta.read_text())["seconds"])
    return None


def main(data: Path = DATA) -> None:
    from frontdesk.embedding import MiniLMEmbedder

    embedder = MiniLMEmbedder(threads=2, batch_size=64)
    for split in ("train", "test"):
        with open(data / "banking77" / f"{split}.csv", encoding="utf-8") as handle:
            cached([r["text"] for r in csv.DictReader(handle)], embedder)
    clinc = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    for split in clinc:
        cached([text for text, _ in clinc[split]], embedder)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA)
