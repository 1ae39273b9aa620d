"""Does reading the passage against the question tell answerable from unanswerable better
than the pooled embedding cosine? Late interaction (ColBERT-style MaxSim) with the shipped
MiniLM's contextual token vectors, scored leave-one-set-out.

The failures answerability.py leaves are near misses: the question asks about X (a
prepayment price, a tariff edition, another region) and the best passage is about a sibling
of X. A pooled cosine blurs that; a token-level match might not: each of the question's
content tokens looks for its best match among the tokens of the closest passages, and one
token with no good match (the "prepayment" no passage says) should show.

1. Collect (cached in bench/.cache/answerability-reading/): every golden case of the demo,
   examples/energy-utility and CLAPNQ dev runs through the real pipeline once, with every
   question judged answerable (threshold 0) so that each answerable case's citation is known;
   the turn's question, retrieval query, passages and signals are recorded.
2. Token vectors: the shipped MiniLM's last_hidden_state (before pooling), L2-normalised per
   token, for the retrieval query (the text retrieval already embeds) and for each passage's
   embedding text (title, headings, text: what ingest embeds), 256 tokens at most.
3. Features per question: for each content token of the question (not [CLS]/[SEP],
   punctuation, stop words or the words of "how it is asked"; a word's pieces as one word:
   their mean, or `piecemax` their best), the best cosine over the tokens of the best 1 / 3
   passages by dense cosine (`ms1_`, `ms3_`); the minimum, lower quantile, mean,
   idf-weighted mean and idf-weighted share below 0.6/0.7/0.8 over the question's words,
   over its `focus` (words not in the intent's name), over the words of its `asking`
   sentences (ending in '?' or opening with a question word, not the story around them),
   and with a `rare` weight (the tokenizer's vocabulary id: rare in English). Also: words
   the best passage does not hold, split into `lost` (no token there within 0.4/0.5) and
   `sibling` (a near token: another region, year, payment method); the passage's own
   heading against the question (`head_`: pooled cosine, MaxSim both ways); a learned
   diagonal bilinear similarity (`q*p products`: the 384 products of the pooled question
   and best-passage vectors); and gradient boosting over everything (`boosted`).
4. Leave one set out: a logistic model on dense + gap (what ships) and on dense + gap + each
   reading feature, fitted on two sets, AUROC on the third, with a paired bootstrap interval
   of the gain; and an operating point: the share of unanswerable questions declined at the
   highest threshold where the answerable ones still cite the right passage at 0.85
   (CLAPNQ's target pair; 0 where a set never reaches 0.85 cited) or at 0.95 of the rate
   they reach with every question answered. Also within each set (5-fold cross-validated:
   what a workspace's own calibration could get), and the cost: CPU time to encode a text's
   tokens (a passage must be encoded at ingest) and of the MaxSim itself.

CLAPNQ test and the held-out workspace are not read here.

    .venv/bin/python bench/answerability_reading.py [--recollect] [--output JSON]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from answer_runs import ROOT, run_golden
from clapnq_workspace import DEFAULT_DATA, DEFAULT_OUT, build

import frontdesk.orchestration.stages as stages
from frontdesk.evaluation.answers import cites_one_of, load_answer_golden
from frontdesk.knowledge.ingest import embedding_text

RESULTS = ROOT / "bench" / "results" / "answerability_reading.json"
CACHE = ROOT / "bench" / ".cache" / "answerability-reading"
SETS = ("demo", "energy", "clapnq_dev")


# ---------------------------------------------------------------- 1. collect


async def collect_set(root: Path, golden: Path | None, in_place: bool) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    judge = stages.judge_answerability

    def recording(turn: Any, deps: Any, model: Any, passages: list[Any]) -> Any:
        judged = judge(turn, deps, dataclasses.replace(model, threshold=0.0), passages)
        seen[turn.text] = {
            "question": stages._without_identifiers(turn),
            "query": stages.retrieval_query(turn),
            "intent": turn.intent.name if turn.intent and turn.intent.confidence >= 0.5
            and not turn.intent.out_of_scope else None,
            "signals": dict(judged.signals),
            "passages": [
                {"chunk_id": p.chunk_id, "title": p.title, "heading": p.heading,
                 "text": p.text, "source": p.source, "dense": p.dense_score,
                 "keyword": p.keyword_score}
                for p in passages
            ],
        }  # fmt: skip
        return judged

    stages.judge_answerability = recording  # type: ignore[assignment]
    try:
        report = await run_golden(root, golden, in_place=in_place)
    finally:
        stages.judge_answerability = judge  # type: ignore[assignment]
    cases = load_answer_golden(golden or root / "golden" / "answers.yaml").cases
    by_id = {r.id: r for r in report.results}
    rows = []
    for case in cases:
        if case.message not in seen:
            continue  # refused by the screen: no retrieval
        row = seen[case.message]
        result = by_id[case.id]
        row["id"] = case.id
        row["answerable"] = int(case.answerable)
        row["right_citation"] = bool(result.right_citation) if case.answerable else None
        row["gold_in_passages"] = [
            bool(case.cite) and cites_one_of([p["title"]], [p["source"]], case.cite)
            for p in row["passages"]
        ]
        rows.append(row)
    return rows


def collect(recollect: bool) -> dict[str, list[dict[str, Any]]]:
    path = CACHE / "rows.pkl"
    if path.is_file() and not recollect:
        return pickle.loads(path.read_bytes())  # type: ignore[no-any-return]
    clapnq = build(DEFAULT_DATA, DEFAULT_OUT)
    runs = {
        "demo": (ROOT / "src" / "frontdesk" / "demo" / "workspace", None, False),
        "energy": (ROOT / "examples" / "energy-utility", None, False),
        "clapnq_dev": (clapnq, clapnq / "golden" / "answers-dev.yaml", True),
    }
    found = {name: asyncio.run(collect_set(*run)) for name, run in runs.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(found))
    return found


# ---------------------------------------------------------------- 2. token vectors


class TokenEncoder:
    """The shipped MiniLM's contextual token vectors (last_hidden_state, L2-normalised)."""

    def __init__(self) -> None:
        from frontdesk.embedding.minilm import MiniLMEmbedder

        self.embedder = MiniLMEmbedder().load()
        self.cache: dict[str, tuple[np.ndarray, list[tuple[int, int]], list[int | None]]] = {}
        self.seconds: list[float] = []  # CPU time of each encode (one text a call, as served)
        self.lengths: list[int] = []

    def encode(self, text: str) -> tuple[np.ndarray, list[tuple[int, int]], list[int | None]]:
        """Token vectors [n, 384] without [CLS]/[SEP], each token's character span and word."""
        if text in self.cache:
            return self.cache[text]
        began = time.process_time()  # all of onnxruntime's threads, not only this one
        enc = self.embedder._tokenizer.encode(text)
        ids = np.asarray([enc.ids], dtype=np.int64)
        hidden = self.embedder._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": np.ones_like(ids),
             "token_type_ids": np.zeros_like(ids)},
        )[0][0]  # fmt: skip
        self.seconds.append(time.process_time() - began)
        self.lengths.append(len(enc.ids))
        keep = [i for i, t in enumerate(enc.special_tokens_mask) if not t]
        vectors = hidden[keep]
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        found = (vectors.astype(np.float32), [enc.offsets[i] for i in keep],
                 [enc.word_ids[i] for i in keep])  # fmt: skip
        self.cache[text] = found
        return found


# ---------------------------------------------------------------- 3. features

ASKING = frozenset(
    """know tell help able possible happen happens work way still also now yet ever again
    usual usually normally really much many long soon often take takes anyone someone
    something anything question questions wondering wonder hey thank thanks ok okay hiya
    mate guys folks quick""".split()
)


def question_words(
    encoder: TokenEncoder, query: str, question: str
) -> tuple[np.ndarray, list[tuple[str, list[int]]]]:
    """The query's token vectors and its question part's content words with their tokens."""
    from frontdesk.text import STOPWORDS

    vectors, offsets, word_ids = encoder.encode(query)
    limit = len(question.rstrip())
    grouped: dict[int, list[int]] = {}
    for i, (span, word) in enumerate(zip(offsets, word_ids, strict=True)):
        if word is not None and span[1] <= limit:
            grouped.setdefault(word, []).append(i)
    found = []
    for tokens in grouped.values():
        text = query[offsets[tokens[0]][0] : offsets[tokens[-1]][1]].lower()
        if not any(c.isalnum() for c in text) or text in STOPWORDS or text in ASKING:
            continue
        if len(text) < 2 and not text.isdigit():
            continue
        found.append((text, tokens))
    return vectors, found


def asking_mask(
    question: str, query: str, encoder: TokenEncoder, qwords: Sequence[tuple[str, list[int]]]
) -> np.ndarray:
    """Which of the question's words are in a sentence that asks (ends with '?' or opens
    with a question word), not the story around it; all of them when none asks."""
    import re

    _, offsets, _ = encoder.encode(query)
    spans = []
    for m in re.finditer(r"[^.!?\n]+[.!?]*", question):
        sentence = m.group(0).strip().lower()
        if sentence.endswith("?") or re.match(
            r"(what|whats|what's|how|why|when|where|which|who|can|could|do|does|did|is|are|"
            r"will|would|should|may|have|has)\b", sentence):  # fmt: skip
            spans.append((m.start(), m.end()))
    if not spans:
        return np.ones(len(qwords), dtype=bool)
    return np.array(
        [any(a <= offsets[t[0]][0] < b for a, b in spans) for _, t in qwords], dtype=bool
    )


def passage_tokens(encoder: TokenEncoder, passage: dict[str, Any]) -> np.ndarray:
    text = embedding_text(passage["title"], passage["heading"], [], passage["text"])
    return encoder.encode(text)[0]


def idf_table(rows: Sequence[dict[str, Any]]) -> tuple[int, dict[str, int]]:
    """Document frequencies of words over the distinct chunks the set retrieved."""
    from frontdesk.text import words

    chunks: dict[int, set[str]] = {}
    for row in rows:
        for p in row["passages"]:
            chunks.setdefault(p["chunk_id"], set(words(f"{p['title']} {p['heading']} {p['text']}")))
    counts: dict[str, int] = {}
    for held in chunks.values():
        for w in held:
            counts[w] = counts.get(w, 0) + 1
    return len(chunks), counts


def reading_features(
    encoder: TokenEncoder, row: dict[str, Any], idf: tuple[int, dict[str, int]]
) -> dict[str, float]:
    q_vectors, qwords = question_words(encoder, row["query"], row["question"])
    passages = (
        sorted((p for p in row["passages"] if p["dense"] is not None), key=lambda p: -p["dense"])
        or row["passages"]
    )
    feats: dict[str, float] = {}
    if not qwords or not passages:
        return feats
    n_chunks, counts = idf
    intent = set((row.get("intent") or "").split("_"))
    weights = np.array(
        [math.log((n_chunks + 1) / (counts.get(w, 0) + 0.5)) for w, _ in qwords]
    ).clip(0.05)
    focus = np.array([w not in intent for w, _ in qwords])
    asking = asking_mask(row["question"], row["query"], encoder, qwords)
    # The tokenizer's vocabulary is roughly in order of frequency in English: a word's first
    # piece's id (or being split into pieces) says how rare it is outside this knowledge base.
    ids = encoder.embedder._tokenizer.encode(row["query"]).ids[1:-1]
    rarity = np.array([
        math.log(ids[t[0]]) + (1.0 if len(t) > 1 else 0.0) if t[0] < len(ids) else 8.0
        for _, t in qwords
    ]) / 10.0  # fmt: skip
    from frontdesk.text import stem, words

    held = {stem(w) for w in words(f"{passages[0]['title']} {passages[0]['heading']} "
                                   f"{passages[0]['text']}")}  # fmt: skip
    absent = np.array([stem(w) not in held for w, _ in qwords])
    for depth in (1, 3):
        p_vectors = np.vstack([passage_tokens(encoder, p) for p in passages[:depth]])
        sims = q_vectors @ p_vectors.T  # [question tokens, passage tokens]
        best = sims.max(axis=1)
        per_word = np.array([best[t].mean() for _, t in qwords])
        per_word_max = np.array([best[t].max() for _, t in qwords])
        for tag, values, mask, scale in (
            ("all", per_word, None, 1.0), ("focus", per_word, focus, 1.0),
            ("all_piecemax", per_word_max, None, 1.0), ("asking", per_word, asking, 1.0),
            ("rare", per_word, None, rarity), ("asking_rare", per_word, asking, rarity),
        ):  # fmt: skip
            weighted = weights * scale
            v, w = (values, weighted) if mask is None or not mask.any() else (
                values[mask], weighted[mask])  # fmt: skip
            key = f"ms{depth}_{tag}"
            feats[f"{key}_min"] = float(v.min())
            feats[f"{key}_q25"] = float(np.quantile(v, 0.25))
            feats[f"{key}_mean"] = float(v.mean())
            feats[f"{key}_idf"] = float((v * w).sum() / w.sum())
            for cut in (0.6, 0.7, 0.8):
                feats[f"{key}_miss{int(cut * 10)}"] = float((w * (v < cut)).sum() / w.sum())
        if depth == 1:
            # Words the best passage does not hold: matched by a near word there (a sibling:
            # another region, year, payment method) or by nothing close (lost).
            for cut in (0.4, 0.5):
                lost = absent & (per_word < cut)
                feats[f"ms1_lost{int(cut * 10)}"] = float((weights * lost).sum() / weights.sum())
                feats[f"ms1_sibling{int(cut * 10)}"] = float(
                    (weights * (absent & ~lost)).sum() / weights.sum())  # fmt: skip
    # The passage's own heading (an FAQ's question, a section's name) against the question:
    # pooled cosine, the question's words matched in it, and its words matched in the question.
    q_pooled = encoder.embedder.embed_array([row["query"]])[0]
    heads = [f"{p['title']}. {p['heading']}" if p["heading"] and p["heading"] != p["title"]
             else p["title"] for p in passages[:3]]  # fmt: skip
    h_pooled = encoder.embedder.embed_array(heads)
    p_pooled = encoder.embedder.embed_array(
        [embedding_text(passages[0]["title"], passages[0]["heading"], [], passages[0]["text"])]
    )[0]
    for i, v in enumerate(q_pooled * p_pooled):  # a learned (diagonal) bilinear similarity
        feats[f"qp{i:03d}"] = float(v)
    feats["head_cos"] = float((h_pooled @ q_pooled).max())
    feats["head_cos1"] = float(h_pooled[0] @ q_pooled)
    h_vectors = encoder.encode(heads[0])[0]
    best = (q_vectors @ h_vectors.T).max(axis=1)
    per_word = np.array([best[t].mean() for _, t in qwords])
    feats["head_ms_q25"] = float(np.quantile(per_word, 0.25))
    feats["head_ms_idf"] = float((per_word * weights).sum() / weights.sum())
    _, h_words = question_words(encoder, heads[0], heads[0])
    if h_words:
        back = (encoder.encode(heads[0])[0] @ q_vectors.T).max(axis=1)
        per_head_word = np.array([back[t].mean() for _, t in h_words])
        feats["head_rev_min"] = float(per_head_word.min())
        feats["head_rev_mean"] = float(per_head_word.mean())
    return feats


# ---------------------------------------------------------------- 4. leave one set out


def matrix(rows: Sequence[dict[str, Any]], names: Sequence[str]) -> np.ndarray:
    return np.array([[r["features"].get(n, 0.0) for n in names] for r in rows])


def declined_at_cited(rows: Sequence[dict[str, Any]], p: np.ndarray, target: float) -> float:
    """Unanswerable share declined at the highest threshold where the answerable questions
    still cite the right passage for `target` of them (None-citation cases count as cited)."""
    y = np.array([r["answerable"] for r in rows])
    cited = np.array([bool(r["right_citation"]) if r["answerable"] else False for r in rows])
    best = 0.0
    for cut in sorted(set(p[y == 1])):
        if (cited & (p >= cut)).sum() / max(1, (y == 1).sum()) >= target:
            best = cut
    return float((p[y == 0] < best).mean())


PREDICTIONS: dict[tuple[tuple[str, ...], str, str], np.ndarray] = {}  # held-out P(answerable)


def bootstrap_delta(y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> list[float]:
    """95% interval of AUROC(new) - AUROC(old) over 2,000 resamples of the cases (paired)."""
    rng = np.random.default_rng(0)
    deltas = []
    for _ in range(2000):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        deltas.append(roc_auc_score(y[i], p_new[i]) - roc_auc_score(y[i], p_old[i]))
    return [round(float(np.quantile(deltas, q)), 3) for q in (0.025, 0.975)]


def evaluate(
    sets: dict[str, list[dict[str, Any]]], names: Sequence[str], kind: str = "logistic"
) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for held in sets:
        fit_on = [n for n in sets if n != held]
        x = np.vstack([matrix(sets[n], names) for n in fit_on])
        y = np.concatenate([[r["answerable"] for r in sets[n]] for n in fit_on])
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
        if kind == "boosted":
            model: Any = HistGradientBoostingClassifier(
                max_depth=3, learning_rate=0.05, max_iter=150, min_samples_leaf=10,
                random_state=0).fit((x - mean) / std, y)  # fmt: skip
        elif kind == "bilinear":  # raw products (no scaling: each sums to the cosine)
            mean, std = np.zeros(x.shape[1]), np.ones(x.shape[1])
            model = LogisticRegression(C=10.0, max_iter=5000).fit(x * 10, y)
            x_held = matrix(sets[held], names) * 10
        else:
            model = LogisticRegression(C=1.0, max_iter=5000).fit((x - mean) / std, y)
        if kind != "bilinear":
            x_held = (matrix(sets[held], names) - mean) / std
        p = model.predict_proba(x_held)[:, 1]
        rows = sets[held]
        y_held = [r["answerable"] for r in rows]
        all_cited = np.mean([bool(r["right_citation"]) for r in rows if r["answerable"]])
        PREDICTIONS[(tuple(names), kind, held)] = p
        scores[held] = {
            "auroc": round(float(roc_auc_score(y_held, p)), 3),
            "declined_at_0.85_cited": round(declined_at_cited(rows, p, 0.85), 3),
            "declined_at_0.95_of_cited": round(declined_at_cited(rows, p, 0.95 * all_cited), 3),
        }
    return scores


def maxsim_only(encoder: TokenEncoder, row: dict[str, Any]) -> np.ndarray:
    """What a turn would compute with every token vector cached: the question's words'
    best cosines over the best three passages' tokens."""
    q_vectors, qwords = question_words(encoder, row["query"], row["question"])
    passages = sorted((p for p in row["passages"] if p["dense"] is not None),
                      key=lambda p: -p["dense"])[:3]  # fmt: skip
    if not qwords or not passages:
        return np.zeros(0)
    best = (q_vectors @ np.vstack([passage_tokens(encoder, p) for p in passages]).T).max(axis=1)
    return np.array([best[t].mean() for _, t in qwords])


def within_set(sets: dict[str, list[dict[str, Any]]], names: Sequence[str]) -> dict[str, float]:
    """AUROC of a model fitted on the same set, 5-fold cross-validated: what a workspace's
    own calibration (`evaluate answers --calibrate`) could get from the features."""
    found = {}
    for name, rows in sets.items():
        x, y = matrix(rows, names), np.array([r["answerable"] for r in rows])
        p = np.zeros(len(rows))
        for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
            mean, std = x[train].mean(axis=0), x[train].std(axis=0) + 1e-9
            model = LogisticRegression(C=1.0, max_iter=5000).fit((x[train] - mean) / std, y[train])
            p[test] = model.predict_proba((x[test] - mean) / std)[:, 1]
        found[name] = round(float(roc_auc_score(y, p)), 3)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recollect", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    began = time.perf_counter()
    sets = collect(args.recollect)
    for name, rows in sets.items():
        print(f"{name}: {len(rows)} cases, {sum(r['answerable'] for r in rows)} answerable "
              f"({time.perf_counter() - began:.0f} s)")  # fmt: skip
    encoder = TokenEncoder()
    for rows in sets.values():
        idf = idf_table(rows)
        for row in rows:
            row["features"] = dict(row["signals"]) | reading_features(encoder, row, idf)
    names = sorted({k for rows in sets.values() for r in rows for k in r["features"]})
    bilinear = [n for n in names if n.startswith("qp")]
    names = [n for n in names if not n.startswith("qp")]  # only as a set, not one by one
    result: dict[str, Any] = {"alone_auroc": {}, "leave_one_set_out": {}}
    print("\nAUROC of each feature alone (no fitting):")
    for name in names:
        result["alone_auroc"][name] = {
            s: round(float(roc_auc_score([r["answerable"] for r in rows],
                                         matrix(rows, [name])[:, 0])), 3)
            for s, rows in sets.items()
        }  # fmt: skip
        print(f"  {name:28s} " + " ".join(f"{k} {v:.3f}" for k, v in
                                          result["alone_auroc"][name].items()))  # fmt: skip
    base = ["dense", "dense_gap"]
    reading = [n for n in names if n.startswith(("ms", "head"))]
    candidates = {"dense+gap (ships)": base}
    candidates |= {f"dense+gap+{n}": [*base, n] for n in reading}
    candidates |= {f"{n} alone": [n] for n in reading}
    ms1 = [n for n in reading if n.startswith("ms1_") and "miss" not in n]
    candidates["dense+gap+every ms1 summary"] = [*base, *ms1]
    lexical = ["coverage", "sentence", "keyword", "missing", "unknown"]
    candidates["boosted: dense+gap+lexical+every ms summary"] = [*base, *lexical, *reading]
    candidates["boosted: dense+gap"] = base
    candidates["bilinear: q*p products"] = bilinear
    candidates["bilinear: dense+gap+q*p products"] = [*base, *bilinear]
    print("\nLeave one set out (fit on two, scored on the third):")
    for label, chosen in candidates.items():
        scores = evaluate(sets, chosen, label.split(":")[0] if ":" in label else "logistic")
        result["leave_one_set_out"][label] = scores
        print(f"  {label:40s} " + "  ".join(
            f"{k} {v['auroc']:.3f}/{v['declined_at_0.85_cited']:.2f}/"
            f"{v['declined_at_0.95_of_cited']:.2f}" for k, v in scores.items()))  # fmt: skip
    print("\nLeft-out AUROC gain over dense+gap, 95% paired bootstrap interval:")
    result["left_out_gain_interval"] = {}
    for label in (
        "dense+gap+ms1_all_q25",
        "dense+gap+ms1_all_idf",
        "dense+gap+ms1_focus_min",
        "dense+gap+ms1_lost4",
        "dense+gap+every ms1 summary",
        "bilinear: dense+gap+q*p products",
    ):
        chosen, kind = candidates[label], label.split(":")[0] if ":" in label else "logistic"
        row = {}
        for held, rows in sets.items():
            y = np.array([r["answerable"] for r in rows])
            row[held] = bootstrap_delta(
                y,
                PREDICTIONS[(tuple(chosen), kind, held)],
                PREDICTIONS[(tuple(base), "logistic", held)],
            )
        result["left_out_gain_interval"][label] = row
        print(f"  {label:40s} " + " ".join(f"{k} [{a:+.3f}, {b:+.3f}]"
                                            for k, (a, b) in row.items()))  # fmt: skip
    print("\nWithin each set (fit and score on the same set, 5-fold cross-validated):")
    result["within_set_cv_auroc"] = {}
    within = {"dense+gap (ships)": base, **{f"dense+gap+{n}": [*base, n] for n in (
        "ms1_all_idf", "ms1_all_q25", "ms1_all_min", "ms1_focus_min", "ms3_all_q25",
        "head_cos", "head_rev_mean")}, "dense+gap+every ms1 summary": [*base, *ms1]}  # fmt: skip
    for label, chosen in within.items():
        result["within_set_cv_auroc"][label] = within_set(sets, chosen)
        print(
            f"  {label:40s} "
            + " ".join(f"{k} {v:.3f}" for k, v in result["within_set_cv_auroc"][label].items())
        )
    # What a turn would pay: the MaxSim features from cached token vectors (the encodes
    # above filled the cache), per question, CPU time. One BLAS thread, as a server would
    # run it: with several, the small products spread over threads that wait on a loaded
    # machine (p95 12 ms of process time instead of 0.6 ms, 22:15 UTC, load 16).
    turn_ms = []
    with threadpool_limits(1):
        for rows in sets.values():
            for row in rows:
                began = time.process_time()
                maxsim_only(encoder, row)
                turn_ms.append((time.process_time() - began) * 1000)
    result["maxsim_from_cache_cpu_ms"] = {
        "turns": len(turn_ms), "median": round(float(np.median(turn_ms)), 3),
        "p95": round(float(np.quantile(turn_ms, 0.95)), 3),
    }  # fmt: skip
    print(
        f"MaxSim per turn from cached token vectors, CPU ms: {result['maxsim_from_cache_cpu_ms']}"
    )
    cpu = sorted(encoder.seconds)
    result["encode_cpu_ms"] = {
        "texts": len(cpu),
        "median": round(1000 * float(np.median(cpu)), 2),
        "p95": round(1000 * float(np.quantile(cpu, 0.95)), 2),
        "tokens_median": int(np.median(encoder.lengths)),
        "tokens_p95": int(np.quantile(encoder.lengths, 0.95)),
    }
    print(f"\nencode CPU ms: {result['encode_cpu_ms']}")
    result["command"] = "python bench/answerability_reading.py"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
