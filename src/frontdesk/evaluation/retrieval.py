"""`frontdesk evaluate retrieval`: the retriever against golden queries (atoms by title).

Expected atoms are listed best first; the first gets relevance 2, the others 1, so nDCG
rewards putting the main answer on top. Passages map to their atom; an atom ranks where its
best passage does.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from frontdesk.evaluation.golden_file import load_golden_file
from frontdesk.evaluation.metrics import ndcg_at, recall_at, reciprocal_rank
from frontdesk.interfaces import Retriever


class GoldenQuery(BaseModel):
    query: str = Field(min_length=1)
    expected: list[str] = Field(min_length=1)


class GoldenSet(BaseModel):
    queries: list[GoldenQuery] = Field(min_length=1)


def load_golden(path: Path) -> GoldenSet:
    return load_golden_file(path, GoldenSet, "golden file")


@dataclass
class QueryResult:
    query: str
    expected: list[str]
    ranked: list[str]
    ndcg: float
    recall: float
    rr: float


@dataclass
class RetrievalReport:
    k: int
    results: list[QueryResult] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return {
            f"recall_at_{self.k}": round(statistics.fmean(r.recall for r in self.results), 4),
            "mrr": round(statistics.fmean(r.rr for r in self.results), 4),
            "ndcg_at_10": round(statistics.fmean(r.ndcg for r in self.results), 4),
            "queries": len(self.results),
        }

    def misses(self) -> list[QueryResult]:
        return [r for r in self.results if r.rr == 0.0 or r.recall < 1.0]


async def evaluate_retrieval(
    retriever: Retriever, tenant_id: str, golden: GoldenSet, *, k: int = 5, depth: int = 20
) -> RetrievalReport:
    report = RetrievalReport(k=k)
    for item in golden.queries:
        passages = await retriever.search(tenant_id, item.query, limit=depth)
        ranked = list(dict.fromkeys(p.title for p in passages))
        relevance = {title: (2.0 if i == 0 else 1.0) for i, title in enumerate(item.expected)}
        report.results.append(
            QueryResult(
                query=item.query,
                expected=item.expected,
                ranked=ranked,
                ndcg=ndcg_at(ranked, relevance, 10),
                recall=recall_at(ranked, relevance, k),
                rr=reciprocal_rank(ranked, relevance),
            )
        )
    return report
