"""Keyword search over chunks: SQLite FTS5 (BM25) or PostgreSQL full-text, one interface.

Raw SQL bypasses the ORM scoping hooks, so the tenant filter is written into each query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.errors import TenantScopeError
from frontdesk.storage.scoping import TENANT_KEY
from frontdesk.text import STOPWORDS, words


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: int
    score: float  # higher is better on both backends


def query_terms(query: str, limit: int = 32) -> list[str]:
    """Distinct topic words of a query, in order; all words if it has only stop words."""
    all_words = [w for w in words(query) if len(w) > 1 or w.isdigit()]
    topical = [w for w in all_words if w not in STOPWORDS] or all_words
    return list(dict.fromkeys(topical))[:limit]


async def keyword_search(
    session: AsyncSession, query: str, *, limit: int, doc_types: Sequence[str] = ()
) -> list[KeywordHit]:
    tenant = session.info.get(TENANT_KEY)
    if tenant is None:
        raise TenantScopeError("keyword search from a session without a tenant")
    terms = query_terms(query)
    if not terms:
        return []
    dialect = session.get_bind().dialect.name
    type_filter = " AND d.doc_type IN :types" if doc_types else ""
    if dialect == "sqlite":
        # Quoted terms joined by OR: any-term match, ranked by BM25 (title weighted up).
        match = " OR ".join('"' + term.replace('"', "") + '"' for term in terms)
        sql = (
            "SELECT c.id AS id, -bm25(chunks_fts, 4.0, 2.0, 1.0) AS score "
            "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN documents d ON d.id = c.document_id "
            f"WHERE chunks_fts MATCH :match AND c.tenant_id = :tenant{type_filter} "
            "ORDER BY score DESC LIMIT :limit"
        )
    else:
        match = " | ".join(terms)  # terms are letters and digits only: safe in to_tsquery
        sql = (
            "SELECT c.id AS id, ts_rank_cd(c.search_vector, q) AS score "
            "FROM chunks c JOIN documents d ON d.id = c.document_id, "
            "to_tsquery('english', :match) q "
            f"WHERE c.search_vector @@ q AND c.tenant_id = :tenant{type_filter} "
            "ORDER BY score DESC LIMIT :limit"
        )
    statement = text(sql)
    params: dict[str, object] = {"match": match, "tenant": tenant, "limit": limit}
    if doc_types:
        statement = statement.bindparams(bindparam("types", expanding=True))
        params["types"] = list(doc_types)
    rows = await session.execute(statement, params)
    return [KeywordHit(int(row.id), float(row.score)) for row in rows]
