"""BM25 over a tenant's chunks, scored in process from the SQLite FTS5 index's term counts.

FTS5's bm25() is evaluated row by row for every chunk that matches any query term: an OR
query of 15-20 terms over SciFact's 5,400 chunks costs 8-19 ms, most of a 20 ms budget. Yet
each term's contribution to a chunk's score (its BM25 "impact") changes only when the index
does. So each process keeps, per tenant, every term's list of (chunk, impact), reloaded when
the tenant's index version moves, as the vectors are; a query adds up its terms' lists.

FTS5 stays the index: its tokenizer makes the terms (queries are split by an in-memory FTS5
table with the same tokenizer option), its vocabulary gives the counts, and the formula is
FTS5's bm25() with the same column weights. One difference, on purpose: the statistics
(chunk count, average length, how many chunks hold a term) are the tenant's own, where FTS5
takes them from every tenant in the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.storage.fulltext import (
    KeywordHit,
    TermShares,
    chunk_term_counts,
    fts_tokenizer,
    keyword_search,
    query_terms,
)
from frontdesk.storage.models import Chunk, Document

# FTS5's bm25() constants, and the column weights keyword_search gives it.
K1, B = 1.2, 0.75
COLUMN_WEIGHTS = {"title": 4.0, "heading": 2.0, "text": 1.0}


class QueryTokenizer:
    """Splits query words into index terms with FTS5's own tokenizer, in an in-memory table,
    so stems match the index exactly; remembers each word's terms."""

    def __init__(self, tokenize: str, *, max_words: int = 50_000) -> None:
        self.tokenize = tokenize
        self.max_words = max_words
        self._lock = threading.Lock()
        self._known: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        option = tokenize.replace("'", "''")
        self._db.execute(f"CREATE VIRTUAL TABLE words USING fts5(w, tokenize='{option}')")
        self._db.execute("CREATE VIRTUAL TABLE word_terms USING fts5vocab(words, instance)")

    def terms(self, words: Sequence[str]) -> list[tuple[str, ...]]:
        """Each word's terms (usually one; none for a word the tokenizer drops)."""
        with self._lock:
            unknown = [w for w in dict.fromkeys(words) if w not in self._known]
            if unknown:
                self._split(unknown)
            found = []
            for word in words:
                self._known.move_to_end(word)
                found.append(self._known[word])
            return found

    def _split(self, unknown: list[str]) -> None:
        self._db.execute("DELETE FROM words")
        self._db.executemany(
            "INSERT INTO words(rowid, w) VALUES (?, ?)", enumerate(unknown, start=1)
        )
        split: dict[int, list[str]] = {}
        for row, term in self._db.execute("SELECT doc, term FROM word_terms ORDER BY doc, offset"):
            split.setdefault(int(row), []).append(str(term))
        for row, word in enumerate(unknown, start=1):
            self._known[word] = tuple(split.get(row, ()))
        while len(self._known) > self.max_words:
            self._known.popitem(last=False)


@dataclass
class TenantTerms:
    """Every term's chunks and impacts for one tenant (compressed sparse rows by term)."""

    version: int
    chunk_ids: npt.NDArray[np.int64]
    doc_types: npt.NDArray[np.str_]
    term_row: dict[str, int]
    starts: npt.NDArray[np.int64]  # term i's entries are starts[i]:starts[i + 1]
    positions: npt.NDArray[np.int32]  # index into chunk_ids
    impacts: npt.NDArray[np.float32]

    @classmethod
    def build(
        cls,
        version: int,
        counts: Sequence[tuple[int, str, str, int]],
        doc_type_of: dict[int, str],
    ) -> TenantTerms:
        term_row: dict[str, int] = {}
        term_of = np.fromiter(
            (term_row.setdefault(term, len(term_row)) for _, term, _, _ in counts),
            dtype=np.int64,
            count=len(counts),
        )
        chunk_ids, at = np.unique(
            np.fromiter((c[0] for c in counts), dtype=np.int64, count=len(counts)),
            return_inverse=True,
        )
        n = np.fromiter((c[3] for c in counts), dtype=np.float64, count=len(counts))
        # Weighted frequency per (term, chunk): title 4x, heading 2x, as keyword_search asks
        # of FTS5's bm25(); the length is every token of the chunk, as FTS5 counts it.
        weight = np.fromiter(
            (COLUMN_WEIGHTS.get(c[2], 1.0) for c in counts), dtype=np.float64, count=len(counts)
        )
        rows = len(chunk_ids)
        length = np.bincount(at, weights=n, minlength=rows)
        pair, pair_of = np.unique(term_of * max(rows, 1) + at, return_inverse=True)
        freq = np.bincount(pair_of, weights=weight * n, minlength=len(pair))
        pair_term, pair_chunk = pair // max(rows, 1), pair % max(rows, 1)
        held = np.bincount(pair_term, minlength=len(term_row)).astype(np.float64)
        idf = np.log((rows - held + 0.5) / (held + 0.5))
        idf = np.where(idf > 0, idf, 1e-6)  # as FTS5: a very common term still counts a little
        norm = K1 * (1.0 - B + B * length / (float(length.mean()) if rows else 1.0))
        impact = idf[pair_term] * freq * (K1 + 1.0) / (freq + norm[pair_chunk])
        starts = np.zeros(len(term_row) + 1, dtype=np.int64)
        np.cumsum(held.astype(np.int64), out=starts[1:])
        return cls(
            version=version,
            chunk_ids=chunk_ids.astype(np.int64),
            doc_types=np.asarray([doc_type_of.get(int(c), "") for c in chunk_ids], dtype=np.str_),
            term_row=term_row,
            starts=starts,
            positions=pair_chunk.astype(np.int32),  # np.unique sorted the pairs by term
            impacts=impact.astype(np.float32),
        )

    def top(
        self, phrases: Sequence[tuple[str, ...]], k: int, doc_types: frozenset[str] = frozenset()
    ) -> list[KeywordHit]:
        """The k best chunks for an OR of the phrases. A phrase of several terms (rare: a word
        the tokenizer splits) counts each term, where FTS5 would want them adjacent."""
        rows = [self.term_row[t] for phrase in phrases for t in phrase if t in self.term_row]
        if not rows or k <= 0:
            return []
        at = np.concatenate([self.positions[self.starts[r] : self.starts[r + 1]] for r in rows])
        weight = np.concatenate([self.impacts[self.starts[r] : self.starts[r + 1]] for r in rows])
        scores = np.bincount(at, weights=weight, minlength=len(self.chunk_ids))
        matched = np.flatnonzero(scores > 0)
        if doc_types:
            matched = matched[np.isin(self.doc_types[matched], list(doc_types))]
        if len(matched) > k:
            matched = matched[np.argpartition(-scores[matched], k - 1)[:k]]
        # Ties in id order, as a stable ranking for tests and benchmarks.
        order = np.lexsort((self.chunk_ids[matched], -scores[matched]))
        return [KeywordHit(int(self.chunk_ids[i]), float(scores[i])) for i in matched[order]]


class KeywordIndex:
    """Per-process BM25 for each tenant, rebuilt from FTS5 when the tenant's index version
    moves (SQLite only; PostgreSQL ranks in the database)."""

    def __init__(self) -> None:
        self._by_tenant: dict[str, TenantTerms] = {}
        self._tokenizer: QueryTokenizer | None = None

    async def search(
        self,
        session: AsyncSession,
        tenant_id: str,
        version: int,
        query: str,
        *,
        limit: int,
        doc_types: Sequence[str] = (),
    ) -> list[KeywordHit]:
        words = query_terms(query)
        if not words:
            return []
        terms = await self._terms(session, tenant_id, version)
        tokenizer = await self._query_tokenizer(session)
        return terms.top(tokenizer.terms(words), limit, frozenset(doc_types))

    async def _terms(self, session: AsyncSession, tenant_id: str, version: int) -> TenantTerms:
        cached = self._by_tenant.get(tenant_id)
        if cached is not None and cached.version == version:
            return cached
        counts = await chunk_term_counts(session)
        rows = await session.execute(
            select(Chunk.id, Document.doc_type).join(Document, Document.id == Chunk.document_id)
        )
        doc_type_of = {int(chunk_id): str(doc_type) for chunk_id, doc_type in rows}
        built = TenantTerms.build(version, counts, doc_type_of)
        self._by_tenant[tenant_id] = built
        return built

    async def _query_tokenizer(self, session: AsyncSession) -> QueryTokenizer:
        if self._tokenizer is None:
            self._tokenizer = QueryTokenizer(await fts_tokenizer(session))
        return self._tokenizer


class KeywordSearch:
    """A query's keyword list: BM25 scored in process (`scoring="memory"`, SQLite), or the
    database's own ranking (FTS5 bm25(), leaving out terms in more than `max_share` of the
    chunks; PostgreSQL ts_rank_cd)."""

    def __init__(
        self, *, scoring: Literal["memory", "fts5"] = "memory", max_share: float | None = None
    ) -> None:
        self.scoring = scoring
        self.max_share = max_share
        self._memory = KeywordIndex()
        self._shares = TermShares()

    async def search(
        self,
        session: AsyncSession,
        tenant_id: str,
        query: str,
        *,
        limit: int,
        doc_types: Sequence[str] = (),
        version: int | None,
    ) -> list[KeywordHit]:
        """`version`: the tenant's index version (None when it has no index record yet)."""
        in_process = self.scoring == "memory" and version is not None
        if in_process and session.get_bind().dialect.name == "sqlite":
            assert version is not None
            return await self._memory.search(
                session, tenant_id, version, query, limit=limit, doc_types=doc_types
            )
        return await keyword_search(
            session,
            query,
            limit=limit,
            doc_types=doc_types,
            shares=self._shares,
            max_share=self.max_share,
        )
