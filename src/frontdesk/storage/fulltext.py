"""Keyword search over chunks: SQLite FTS5 (BM25) or PostgreSQL full-text, one interface.

Raw SQL bypasses the ORM scoping hooks, so the tenant filter is written into each query.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import TenantScopeError
from frontdesk.storage.scoping import TENANT_KEY
from frontdesk.text import STOPWORDS, words

# BM25 with the title weighted over the heading over the body; SQLite's bm25() is lower-better.
COLUMN_WEIGHTS = {"title": 4.0, "heading": 2.0, "text": 1.0}  # the FTS5 table's columns
_SQLITE_SCORE = f"-bm25(chunks_fts, {', '.join(str(w) for w in COLUMN_WEIGHTS.values())})"


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: int
    score: float  # higher is better on both backends


def query_terms(query: str, limit: int = 32) -> list[str]:
    """Distinct topic words of a query, in order; all words if it has only stop words."""
    all_words = [w for w in words(query) if len(w) > 1 or w.isdigit()]
    topical = [w for w in all_words if w not in STOPWORDS] or all_words
    return list(dict.fromkeys(topical))[:limit]


class TermShares:
    """What share of the SQLite index's chunks (all tenants) contains each term, remembered
    for `ttl_seconds`, so that keyword search can leave out terms found nearly everywhere.

    Scoring an OR query costs one BM25 evaluation per matching chunk, and a term in a third
    of the chunks makes most of the index match. FTS5's BM25 takes its statistics from the
    whole index, so such a term already adds almost nothing to any tenant's scores; what is
    lost by leaving it out is only chunks that match nothing else, which ranked last anyway.
    Shares are counted corpus-wide for the same reason, and counted by FTS5 itself, so a
    term's share is that of its stem, as the index stores it.
    """

    def __init__(
        self,
        *,
        ttl_seconds: float = 300.0,
        max_terms: int = 50_000,
        min_chunks: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.min_chunks = min_chunks  # below this, every query is quick: keep every term
        self.max_terms = max_terms
        self._clock = clock
        self._counts: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._total: tuple[float, int] | None = None

    async def common(
        self, session: AsyncSession, terms: Sequence[str], max_share: float
    ) -> set[str]:
        """The terms in more than `max_share` of all chunks (never every term of a query).
        SQLite only: PostgreSQL's ts_rank_cd has no corpus statistics, so nothing is left out."""
        if session.get_bind().dialect.name != "sqlite":
            return set()
        now = self._clock()
        fresh = {t: c for t in terms if (c := self._fresh(t, now)) is not None}
        missing = [t for t in terms if t not in fresh]
        total = self._total[1] if self._total and now - self._total[0] < self.ttl_seconds else None
        if missing or total is None:
            # One statement for every unknown count (and the index's size).
            columns = [
                f"(SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :t{i})"
                for i in range(len(missing))
            ]
            row = (
                await session.execute(
                    text("SELECT " + ", ".join([*columns, "(SELECT count(*) FROM chunks)"])),
                    {f"t{i}": _phrase(term) for i, term in enumerate(missing)},
                )
            ).one()
            for term, count in zip(missing, row[:-1], strict=True):
                fresh[term] = int(count)
                self._remember(term, now, int(count))
            total = int(row[-1])
            self._total = (now, total)
        if total < self.min_chunks:
            return set()
        common = {t for t in terms if fresh[t] > max_share * total}
        if common and len(common) == len(set(terms)):
            common.discard(min(terms, key=lambda t: fresh[t]))
        return common

    def _fresh(self, term: str, now: float) -> int | None:
        found = self._counts.get(term)
        if found is None or now - found[0] >= self.ttl_seconds:
            return None
        self._counts.move_to_end(term)
        return found[1]

    def _remember(self, term: str, now: float, count: int) -> None:
        self._counts[term] = (now, count)
        self._counts.move_to_end(term)
        while len(self._counts) > self.max_terms:
            self._counts.popitem(last=False)


async def keyword_search(
    session: AsyncSession,
    query: str,
    *,
    limit: int,
    doc_types: Sequence[str] = (),
    shares: TermShares | None = None,
    max_share: float | None = None,
) -> list[KeywordHit]:
    """BM25-ranked chunks of the session's tenant. With `shares` and `max_share` (SQLite
    only), terms found in more than that share of all chunks are left out of the query."""
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        raise TenantScopeError("keyword search from a session without a tenant")
    terms = query_terms(query)
    if not terms:
        return []
    if session.get_bind().dialect.name == "sqlite":
        if shares is not None and max_share is not None:
            common = await shares.common(session, terms, max_share)
            terms = [t for t in terms if t not in common]
        return await _sqlite_search(session, terms, tenant, limit, doc_types)
    return await _postgres_search(session, terms, tenant, limit, doc_types)


def _phrase(term: str) -> str:
    return '"' + term.replace('"', "") + '"'


async def _sqlite_search(
    session: AsyncSession, terms: list[str], tenant: str, limit: int, doc_types: Sequence[str]
) -> list[KeywordHit]:
    # Quoted terms joined by OR: any-term match, ranked by BM25 (title weighted up).
    match = " OR ".join(_phrase(term) for term in terms)
    # An OR query matches about half of a corpus; joining every match to its chunk and
    # document before sorting costs three times the BM25 itself. So rank in the FTS index
    # alone first, then mark which of the best are this tenant's (and these types'), in the
    # same statement. Only when other tenants' chunks crowd the window out does it fall back
    # to the joined query.
    window = max(limit * 4, 200)
    mine = "c.tenant_id = :tenant" + (" AND d.doc_type IN :types" if doc_types else "")
    statement = text(
        f"WITH ranked AS (SELECT rowid AS id, {_SQLITE_SCORE} AS score FROM chunks_fts "
        "WHERE chunks_fts MATCH :match ORDER BY score DESC LIMIT :window) "
        f"SELECT r.id AS id, r.score AS score, ({mine}) AS mine FROM ranked r "
        "LEFT JOIN chunks c ON c.id = r.id LEFT JOIN documents d ON d.id = c.document_id "
        "ORDER BY r.score DESC"
    )
    params: dict[str, object] = {"match": match, "window": window, "tenant": tenant}
    if doc_types:
        statement = statement.bindparams(bindparam("types", expanding=True))
        params["types"] = list(doc_types)
    ranked = (await session.execute(statement, params)).all()
    hits = [KeywordHit(int(row.id), float(row.score)) for row in ranked if row.mine]
    if len(hits) >= limit or len(ranked) < window:
        return hits[:limit]
    return await _sqlite_joined_search(session, match, tenant, limit, doc_types)


async def _sqlite_joined_search(
    session: AsyncSession, match: str, tenant: str, limit: int, doc_types: Sequence[str]
) -> list[KeywordHit]:
    sql = (
        f"SELECT c.id AS id, {_SQLITE_SCORE} AS score "
        "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
        "JOIN documents d ON d.id = c.document_id "
        "WHERE chunks_fts MATCH :match AND c.tenant_id = :tenant"
        + (" AND d.doc_type IN :types" if doc_types else "")
        + " ORDER BY score DESC LIMIT :limit"
    )
    return await _run(session, sql, match, tenant, limit, doc_types)


async def _postgres_search(
    session: AsyncSession, terms: list[str], tenant: str, limit: int, doc_types: Sequence[str]
) -> list[KeywordHit]:
    match = " | ".join(terms)  # terms are letters and digits only: safe in to_tsquery
    sql = (
        "SELECT c.id AS id, ts_rank_cd(c.search_vector, q) AS score "
        "FROM chunks c JOIN documents d ON d.id = c.document_id, "
        "to_tsquery('english', :match) q "
        "WHERE c.search_vector @@ q AND c.tenant_id = :tenant"
        + (" AND d.doc_type IN :types" if doc_types else "")
        + " ORDER BY score DESC LIMIT :limit"
    )
    return await _run(session, sql, match, tenant, limit, doc_types)


async def _run(
    session: AsyncSession,
    sql: str,
    match: str,
    tenant: str,
    limit: int,
    doc_types: Sequence[str],
) -> list[KeywordHit]:
    statement = text(sql)
    params: dict[str, object] = {"match": match, "tenant": tenant, "limit": limit}
    if doc_types:
        statement = statement.bindparams(bindparam("types", expanding=True))
        params["types"] = list(doc_types)
    rows = await session.execute(statement, params)
    return [KeywordHit(int(row.id), float(row.score)) for row in rows]


_TOKENIZE = re.compile(r"tokenize\s*=\s*'([^']*)'", re.IGNORECASE)


async def postgres_lexemes(session: AsyncSession, words: Sequence[str]) -> list[tuple[str, ...]]:
    """Each word's lexemes as PostgreSQL's English configuration makes them for the index
    (none for a stop word), so query terms match the tsvector's exactly."""
    rows = await session.execute(
        text(
            "SELECT o, coalesce((SELECT array_agg(lexeme) FROM unnest(to_tsvector('english', w))),"
            " '{}') FROM unnest(CAST(:words AS text[])) WITH ORDINALITY AS t(w, o) ORDER BY o"
        ),
        {"words": list(words)},
    )
    return [tuple(str(lexeme) for lexeme in row[1]) for row in rows]


async def fts_tokenizer(session: AsyncSession) -> str:
    """The SQLite FTS5 index's tokenizer option (e.g. 'porter unicode61'), so that queries
    can be split into the same terms elsewhere."""
    sql = await session.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'chunks_fts'")
    )
    found = _TOKENIZE.search(sql or "")
    return found.group(1) if found else "unicode61"


async def chunk_term_weights(session: AsyncSession) -> list[tuple[str, int, float, int]]:
    """(term, chunk id, weighted count, count) for every term of each of the tenant's chunks,
    read from the full-text index itself (SQLite: FTS5's `instance` vocabulary, one row per
    token; PostgreSQL: the chunks' tsvector, one position per occurrence): the term as the
    index stores it (stemmed), how often it occurs with each occurrence weighted by its
    column as keyword_search weighs them, and how often it occurs."""
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        raise TenantScopeError("term counts from a session without a tenant")
    if session.get_bind().dialect.name == "postgresql":
        # The generated column marks title words A and heading words B (migration 0001);
        # PostgreSQL drops stop words, so a chunk's length counts the words it keeps.
        title, heading, body = (float(COLUMN_WEIGHTS[c]) for c in ("title", "heading", "text"))
        rows = await session.execute(
            text(
                f"SELECT u.lexeme, c.id, sum(CASE w WHEN 'A' THEN {title} WHEN 'B' THEN "
                f"{heading} ELSE {body} END), count(*) "
                "FROM chunks c CROSS JOIN LATERAL unnest(c.search_vector) u "
                "CROSS JOIN LATERAL unnest(u.weights) w "
                "WHERE c.tenant_id = :tenant GROUP BY u.lexeme, c.id"
            ),
            {"tenant": tenant},
        )
        return [(str(r[0]), int(r[1]), float(r[2]), int(r[3])) for r in rows]
    # A temp table: per connection, no migration, and it only reads the index.
    await session.execute(
        text(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.chunks_fts_instances "
            "USING fts5vocab(main, chunks_fts, instance)"
        )
    )
    weight = " ".join(f"WHEN '{name}' THEN {w}" for name, w in COLUMN_WEIGHTS.items())
    rows = await session.execute(
        text(
            f"SELECT v.term, v.doc, sum(CASE v.col {weight} ELSE 1.0 END), count(*) "
            "FROM temp.chunks_fts_instances v "
            "WHERE v.doc IN (SELECT id FROM chunks WHERE tenant_id = :tenant) "
            "GROUP BY v.term, v.doc"
        ),
        {"tenant": tenant},
    )
    return [(str(r[0]), int(r[1]), float(r[2]), int(r[3])) for r in rows]
