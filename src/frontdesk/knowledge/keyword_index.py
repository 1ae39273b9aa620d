"""BM25 over a tenant's chunks, scored in process from the full-text index's term counts
(SQLite FTS5; PostgreSQL's tsvector column).

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

On PostgreSQL the same index is built from the chunks' tsvector (positions and their
title/heading weights) and query words become lexemes with `to_tsvector('english', ...)`:
BM25 where the database itself has only `ts_rank_cd`, which has no inverse document
frequency (SciFact: nDCG@10 0.401 with it, bench/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.knowledge.vectors import index_version
from frontdesk.storage import outage
from frontdesk.storage.db import Database
from frontdesk.storage.fulltext import (
    KeywordHit,
    TermShares,
    chunk_term_weights,
    fts_tokenizer,
    keyword_search,
    postgres_lexemes,
    query_terms,
)
from frontdesk.storage.models import Chunk, Document

log = logging.getLogger(__name__)

K1, B = 1.2, 0.75  # FTS5's bm25() constants
MIN_CHUNKS_TO_LEAVE_OUT = 1000  # below this every query is quick: keep every term (TermShares)


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
        weights: Sequence[tuple[str, int, float, int]],
        doc_type_of: dict[int, str],
    ) -> TenantTerms:
        """From (term, chunk id, weighted count, count) rows, as chunk_term_weights reads."""
        term_row: dict[str, int] = {}
        size = len(weights)
        term_of = np.fromiter(
            (term_row.setdefault(w[0], len(term_row)) for w in weights), np.int64, size
        )
        chunk_ids, at = np.unique(
            np.fromiter((w[1] for w in weights), np.int64, size), return_inverse=True
        )
        freq = np.fromiter((w[2] for w in weights), np.float64, size)
        count = np.fromiter((w[3] for w in weights), np.float64, size)
        rows = len(chunk_ids)
        # As FTS5's bm25(): a chunk's length is all its tokens; the idf of a term held by
        # more than half the chunks is floored at 1e-6, so it still counts a little.
        length = np.bincount(at, weights=count, minlength=rows)
        held = np.bincount(term_of, minlength=len(term_row)).astype(np.float64)
        idf = np.log((rows - held + 0.5) / (held + 0.5))
        idf = np.where(idf > 0, idf, 1e-6)
        norm = K1 * (1.0 - B + B * length / (float(length.mean()) if rows else 1.0))
        impact = idf[term_of] * freq * (K1 + 1.0) / (freq + norm[at])
        by_term = np.argsort(term_of, kind="stable")
        starts = np.zeros(len(term_row) + 1, dtype=np.int64)
        np.cumsum(held.astype(np.int64), out=starts[1:])
        return cls(
            version=version,
            chunk_ids=chunk_ids.astype(np.int64),
            doc_types=np.asarray([doc_type_of.get(int(c), "") for c in chunk_ids], dtype=np.str_),
            term_row=term_row,
            starts=starts,
            positions=at[by_term].astype(np.int32),
            impacts=impact[by_term].astype(np.float32),
        )

    def held(self, term: str) -> int:
        """How many chunks hold the term."""
        row = self.term_row.get(term)
        return 0 if row is None else int(self.starts[row + 1] - self.starts[row])

    def top(
        self,
        phrases: Sequence[tuple[str, ...]],
        k: int,
        doc_types: frozenset[str] = frozenset(),
        max_share: float | None = None,
    ) -> list[KeywordHit]:
        """The k best chunks for an OR of the phrases. A phrase of several terms (rare: a word
        the tokenizer splits) counts each term, where FTS5 would want them adjacent. With
        `max_share`, terms in more than that share of the chunks are left out (never all;
        only from MIN_CHUNKS_TO_LEAVE_OUT chunks), as keyword_search does with FTS5."""
        rows = [self.term_row[t] for phrase in phrases for t in phrase if t in self.term_row]
        if not rows or k <= 0:
            return []
        if max_share is not None and len(self.chunk_ids) >= MIN_CHUNKS_TO_LEAVE_OUT:
            held = {r: int(self.starts[r + 1] - self.starts[r]) for r in rows}
            limit = max_share * len(self.chunk_ids)
            rare = [r for r in rows if held[r] <= limit]
            rows = rare or [min(rows, key=held.__getitem__)]
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
    """Per-process BM25 for each tenant.

    A tenant with up to `inline_chunks` chunks is built inside the search that finds its
    index out of date (milliseconds). A larger one takes seconds (SciFact's 5,400 chunks:
    2.6 s on a quiet machine; 5.5 s on PostgreSQL), so its search is answered by the
    database's own ranking (FTS5's bm25(), PostgreSQL's ts_rank_cd) while the build runs in
    the background. After a failed build, the database answers for `retry_s` before a new
    try."""

    def __init__(
        self,
        db: Database,
        *,
        inline_chunks: int = 1000,
        retry_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self.inline_chunks = inline_chunks
        self.retry_s = retry_s
        self._clock = clock
        self._by_tenant: dict[str, TenantTerms] = {}
        self._builds: dict[str, asyncio.Task[None]] = {}
        self._failed_at: dict[str, float] = {}
        self._tokenizer: QueryTokenizer | None = None
        self._postgres = db.engine.dialect.name == "postgresql"
        self._lexemes: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def current(self, tenant_id: str, version: int) -> TenantTerms | None:
        found = self._by_tenant.get(tenant_id)
        return found if found is not None and found.version == version else None

    def built(self, tenant_id: str) -> bool:
        return tenant_id in self._by_tenant

    @property
    def tokenizer(self) -> QueryTokenizer | None:
        """Known once a search has read the index's tokenizer option."""
        return self._tokenizer

    async def refresh(self, session: AsyncSession, tenant_id: str) -> TenantTerms | None:
        """The tenant's index, built here if it is small, else None while a background build
        runs (started here if none is running and none failed lately)."""
        failed = self._failed_at.get(tenant_id)
        if failed is not None and self._clock() - failed < self.retry_s:
            return None
        running = self._builds.get(tenant_id)
        if running is not None and not running.done():
            return None
        chunks = await session.scalar(select(func.count()).select_from(Chunk)) or 0
        if chunks <= self.inline_chunks:
            try:
                # On PostgreSQL a failed statement spoils the transaction: a savepoint keeps
                # the search's own fallback query working.
                async with session.begin_nested() if self._postgres else nullcontext():
                    read = await _read(session)
                return self._keep(tenant_id, TenantTerms.build(*read))
            except Exception as exc:
                if outage.cause(exc) is not None:  # the database is gone: the turn can't go on
                    raise
                self._failed(tenant_id)
                return None
        self.start_build(tenant_id)
        return None

    def start_build(self, tenant_id: str) -> asyncio.Task[None]:
        running = self._builds.get(tenant_id)
        if running is None or running.done():
            running = asyncio.get_running_loop().create_task(self._build(tenant_id))
            self._builds[tenant_id] = running
        return running

    def document_counts(
        self, tenant_id: str, words: Sequence[str]
    ) -> tuple[int, list[int | None]] | None:
        """How many chunks the tenant's index holds, and how many of them hold each word (by
        its index terms; a word of several terms counts its rarest; None for a word whose
        terms are not known here: the tokenizer drops it, or PostgreSQL was not asked), from
        the index as the last search left it; None when there is none. No I/O."""
        terms = self._by_tenant.get(tenant_id)
        if terms is None or not words:
            return None
        split: list[tuple[str, ...] | None]
        if self._postgres:
            split = [self._lexemes.get(w) for w in words]
        elif self._tokenizer is not None:
            split = list(self._tokenizer.terms(words))
        else:
            return None
        counts: list[int | None] = []
        for phrase in split:
            held = [terms.held(t) for t in phrase or ()]
            counts.append(min(held) if held else None)
        return len(terms.chunk_ids), counts

    async def search(
        self,
        session: AsyncSession,
        terms: TenantTerms,
        query: str,
        *,
        limit: int,
        doc_types: Sequence[str] = (),
        max_share: float | None = None,
    ) -> list[KeywordHit]:
        words = query_terms(query)
        if not words:
            return []
        if self._postgres:
            phrases = await self._postgres_terms(session, words)
        else:
            if self._tokenizer is None:
                self._tokenizer = QueryTokenizer(await fts_tokenizer(session))
            phrases = self._tokenizer.terms(words)
        return terms.top(phrases, limit, frozenset(doc_types), max_share)

    async def _postgres_terms(
        self, session: AsyncSession, words: Sequence[str], max_words: int = 50_000
    ) -> list[tuple[str, ...]]:
        """Each word's lexemes, asked of PostgreSQL once per word and then remembered."""
        # A local copy: other searches may evict entries while this one awaits.
        local = {w: self._lexemes[w] for w in dict.fromkeys(words) if w in self._lexemes}
        unknown = [w for w in dict.fromkeys(words) if w not in local]
        if unknown:
            local.update(zip(unknown, await postgres_lexemes(session, unknown), strict=True))
        for word, lexemes in local.items():
            self._lexemes[word] = lexemes
            self._lexemes.move_to_end(word)
        while len(self._lexemes) > max_words:
            self._lexemes.popitem(last=False)
        return [local[w] for w in words]

    async def aclose(self) -> None:
        for task in self._builds.values():
            task.cancel()
        await asyncio.gather(*self._builds.values(), return_exceptions=True)
        self._builds.clear()

    async def _build(self, tenant_id: str) -> None:
        try:
            async with self._db.session(tenant_id) as session:
                read = await _read(session)
            self._keep(tenant_id, await asyncio.to_thread(TenantTerms.build, *read))
        except asyncio.CancelledError:
            raise
        except Exception:
            self._failed(tenant_id)

    def _keep(self, tenant_id: str, terms: TenantTerms) -> TenantTerms:
        self._by_tenant[tenant_id] = terms
        self._failed_at.pop(tenant_id, None)
        return terms

    def _failed(self, tenant_id: str) -> None:
        # Searches go on with FTS5's ranking; a new try after retry_s. A lost database is
        # no bug of the index: its outage is logged once (storage/outage.py), not here.
        error = sys.exc_info()[1]
        if error is not None and outage.cause(error) is not None:
            log.debug("keyword index of tenant %s not built: the database is unavailable",
                      tenant_id)  # fmt: skip
        else:
            log.exception("building the keyword index of tenant %s failed", tenant_id)
        self._failed_at[tenant_id] = self._clock()


async def _read(
    session: AsyncSession,
) -> tuple[int, list[tuple[str, int, float, int]], dict[int, str]]:
    """The version, term weights and chunk types, in one transaction: the version read is the
    one these counts belong to."""
    current = await index_version(session)
    version = current.version if current is not None else 0
    weights = await chunk_term_weights(session)
    rows = await session.execute(
        select(Chunk.id, Document.doc_type).join(Document, Document.id == Chunk.document_id)
    )
    return version, weights, {int(chunk_id): str(doc_type) for chunk_id, doc_type in rows}


class KeywordSearch:
    """A query's keyword list: BM25 scored in process (`scoring="memory"`, SQLite and
    PostgreSQL; the database's ranking while a large tenant's index builds), or the
    database's own ranking (FTS5 bm25(); PostgreSQL ts_rank_cd). In process, terms in more
    than `max_share` of the tenant's chunks are left out; with FTS5, of every tenant's."""

    def __init__(
        self,
        db: Database,
        *,
        scoring: Literal["memory", "fts5"] = "memory",
        max_share: float | None = None,
    ) -> None:
        self.scoring = scoring
        self.max_share = max_share
        self._memory = KeywordIndex(db)
        self._shares = TermShares()
        self._in_process = scoring == "memory" and db.engine.dialect.name in (
            "sqlite",
            "postgresql",
        )

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
        if self._in_process and version is not None:
            terms = self._memory.current(tenant_id, version)
            if terms is None:
                terms = await self._memory.refresh(session, tenant_id)
            if terms is not None and terms.version == version:
                return await self._memory.search(
                    session,
                    terms,
                    query,
                    limit=limit,
                    doc_types=doc_types,
                    max_share=self.max_share,
                )
        return await keyword_search(
            session,
            query,
            limit=limit,
            doc_types=doc_types,
            shares=self._shares,
            max_share=self.max_share,
        )

    def search_held(
        self,
        tenant_id: str,
        version: int,
        query: str,
        *,
        limit: int,
        doc_types: Sequence[str] = (),
    ) -> list[KeywordHit] | None:
        """The in-process ranking without a session, or None when it is not ready for
        `version` (then `search` it is)."""
        if not self._in_process:
            return None
        terms = self._memory.current(tenant_id, version)
        tokenizer = self._memory.tokenizer
        if terms is None or tokenizer is None:
            return None
        words = query_terms(query)
        if not words:
            return []
        return terms.top(tokenizer.terms(words), limit, frozenset(doc_types), self.max_share)

    def document_counts(
        self, tenant_id: str, words: Sequence[str]
    ) -> tuple[int, list[int | None]] | None:
        """How many chunks the tenant's index holds, and how many hold each word (see
        KeywordIndex.document_counts); None when there is no index in process."""
        return self._memory.document_counts(tenant_id, words)

    async def warm(self, tenant_id: str) -> bool:
        """Build the tenant's in-process index now (benchmarks, tests, start-up); whether
        searches will use it."""
        if not self._in_process:
            return False
        await self._memory.start_build(tenant_id)
        return self._memory.built(tenant_id)

    async def aclose(self) -> None:
        await self._memory.aclose()
