"""`frontdesk evaluate nlu`: how well the workspace's own examples are understood.

k-fold cross-validation (or a fixed test file: NLU YAML or CSV, Rasa test stories): per-intent
precision, recall and F1, macro and micro averages, a confusion matrix (PNG), the worst
confusions with examples, entity precision/recall/F1 per type (exact span and type),
calibration error, out-of-scope recall; written as JSON and an HTML report. What the data
changed about the method (folds that shrank, intents too small to test) is said in `notes`.
"""

from __future__ import annotations

import html
import json
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold

from frontdesk.nlu.crf_entities import CrfEntityExtractor
from frontdesk.nlu.entities import EntityPipeline, RuleEntityExtractor
from frontdesk.nlu.intent_classifier import (
    Array,
    HybridIntentClassifier,
    TextEmbedder,
    expected_calibration_error,
)
from frontdesk.nlu.rasa_stories import StoryError, load_test_stories
from frontdesk.nlu.training_data import (
    Example,
    TrainingData,
    TrainingDataError,
    load_csv,
    load_yaml,
)

# Called with (what is happening, steps done, steps in all).
Step = Callable[[str, int, int], None]
_NOW = datetime(2026, 1, 1, tzinfo=UTC)  # entity spans do not depend on the date


@dataclass
class Outcome:
    text: str
    intent: str
    predicted: str
    confidence: float
    out_of_scope: bool
    where: str


@dataclass
class NluReport:
    intents: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    oos_flagged: list[bool] = field(default_factory=list)
    entity_counts: dict[str, Counter[str]] = field(default_factory=dict)  # type -> tp/fp/fn
    method: str = ""
    notes: list[str] = field(default_factory=list)  # how the data shaped the method

    def intent_metrics(self) -> dict[str, Any]:
        truth = [o.intent for o in self.outcomes]
        predicted = [o.predicted for o in self.outcomes]
        # Scored: the intents tested or predicted. One never tested nor predicted (a one-example
        # intent in cross-validation, one a fixed test set leaves out) has no figures, not zeros.
        labels = sorted(set(truth) | set(predicted))
        not_tested = sorted(set(self.intents) - set(truth))
        per_intent: dict[str, dict[str, Any]] = {}
        averages: dict[str, dict[str, float]] = {
            average: {"precision": 0.0, "recall": 0.0, "f1": 0.0}
            for average in ("macro", "micro", "weighted")
        }
        if labels:  # none when a test set holds only out-of-scope examples
            p, r, f, s = precision_recall_fscore_support(
                truth, predicted, labels=labels, zero_division=0
            )
            for i, label in enumerate(labels):
                per_intent[label] = {
                    "precision": round(float(p[i]), 4),
                    "recall": round(float(r[i]), 4),
                    "f1": round(float(f[i]), 4),
                    "support": int(s[i]),
                }
            for average in averages:
                ap, ar, af, _ = precision_recall_fscore_support(
                    truth, predicted, labels=labels, average=average, zero_division=0
                )
                averages[average] = {
                    "precision": round(float(ap), 4),
                    "recall": round(float(ar), 4),
                    "f1": round(float(af), 4),
                }
        correct = [o.intent == o.predicted for o in self.outcomes]
        accepted = [c and not o.out_of_scope for c, o in zip(correct, self.outcomes, strict=True)]
        summary: dict[str, Any] = {
            "method": self.method,
            "examples": len(self.outcomes),
            "accuracy": round(float(np.mean(correct)), 4) if correct else 0.0,
            "in_scope_accuracy_with_rejection": round(float(np.mean(accepted)), 4)
            if accepted
            else 0.0,
            "ece": round(
                expected_calibration_error([o.confidence for o in self.outcomes], correct), 4
            ),
            "averages": averages,
            "per_intent": per_intent,
            "notes": list(self.notes),
            "not_tested": not_tested,
        }
        if self.oos_flagged:
            summary["oos_examples"] = len(self.oos_flagged)
            summary["oos_recall"] = round(float(np.mean(self.oos_flagged)), 4)
        return summary

    def confusion(self) -> tuple[list[str], list[list[int]]]:
        index = {label: i for i, label in enumerate(self.intents)}
        matrix = [[0] * len(self.intents) for _ in self.intents]
        for o in self.outcomes:
            if o.intent in index and o.predicted in index:
                matrix[index[o.intent]][index[o.predicted]] += 1
        return self.intents, matrix

    def worst_confusions(self, limit: int = 10) -> list[dict[str, Any]]:
        pairs: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
        for o in self.outcomes:
            if o.intent != o.predicted:
                pairs[(o.intent, o.predicted)].append(o)
        ranked = sorted(pairs.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:limit]
        return [
            {
                "intent": intent,
                "predicted": predicted,
                "count": len(items),
                "examples": [f"{o.where}: {o.text}" for o in items[:3]],
            }
            for (intent, predicted), items in ranked
        ]

    def entity_metrics(self) -> dict[str, dict[str, float]]:
        out = {}
        for kind, c in sorted(self.entity_counts.items()):
            tp, fp, fn = c["tp"], c["fp"], c["fn"]
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            out[kind] = {
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
                "support": tp + fn,
            }
        return out

    def as_dict(self) -> dict[str, Any]:
        labels, matrix = self.confusion()
        return {
            **self.intent_metrics(),
            "entities": self.entity_metrics(),
            "worst_confusions": self.worst_confusions(),
            "confusion": {"labels": labels, "matrix": matrix},
        }


def _embed_all(embedder: TextEmbedder | None, texts: Sequence[str]) -> Array | None:
    if embedder is None:
        return None
    return np.asarray(embedder.embed(list(texts)), dtype=np.float32) if texts else None


def _score_entities(
    report: NluReport, pipeline: EntityPipeline, examples: Sequence[Example], types: set[str]
) -> None:
    for example in examples:
        gold = {(s.type, s.start, s.end) for s in example.entities}
        found = {
            (e.type, e.start, e.end)
            for e in pipeline.extract(example.text, now=_NOW)
            if e.type in types
        }
        for kind, _, _ in gold & found:
            report.entity_counts.setdefault(kind, Counter())["tp"] += 1
        for kind, _, _ in found - gold:
            report.entity_counts.setdefault(kind, Counter())["fp"] += 1
        for kind, _, _ in gold - found:
            report.entity_counts.setdefault(kind, Counter())["fn"] += 1


def _run_split(
    report: NluReport,
    train: Sequence[Example],
    train_oos: Sequence[Example],
    test: Sequence[Example],
    test_oos: Sequence[Example],
    embeddings: dict[str, Array],
    embedder: TextEmbedder | None,
    rules: RuleEntityExtractor,
    synonyms: dict[str, str],
    entity_types: set[str],
    resources: TrainingData | None = None,
) -> None:
    def emb(items: Sequence[Example]) -> Array | None:
        if embedder is None or not items:
            return None  # none to give (no out-of-scope examples): the classifier copes
        return np.asarray([embeddings[e.text] for e in items], dtype=np.float32).reshape(
            len(items), -1
        )

    patterns = resources.patterns if resources else None
    classifier = HybridIntentClassifier(embedder, patterns=patterns).fit(
        [e.text for e in train],
        [e.intent for e in train],
        oos_texts=[e.text for e in train_oos],
        embeddings=emb(train),
        oos_embeddings=emb(train_oos),
        folds=2,
    )
    predictions = (
        classifier.predict_batch([e.text for e in test], embeddings=emb(test)) if test else []
    )
    for example, prediction in zip(test, predictions, strict=True):
        report.outcomes.append(
            Outcome(
                example.text,
                example.intent,
                prediction.name,
                prediction.confidence,
                prediction.out_of_scope,
                f"{example.source}:{example.line}",
            )
        )
    if test_oos:
        flagged = classifier.predict_batch([e.text for e in test_oos], embeddings=emb(test_oos))
        report.oos_flagged.extend(p.out_of_scope for p in flagged)
    if entity_types:
        crf = CrfEntityExtractor().fit(
            train,
            lookups=resources.lookups if resources else None,
            regexes=resources.regexes if resources else None,
            synonyms=resources.declared_synonyms if resources else None,
        )
        _score_entities(report, EntityPipeline(rules, crf, synonyms), test, entity_types)


def evaluate_trained(
    classifier: HybridIntentClassifier,
    entities: CrfEntityExtractor,
    test: TrainingData,
    rules: RuleEntityExtractor,
    synonyms: dict[str, str],
) -> NluReport:
    """A trained model (the one serving, or any stored version) scored on a fixed test set:
    what it does, not what a fresh training on nlu/ would do."""
    report = NluReport(intents=classifier.intents, method="trained model on a fixed test set")
    in_scope, oos = test.in_scope, test.out_of_scope
    predictions = classifier.predict_batch([e.text for e in in_scope])
    for example, prediction in zip(in_scope, predictions, strict=True):
        report.outcomes.append(
            Outcome(example.text, example.intent, prediction.name, prediction.confidence,
                    prediction.out_of_scope, f"{example.source}:{example.line}")
        )  # fmt: skip
    if oos:
        report.oos_flagged.extend(
            p.out_of_scope for p in classifier.predict_batch([e.text for e in oos])
        )
    if test.entity_types:
        pipeline = EntityPipeline(rules, entities, synonyms)
        _score_entities(report, pipeline, in_scope, set(test.entity_types))
    return report


@dataclass(frozen=True)
class FoldPlan:
    """How k-fold cross-validation runs on this data, and what the data changed about it."""

    folds: int
    train_only: frozenset[str]  # intents with one example: in every training part, never tested
    notes: tuple[str, ...]


def plan_folds(data: TrainingData, folds: int) -> FoldPlan:
    """Keep the folds asked for where the data allows it, and say what it changes.

    StratifiedKFold spreads each intent over the folds; an intent with fewer examples than
    folds lands in fewer test parts, each of its examples tested once with the others in
    training, which is still an honest test of it. An intent with one example cannot be
    tested without leaving it out of training, so it is trained on in every fold and never
    tested. Only when no intent has as many examples as folds do the folds shrink (StratifiedKFold
    needs one)."""
    counts = Counter(e.intent for e in data.in_scope)
    if len(counts) < 2:
        raise ValueError("a classifier needs examples of at least two intents")
    single = sorted(name for name, count in counts.items() if count == 1)
    testable = {name: count for name, count in counts.items() if count > 1}
    if not testable:
        raise ValueError(
            "every intent has one example, so none can be held out for testing: "
            "add examples or give a test set with --test"
        )
    notes: list[str] = []
    largest = max(testable.values())
    if folds > largest:
        notes.append(
            f"{folds} folds need an intent with at least {folds} examples; the largest has "
            f"{largest}: running {largest} folds"
        )
        folds = largest
    for name in single:
        notes.append(
            f"intent {name!r} has 1 example: it is in the training part of every fold and "
            "never tested (tested, nothing of it would be left to learn from)"
        )
    for name, count in sorted(testable.items()):
        if count < folds:
            notes.append(
                f"intent {name!r} has {count} examples, fewer than {folds} folds: each is "
                f"tested once, with the other {count - 1} in training; {folds - count} "
                "fold(s) do not test it"
            )
    if len(testable) == 1 and single:
        notes.append(
            f"only {next(iter(testable))!r} is tested: the other intents have one example each"
        )
    return FoldPlan(folds, frozenset(single), tuple(notes))


def load_test_set(path: Path) -> TrainingData:
    """A fixed test set: NLU YAML (frontdesk's or Rasa's `nlu:` file), `text,intent` CSV,
    Rasa test stories (`stories:`/`rules:` with annotated `user:` turns), or a folder of them.
    Raises TrainingDataError (file:line first) for what cannot be read or holds no test."""
    if path.is_dir():
        data = TrainingData()
        for file in sorted(p for p in path.rglob("*") if p.suffix in {".yml", ".yaml", ".csv"}):
            data.merge(_load_test_file(file))
    elif path.suffix in {".yml", ".yaml", ".csv"}:
        data = _load_test_file(path)
    else:
        raise TrainingDataError(f"{path}: expected a .yml, .yaml or .csv file, or a folder")
    if not data.examples:
        raise TrainingDataError(
            f"{path}: no test examples (expected an `nlu:` list of intents with examples, "
            "Rasa test stories with `user:` and `intent:` steps, or text,intent CSV)"
        )
    return data


def _load_test_file(path: Path) -> TrainingData:
    if path.suffix == ".csv":
        return load_csv(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TrainingDataError(f"{path}:{mark.line + 1 if mark else 1}: invalid YAML") from exc
    if not isinstance(root, yaml.MappingNode):
        return TrainingData()
    keys = {k.value for k, _ in root.value}
    data = load_yaml(path) if "nlu" in keys else TrainingData()
    if keys & {"stories", "rules"}:
        try:
            data.examples.extend(load_test_stories(path))
        except StoryError as exc:
            raise TrainingDataError(str(exc)) from None
    return data


def evaluate(
    data: TrainingData,
    embedder: TextEmbedder | None,
    rules: RuleEntityExtractor,
    *,
    folds: int = 5,
    test: TrainingData | None = None,
    step: Step | None = None,
) -> NluReport:
    """Cross-validate on `data`, or train on all of `data` and test on `test`."""
    note = step or (lambda *_: None)
    in_scope, oos = data.in_scope, data.out_of_scope
    everything = list(data.examples) + (list(test.examples) if test else [])
    texts = sorted({e.text for e in everything})
    note("embedding examples", 0, 1)
    vectors = _embed_all(embedder, texts)
    embeddings = {} if vectors is None else dict(zip(texts, vectors, strict=True))
    entity_types = set(data.entity_types) | (set(test.entity_types) if test else set())
    report = NluReport(intents=data.intents)
    if test is not None:
        report.method = "fixed test set"
        note("training and testing", 0, 1)
        _run_split(
            report,
            in_scope,
            oos,
            test.in_scope,
            test.out_of_scope,
            embeddings,
            embedder,
            rules,
            data.synonyms,
            entity_types,
            data,
        )
        note("done", 1, 1)
        return report
    plan = plan_folds(data, folds)
    report.notes.extend(plan.notes)
    folds = plan.folds
    always = [e for e in in_scope if e.intent in plan.train_only]
    tested = [e for e in in_scope if e.intent not in plan.train_only]
    labels = np.asarray([e.intent for e in tested])
    report.method = f"{folds}-fold cross-validation"
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=7)
    oos_parts = np.array_split(np.arange(len(oos)), folds)
    with warnings.catch_warnings():
        # "The least populated class in y has only 2 members": said in the plan's notes.
        warnings.filterwarnings("ignore", "The least populated class", UserWarning)
        splits = list(splitter.split(np.zeros(len(labels)), labels))
    for n, (train_idx, test_idx) in enumerate(splits):
        note(f"fold {n + 1}/{folds}", n, folds)
        held = set(oos_parts[n].tolist())
        _run_split(
            report,
            [tested[i] for i in train_idx] + always,
            [e for i, e in enumerate(oos) if i not in held],
            [tested[i] for i in test_idx],
            [oos[i] for i in sorted(held)],
            embeddings,
            embedder,
            rules,
            data.synonyms,
            entity_types,
            data,
        )
    note("done", folds, folds)
    return report


def write_confusion_png(report: NluReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, matrix = report.confusion()
    data = np.asarray(matrix, dtype=np.float64)
    rows = data.sum(axis=1, keepdims=True)
    share = np.divide(data, rows, out=np.zeros_like(data), where=rows > 0)
    size = max(6.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true intent")
    if len(labels) <= 40:
        for i in range(len(labels)):
            for j in range(len(labels)):
                if data[i, j]:
                    colour = "white" if share[i, j] > 0.5 else "black"
                    count = str(int(data[i, j]))
                    ax.text(j, i, count, ha="center", va="center", fontsize=7, color=colour)
    ax.set_title(f"Intent confusion ({report.method})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_html(summary: dict[str, Any], path: Path, png_name: str) -> None:
    averages = summary["averages"]
    intents = sorted(summary["per_intent"].items(), key=lambda kv: kv[1]["f1"])
    parts = [
        "<!doctype html><meta charset='utf-8'><title>NLU evaluation</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:.25em .6em;text-align:left}th{background:#f3f3f3}</style>",
        f"<h1>NLU evaluation</h1><p>{html.escape(summary['method'])}, "
        f"{summary['examples']} examples, generated {html.escape(summary['generated_at'])}.</p>",
        *(f"<p>Note: {html.escape(n)}</p>" for n in summary.get("notes", [])),
        *(
            [f"<p>Not tested: {html.escape(', '.join(summary['not_tested']))}</p>"]
            if summary.get("not_tested")
            else []
        ),
        _table(
            ["metric", "value"],
            [
                ["accuracy", summary["accuracy"]],
                ["in-scope accuracy with rejection", summary["in_scope_accuracy_with_rejection"]],
                ["macro F1", averages["macro"]["f1"]],
                ["micro F1", averages["micro"]["f1"]],
                ["expected calibration error", summary["ece"]],
                ["out-of-scope recall", summary.get("oos_recall", "n/a (no examples)")],
            ],
        ),
        "<h2>Intents (worst first)</h2>",
        _table(
            ["intent", "precision", "recall", "F1", "support"],
            [[k, v["precision"], v["recall"], v["f1"], v["support"]] for k, v in intents],
        ),
        "<h2>Worst confusions</h2>",
        _table(
            ["true intent", "predicted", "count", "examples"],
            [
                [c["intent"], c["predicted"], c["count"], " | ".join(c["examples"])]
                for c in summary["worst_confusions"]
            ],
        ),
        "<h2>Entities</h2>",
        _table(
            ["type", "precision", "recall", "F1", "support"],
            [
                [k, v["precision"], v["recall"], v["f1"], v["support"]]
                for k, v in summary["entities"].items()
            ],
        ),
        f"<h2>Confusion matrix</h2><img src='{html.escape(png_name)}' alt='confusion matrix'>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")


def write_report(report: NluReport, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    summary = report.as_dict()
    summary["generated_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    (folder / "nlu-report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_confusion_png(report, folder / "confusion.png")
    write_html(summary, folder / "nlu-report.html", "confusion.png")
    return summary
