"""Integer MatMuls for the packaged encoder, derived once on this machine.

The packaged all-MiniLM-L6-v2 file stores int8 weights but casts them back to float32 before
every MatMul, so its forward pass costs what float32 does. Folding those casts
(onnxruntime's basic graph optimisations) and quantizing the folded graph dynamically, per
output channel (`onnxruntime.quantization.quantize_dynamic`), gives integer MatMuls. On this
2-core AVX2 machine a SciFact claim embeds in p50 4.1 vs 6.5 ms (bench/retrieval.py, the two
timed alternately; since the session sums exactly, `session.x64quantprecision` in minilm.py, about
14% more), and the vectors agree with the packaged model's at cosine 0.986 at worst
(mean 0.994) over SciFact's 1,109 claims.

Nothing is downloaded: the input is the packaged file (SHA-256 checked by the caller) and
the output is written beside the other derived models in the cache folder, named by the
source digest and this recipe, renamed into place whole, and checked against the packaged
model on fixed sentences before first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Bump when the steps below change, so a file made by older steps is never reused.
RECIPE = "fold-basic+dynamic-qint8-per-channel-1"

# Sentences the derived model must embed like the packaged one (cosine >= MIN_COSINE).
CHECK_SENTENCES = (
    "Where is my order? It was due on Monday.",
    "I want a refund for the broken headphones",
    "Vitamin D deficiency is associated with a higher risk of fractures in older adults.",
    "How do I reset my password?",
)
MIN_COSINE = 0.97


class QuantizationError(RuntimeError):
    """The derived model could not be made or did not match the packaged one."""


def derived_path(cache_dir: Path, source_sha256: str) -> Path:
    recipe = hashlib.sha256(RECIPE.encode()).hexdigest()[:8]
    return cache_dir / f"minilm-l6-qint8-{source_sha256[:12]}-{recipe}.onnx"


def quantized_model(
    source: Path,
    source_sha256: str,
    cache_dir: Path,
    check: Callable[[Path], None] | None = None,
) -> Path:
    """The quantized file for `source`, made now if the cache lacks it. `check(path)` runs on a
    new file before it is renamed into place and raises to reject it."""
    target = derived_path(cache_dir, source_sha256)
    if target.is_file():
        return target
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnx is the extra piece quantize_dynamic needs
        raise QuantizationError(f"{exc.name} is not installed (pip install onnx)") from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".quantize-") as work:
        folded = Path(work) / "folded.onnx"
        quantized = Path(work) / "quantized.onnx"
        options = onnxruntime.SessionOptions()
        # Basic level only: constant folding and node eliminations, nothing tied to this CPU.
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        with _quiet_root_logger():  # it advises "pre-processing", meant for static quantization
            quantize_dynamic(
                folded,
                quantized,
                weight_type=QuantType.QInt8,
                per_channel=True,
                nodes_to_exclude=_activation_matmuls(folded),
            )
        if check is not None:
            check(quantized)
        os.replace(quantized, target)
    return target


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _activation_matmuls(model_path: Path) -> list[str]:
    """Attention's two MatMuls multiply activations by activations; quantizing them costs
    accuracy and gains little, so only MatMuls against stored weights become integer."""
    import onnx

    graph = onnx.load(str(model_path)).graph
    weights = {initializer.name for initializer in graph.initializer}
    return [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and not any(name in weights for name in node.input)
    ]


def agreement(
    reference: Callable[[Sequence[str]], npt.NDArray[np.float32]],
    candidate: Callable[[Sequence[str]], npt.NDArray[np.float32]],
) -> float:
    """Lowest cosine between the two models' vectors for CHECK_SENTENCES (both normalised)."""
    a, b = reference(CHECK_SENTENCES), candidate(CHECK_SENTENCES)
    return float(np.min(np.sum(a * b, axis=1)))
