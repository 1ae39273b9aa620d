"""The response cache: a question asked again within a tenant, while its knowledge base is
unchanged, gets the answer given before without calling a model.

Exact repeats match on the normalised text; near-duplicates when the embedding cosine of the
two questions reaches `similarity`. Entries belong to one knowledge-base version: when the
tenant's version moves, its entries are dropped. In process, per tenant, bounded and aged.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from frontdesk.config.settings import ResponseCacheSettings
from frontdesk.interfaces import ChatResult, Embedder
from frontdesk.types import Passage

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s]")


def normalise(question: str) -> str:
    return _SPACE.sub(" ", _PUNCT.sub(" ", question.lower())).strip()


@dataclass
class CachedAnswer:
    result: ChatResult
    passages: list[Passage]  # what the answer's [n] refer to
    model: str


@dataclass
class _Entry:
    answer: CachedAnswer
    vector: npt.NDArray[np.float32] | None
    stored_at: float


@dataclass
class _TenantCache:
    kb_version: int
    entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)


@dataclass
class Hit:
    answer: CachedAnswer
    similarity: float  # 1.0 for an exact repeat


class ResponseCache:
    def __init__(
        self,
        settings: ResponseCacheSettings,
        embedder: Embedder | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.clock = clock
        self._tenants: dict[str, _TenantCache] = {}
        self.hits = 0
        self.misses = 0

    def _tenant(self, tenant_id: str, kb_version: int) -> _TenantCache:
        cache = self._tenants.get(tenant_id)
        if cache is None or cache.kb_version != kb_version:
            cache = _TenantCache(kb_version=kb_version)  # a changed knowledge base: start over
            self._tenants[tenant_id] = cache
        return cache

    async def _vector(self, question: str) -> npt.NDArray[np.float32] | None:
        if self.embedder is None:
            return None
        vectors = await asyncio.to_thread(self.embedder.embed, [question])
        vector = np.asarray(vectors[0], dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm else None

    async def get(
        self, tenant_id: str, kb_version: int, question: str
    ) -> tuple[Hit | None, npt.NDArray[np.float32] | None]:
        """The cached answer, if any, and the question's vector (to pass back to `put`)."""
        cache = self._tenant(tenant_id, kb_version)
        now = self.clock()
        for key in [k for k, e in cache.entries.items() if now - e.stored_at > self.settings.ttl_s]:
            del cache.entries[key]
        key = normalise(question)
        entry = cache.entries.get(key)
        if entry is not None:
            cache.entries.move_to_end(key)
            self.hits += 1
            return Hit(entry.answer, 1.0), None
        vector = await self._vector(question)
        if vector is not None:
            keyed = [(k, e.vector) for k, e in cache.entries.items() if e.vector is not None]
            if keyed:
                matrix = np.stack([v for _, v in keyed])
                scores = matrix @ vector
                best = int(np.argmax(scores))
                if float(scores[best]) >= self.settings.similarity:
                    self.hits += 1
                    cache.entries.move_to_end(keyed[best][0])
                    return Hit(cache.entries[keyed[best][0]].answer, float(scores[best])), vector
        self.misses += 1
        return None, vector

    async def put(
        self,
        tenant_id: str,
        kb_version: int,
        question: str,
        answer: CachedAnswer,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> None:
        cache = self._tenant(tenant_id, kb_version)
        if vector is None:
            vector = await self._vector(question)
        cache.entries[normalise(question)] = _Entry(answer, vector, self.clock())
        while len(cache.entries) > self.settings.max_entries:
            cache.entries.popitem(last=False)

    def invalidate(self, tenant_id: str) -> None:
        self._tenants.pop(tenant_id, None)
