"""An embedding cache in front of any Embedder: re-ingesting unchanged text, repeated
questions and tenants sharing articles do not pay for the model twice."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

from frontdesk.interfaces import Embedder


class CachingEmbedder:
    def __init__(self, inner: Embedder, *, max_items: int = 50_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.max_items = max_items
        self._items: OrderedDict[bytes, list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        keys = [hashlib.blake2b(t.encode(), digest_size=16).digest() for t in texts]
        with self._lock:
            found = {k: self._items[k] for k in keys if k in self._items}
            for k in found:
                self._items.move_to_end(k)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = self.inner.embed([texts[i] for i in missing])
            with self._lock:
                for i, vector in zip(missing, vectors, strict=True):
                    found[keys[i]] = vector
                    self._items[keys[i]] = vector
                while len(self._items) > self.max_items:
                    self._items.popitem(last=False)
        return [found[k] for k in keys]
