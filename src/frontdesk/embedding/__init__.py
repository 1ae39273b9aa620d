"""Sentence embeddings from models that ship inside PyPI packages, run with onnxruntime.

Below knowledge and nlu in the layer order, so both can use one loaded model.
"""

from frontdesk.embedding.cache import CachingEmbedder
from frontdesk.embedding.minilm import EmbeddingUnavailableError, MiniLMEmbedder
from frontdesk.embedding.threads import limit_blas_threads

__all__ = ["CachingEmbedder", "EmbeddingUnavailableError", "MiniLMEmbedder", "limit_blas_threads"]
