"""Retrieval benchmark on SciFact (BEIR layout, test qrels): frontdesk beside Haystack.

frontdesk runs its real ingestion (SQLite + FTS5, the packaged MiniLM int8 embeddings) and
its real `HybridRetriever`; Haystack gets the same chunks with the same embeddings in its
in-memory BM25 and embedding retrievers joined by reciprocal-rank fusion. Fusion weights
for the tuned frontdesk row are picked on the *train* qrels, then reported on test.
Prints a table and writes bench/results/retrieval.json.

    .venv/bin/python bench/retrieval.py [--data PATH] [--limit-docs N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from frontdesk.config.settings import KnowledgeSettings
from frontdesk.embedding import CachingEmbedder, MiniLMEmbedder, limit_blas_threads
from frontdesk.embedding.minilm import QUANTIZED_MODEL_NAME
from frontdesk.knowledge.ingest import ingest_source, refresh_index
from frontdesk.knowledge.keyword_index import KeywordSearch
from frontdesk.knowledge.retriever import HybridRetriever
from frontdesk.knowledge.vectors import VectorCache, index_version
from frontdesk.storage import migrate
from frontdesk.storage.db import Database
from frontdesk.storage.models import Chunk, Document
from frontdesk.storage.tenants import ensure_tenant

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "scifact_beir"
RESULTS = ROOT / "bench" / "results" / "retrieval.json"
DEPTH = 100
# Keyword search may leave out terms found in more than this share of chunks (None: keep all);
# the share is chosen on the train queries with the fusion settings, for the shipped in-process
# BM25 (`memory`). FTS5's own bm25() is reported beside it.
SHARES: tuple[float | None, ...] = (None, 0.5, 0.4, 0.3, 0.2, 0.1)
Qrels = dict[str, dict[str, int]]


def load(data: Path, split: str) -> tuple[dict[str, dict[str, str]], dict[str, str], Qrels]:
    corpus = {}
    with (data / "corpus.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            corpus[row["_id"]] = {"title": row.get("title", ""), "text": row["text"]}
    queries = {}
    with (data / "queries.jsonl").open() as handle:
        for line in handle:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    qrels: Qrels = defaultdict(dict)
    with (data / "qrels" / f"{split}.tsv").open() as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        for qid, did, score in reader:
            if int(score) > 0:
                qrels[qid][did] = int(score)
    return corpus, {q: queries[q] for q in qrels}, dict(qrels)


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def evaluate(runs: dict[str, list[str]], qrels: Qrels) -> dict[str, float]:
    return {
        "ndcg_at_10": statistics.fmean(ndcg_at(runs.get(q, []), qrels[q]) for q in qrels),
        "recall_at_100": statistics.fmean(
            len(set(runs.get(q, [])[:DEPTH]) & set(qrels[q])) / len(qrels[q]) for q in qrels
        ),
    }


def to_docs(chunk_ranking: Sequence[int], doc_of: dict[int, str]) -> list[str]:
    """A document ranks where its best chunk does."""
    return list(dict.fromkeys(doc_of[c] for c in chunk_ranking))[:DEPTH]


def latency(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(samples, 50)) * 1000, 2),
        "p95_ms": round(float(np.percentile(samples, 95)) * 1000, 2),
    }


class FrontdeskIndex:
    def __init__(self, db: Database, tenant_id: str, embedder: CachingEmbedder) -> None:
        self.db, self.tenant_id, self.embedder = db, tenant_id, embedder
        self.cache = VectorCache()
        # One in-process index (its share set per call), and FTS5 with and without pruning.
        self.memory = KeywordSearch(db, scoring="memory")
        self.fts5 = {share: KeywordSearch(db, scoring="fts5", max_share=share)
                     for share in (None, 0.2)}  # fmt: skip
        self.doc_of: dict[int, str] = {}

    @classmethod
    async def build(cls, corpus: dict[str, dict[str, str]], embedder: CachingEmbedder,
                    url: str, figures: Path,
                    ) -> tuple[FrontdeskIndex, dict[str, float]]:  # fmt: skip
        db = Database(url)
        await migrate.upgrade(db)
        tenant = await ensure_tenant(db, "bench")
        started = time.perf_counter()
        async with db.session(tenant.id) as session:
            for doc_id, doc in corpus.items():
                body = f"# {doc['title']}\n\n{doc['text']}".encode()
                await ingest_source(session, f"{doc_id}.md", body)
            keyword_done = time.perf_counter()

            def report(done: int, total: int) -> None:
                if done % 1024 < 64 or done == total:
                    print(f"  embedded {done}/{total} chunks", file=sys.stderr)

            embedded = await refresh_index(session, embedder, changed=True, progress=report)
            await session.commit()
            done = time.perf_counter()
            pairs = (
                await session.execute(
                    select(Chunk.id, Document.source).join(
                        Document, Document.id == Chunk.document_id
                    )
                )
            ).all()
        index = cls(db, tenant.id, embedder)
        index.doc_of = {int(cid): src.removesuffix(".md") for cid, src in pairs}
        # The in-process keyword index builds in the background after the first search in
        # a server; here it is built before anything is timed (build time reported).
        warm_started = time.perf_counter()
        await index.memory.warm(tenant.id)
        keyword_index_seconds = round(time.perf_counter() - warm_started, 2)
        seconds = done - started
        if embedded == 0:
            # The cached index was complete: report the figures of the run that built it.
            built = json.loads(await asyncio.to_thread(figures.read_text)) if (
                await asyncio.to_thread(figures.is_file)) else {}  # fmt: skip
            return index, {**built, "reused_cached_index": True, "chunks": len(pairs),
                           "keyword_index_build_seconds": keyword_index_seconds}  # fmt: skip
        measured = {
            "ingest_seconds": round(seconds, 1),
            "ingest_docs_per_second": round(len(corpus) / seconds, 1),
            "keyword_only_docs_per_second": round(len(corpus) / (keyword_done - started), 1),
            "chunks": len(pairs),
            "keyword_index_build_seconds": keyword_index_seconds,
            "load_average_at_end": round(os.getloadavg()[0], 1),
        }
        await asyncio.to_thread(figures.write_text, json.dumps(measured))
        return index, measured

    async def keyword(self, query: str, option: tuple[str, float | None] = ("memory", None)
                      ) -> tuple[list[tuple[int, float]], float]:  # fmt: skip
        """The keyword list with its scores, and how long it took (the index version read
        included, as the retrievers do)."""
        started = time.perf_counter()
        async with self.db.session(self.tenant_id) as session:
            current = await index_version(session)
            search = self.memory if option[0] == "memory" else self.fts5[option[1]]
            search.max_share = option[1]
            hits = await search.search(
                session, self.tenant_id, query, limit=DEPTH,
                version=current.version if current else None,
            )  # fmt: skip
        return [(h.chunk_id, h.score) for h in hits], time.perf_counter() - started

    async def lists(self, query: str) -> tuple[list[tuple[int, float]], list[tuple[int, float]],
                                                float, float]:  # fmt: skip
        """Each list with its scores, and how long each took."""
        keyword, keyword_s = await self.keyword(query)
        started = time.perf_counter()
        vector = np.asarray(self.embedder.inner.embed([query])[0], dtype=np.float32)
        async with self.db.session(self.tenant_id) as session:
            vectors = await self.cache.get(session, self.tenant_id)
        assert vectors is not None
        dense = vectors.top(vector, DEPTH)
        return keyword, dense, keyword_s, time.perf_counter() - started


Lists = dict[str, tuple[list[tuple[int, float]], list[tuple[int, float]]]]


def fused_runs(lists: Lists, doc_of: dict[int, str], retriever: HybridRetriever
               ) -> dict[str, list[str]]:  # fmt: skip
    return {q: to_docs([c for c, _ in retriever.fuse(kw, dense)], doc_of)
            for q, (kw, dense) in lists.items()}  # fmt: skip


def tune(keyword_by_option: dict[tuple[str, float | None], dict[str, list[tuple[int, float]]]],
         dense: dict[str, list[tuple[int, float]]], qrels: Qrels, doc_of: dict[int, str],
         db: Database, embedder: Any) -> dict[str, Any]:  # fmt: skip
    """The keyword list and fusion settings with the best nDCG@10 on the train queries."""
    grid: list[dict[str, Any]] = [
        {"fusion": "convex", "dense_share": round(float(share), 2)}
        for share in np.arange(0.3, 0.85, 0.05)
    ]
    grid += [
        {"fusion": "rrf", "rrf_k": k, "dense_weight": w}
        for w in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
        for k in (5, 10, 20, 40, 60)
    ]
    scored = []
    for (scoring, max_share), keyword in keyword_by_option.items():
        lists = {q: (keyword[q], dense[q]) for q in keyword}
        for options in grid:
            retriever = HybridRetriever(db, embedder, **options)
            ndcg = evaluate(fused_runs(lists, doc_of, retriever), qrels)["ndcg_at_10"]
            scored.append((ndcg, {**options, "keyword_scoring": scoring,
                                  "keyword_max_share": max_share}))  # fmt: skip
    return max(scored, key=lambda pair: pair[0])[1]


async def run_frontdesk(corpus: dict[str, dict[str, str]], test: tuple[dict[str, str], Qrels],
                        train: tuple[dict[str, str], Qrels], embedder: CachingEmbedder,
                        workdir: Path, database_url: str | None = None,
                        ) -> tuple[dict[str, Any], FrontdeskIndex]:  # fmt: skip
    # One index per embedding model, so either can be re-run without re-embedding.
    database = (
        "scifact.db" if embedder.name == QUANTIZED_MODEL_NAME else f"scifact-{embedder.name}.db"
    )
    url = database_url or f"sqlite:///{workdir / database}"
    figures = workdir / (f"scifact-postgresql-{embedder.name}.ingest.json" if database_url
                         else database.replace(".db", ".ingest.json"))  # fmt: skip
    index, ingest = await FrontdeskIndex.build(corpus, embedder, url, figures)
    # FTS5's bm25() rows exist only on SQLite; PostgreSQL ranks with its own full-text search.
    sqlite = index.db.engine.dialect.name == "sqlite"
    print(f"  frontdesk ingest: {ingest}", file=sys.stderr)
    test_queries, test_qrels = test
    train_queries, train_qrels = train
    lists: Lists = {}
    keyword_times, dense_times, encoder_times, packaged_times = [], [], [], []
    # The packaged file as is, timed beside the model in use (what the integer copy gains).
    quantized = isinstance(embedder.inner, MiniLMEmbedder) and embedder.inner.quantized
    packaged = MiniLMEmbedder(quantized=False) if quantized else None
    for qid, text in test_queries.items():
        kw, dense, kw_s, dense_s = await index.lists(text)
        lists[qid] = (kw, dense)
        keyword_times.append(kw_s)
        dense_times.append(dense_s)
        # The query encoder alone: the floor under the dense and hybrid latencies.
        started = time.perf_counter()
        embedder.inner.embed([text])
        encoder_times.append(time.perf_counter() - started)
        if packaged is not None:
            started = time.perf_counter()
            packaged.embed([text])
            packaged_times.append(time.perf_counter() - started)
    train_keyword: dict[tuple[str, float | None], dict[str, list[tuple[int, float]]]] = {}
    train_dense: dict[str, list[tuple[int, float]]] = {}
    for qid, text in train_queries.items():
        _, train_dense[qid], _, _ = await index.lists(text)
    for option in [("memory", share) for share in SHARES]:
        train_keyword[option] = {q: (await index.keyword(t, option))[0]
                                 for q, t in train_queries.items()}  # fmt: skip
    tuned = tune(train_keyword, train_dense, train_qrels, index.doc_of, index.db, embedder.inner)
    print(f"  fusion tuned on train: {tuned}", file=sys.stderr)

    def ids(pairs: list[tuple[int, float]]) -> list[int]:
        return [item for item, _ in pairs]

    results: dict[str, Any] = {}
    results["frontdesk_bm25"] = {
        **evaluate({q: to_docs(ids(kw), index.doc_of) for q, (kw, _) in lists.items()}, test_qrels),
        **latency(keyword_times), "keyword_scoring": "memory",
    }  # fmt: skip
    # The tuned share, and FTS5's own bm25() beside it, with every term and leaving out some.
    rows: list[tuple[str, tuple[str, float | None]]] = [
        ("frontdesk_bm25_fts5", ("fts5", None)),
        ("frontdesk_bm25_fts5_pruned", ("fts5", 0.2)),
    ] if sqlite else []  # fmt: skip
    if tuned["keyword_max_share"] is not None:
        rows.insert(0, ("frontdesk_bm25_pruned", ("memory", tuned["keyword_max_share"])))
    for name, option in rows:
        option_runs, option_times = {}, []
        for qid, text in test_queries.items():
            kw, seconds = await index.keyword(text, option)
            option_runs[qid] = to_docs(ids(kw), index.doc_of)
            option_times.append(seconds)
        results[name] = {
            **evaluate(option_runs, test_qrels), **latency(option_times),
            "keyword_scoring": option[0], "keyword_max_share": option[1],
        }  # fmt: skip
    results["query_encoder_only"] = {"note": f"{embedder.name}, one query, no search",
                                     **latency(encoder_times)}  # fmt: skip
    if packaged is not None:
        results["query_encoder_packaged"] = {
            "note": f"{packaged.name} (the packaged file, float MatMuls), same queries, "
                    "timed alternately with the row above", **latency(packaged_times)}  # fmt: skip
    results["frontdesk_dense"] = {
        **evaluate({q: to_docs(ids(d), index.doc_of) for q, (_, d) in lists.items()}, test_qrels),
        **latency(dense_times),
    }
    knowledge = KnowledgeSettings()
    shipped = {"fusion": knowledge.fusion, "dense_share": knowledge.dense_share,
               "rrf_k": knowledge.rrf_k, "dense_weight": knowledge.dense_weight,
               "keyword_scoring": knowledge.keyword_scoring,
               "keyword_max_share": knowledge.keyword_max_share}  # fmt: skip
    configurations: list[tuple[str, dict[str, Any]]] = [
        ("frontdesk_hybrid_rrf", {"fusion": "rrf", "rrf_k": 60, "dense_weight": 1.0}),
        ("frontdesk_hybrid", shipped),  # the shipped defaults
        # The same, with FTS5 ranking each query (the previous default).
        ("frontdesk_hybrid_fts5", {**shipped, "keyword_scoring": "fts5"}),
        ("frontdesk_hybrid_tuned", tuned),
    ]
    if not sqlite:
        configurations = [c for c in configurations if c[0] != "frontdesk_hybrid_fts5"]
    for name, options in configurations:
        retriever = HybridRetriever(index.db, embedder.inner, candidates=DEPTH, **options)
        await retriever.warm(index.tenant_id)
        runs, times = {}, []
        for qid, text in test_queries.items():
            # Latency as the pipeline sees it (top 10 passages); quality from a deep list.
            started = time.perf_counter()
            await retriever.search(index.tenant_id, text, limit=10)
            times.append(time.perf_counter() - started)
            passages = await retriever.search(index.tenant_id, text, limit=DEPTH * 2)
            runs[qid] = to_docs([p.chunk_id for p in passages], index.doc_of)
        settings = {"fusion": retriever.fusion, "dense_share": retriever.dense_share,
                    "rrf_k": retriever.rrf_k, "dense_weight": retriever.dense_weight,
                    "keyword_scoring": options.get("keyword_scoring", "memory"),
                    "keyword_max_share": options.get("keyword_max_share")}  # fmt: skip
        results[name] = {**evaluate(runs, test_qrels), **latency(times), **settings}
    results["frontdesk_hybrid_rerank"] = {
        "skipped": "no cross-encoder ships its weights inside a PyPI package (OFFLINE-MODELS.md)"
    }
    results["ingest"] = ingest
    return results, index


def run_haystack(index: FrontdeskIndex, test: tuple[dict[str, str], Qrels]) -> dict[str, Any]:
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from haystack import Document as HDocument
    from haystack import Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import (
        InMemoryBM25Retriever,
        InMemoryEmbeddingRetriever,
    )
    from haystack.document_stores.in_memory import InMemoryDocumentStore

    async def chunks() -> list[Any]:
        async with index.db.session(index.tenant_id) as session:
            rows = await session.execute(select(Chunk.id, Chunk.title, Chunk.text, Chunk.embedding))
            return list(rows)

    store = InMemoryDocumentStore()
    documents = [
        HDocument(
            id=str(cid),
            content=f"{title}\n{text}",
            embedding=np.frombuffer(blob, dtype=np.float32).tolist(),
            meta={"chunk_id": int(cid)},
        )
        for cid, title, text, blob in asyncio.run(chunks())
    ]
    started = time.perf_counter()
    store.write_documents(documents)
    write_seconds = time.perf_counter() - started
    pipeline = Pipeline()
    pipeline.add_component("bm25", InMemoryBM25Retriever(document_store=store, top_k=DEPTH))
    pipeline.add_component("dense", InMemoryEmbeddingRetriever(document_store=store, top_k=DEPTH))
    pipeline.add_component(
        "join", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=DEPTH * 2)
    )
    pipeline.connect("bm25", "join")
    pipeline.connect("dense", "join")
    test_queries, test_qrels = test
    runs, times = {}, []
    for qid, text in test_queries.items():
        started = time.perf_counter()
        vector = index.embedder.inner.embed([text])[0]  # the same model, uncached, as frontdesk
        out = pipeline.run({"bm25": {"query": text}, "dense": {"query_embedding": vector}})
        times.append(time.perf_counter() - started)
        ranked = [int(d.meta["chunk_id"]) for d in out["join"]["documents"]]
        runs[qid] = to_docs(ranked, index.doc_of)
    return {"haystack_hybrid_rrf": {**evaluate(runs, test_qrels), **latency(times),
                                    "write_seconds": round(write_seconds, 1)}}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit-docs", type=int, default=0, help="for a quick smoke run")
    parser.add_argument("--no-haystack", action="store_true")
    parser.add_argument(
        "--embedder",
        choices=["minilm", "minilm-packaged"],
        default="minilm",
        help="minilm: integer MatMuls derived from the packaged file (default); "
        "minilm-packaged: the file as it ships (results go to retrieval-minilm-packaged.json)",
    )
    parser.add_argument(
        "--database-url",
        help="run on this database instead of a SQLite file, e.g. "
        "postgresql+asyncpg://postgres@127.0.0.1:5432/frontdesk_bench (an empty database; "
        "results go to retrieval-postgresql.json)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=ROOT / "bench" / ".cache",
        help="keep the index here between runs (re-ingest then skips unchanged documents)",
    )
    args = parser.parse_args()
    # As the server runs (frontdesk.embedding.threads); Haystack shares the setting.
    limit_blas_threads()
    corpus, test_queries, test_qrels = load(args.data, "test")
    _, train_queries, train_qrels = load(args.data, "train")
    if args.limit_docs:
        keep = set(list(corpus)[: args.limit_docs]) | {d for r in test_qrels.values() for d in r}
        corpus = {k: v for k, v in corpus.items() if k in keep}
    print(f"SciFact: {len(corpus)} documents, {len(test_queries)} test queries", file=sys.stderr)
    model = MiniLMEmbedder(quantized=args.embedder == "minilm")
    embedder = CachingEmbedder(model, max_items=200_000)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.cache_dir) as tmp:
        workdir = Path(tmp) if args.limit_docs else args.cache_dir
        test, train = (test_queries, test_qrels), (train_queries, train_qrels)
        results, index = asyncio.run(
            run_frontdesk(corpus, test, train, embedder, workdir, args.database_url)
        )
        dialect = index.db.engine.dialect.name
        if not args.no_haystack:
            results.update(run_haystack(index, (test_queries, test_qrels)))
        asyncio.run(index.db.dispose())
    results["setup"] = {
        "documents": len(corpus),
        "queries": len(test_queries),
        "embedding_model": model.name,
        "database": dialect,
        "embedding_max_tokens": model.max_tokens,
        "cpu_count": os.cpu_count(),
        # Latency from a busy machine is worth little: this says how busy it was.
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
    }
    print(f"\n{'system':28} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>8} {'p95 ms':>8}")
    for name, row in results.items():
        if "ndcg_at_10" in row:
            print(f"{name:28} {row['ndcg_at_10']:8.3f} {row['recall_at_100']:7.3f} "
                  f"{row['p50_ms']:8.2f} {row['p95_ms']:8.2f}")  # fmt: skip
        elif "p95_ms" in row:
            print(f"{name:28} {'':8} {'':7} {row['p50_ms']:8.2f} {row['p95_ms']:8.2f}")
        elif "skipped" in row:
            print(f"{name:28} skipped: {row['skipped']}")
    print("published (BEIR paper): BM25 0.665, BM25 + cross-encoder rerank 0.688 nDCG@10")
    print(f"ingest: {results['ingest']}")
    stem = "retrieval" + ("-postgresql" if args.database_url else "")
    stem += "" if args.embedder == "minilm" else f"-{args.embedder}"
    out = RESULTS.with_stem(stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
