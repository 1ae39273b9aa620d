"""A Rasa project folder read the way Rasa reads it, and what frontdesk can make of it.

Rasa finds its training data in `data/` (any YAML file, by its keys: `nlu`, `stories`,
`rules`, `responses`), its domain in `domain.yml` (or a `domain/` folder of YAML files) and
its end-to-end test stories in `tests/`. `read_project` reads all of them with file:line;
`plan_import` decides what becomes what in a frontdesk workspace:

- NLU files: copied unchanged into `nlu/` (the NLU loader reads Rasa's meaning).
- Retrieval intents (`faq/ask_x`) with their `utter_faq/ask_x` responses: FAQ answers in a
  knowledge atom per group (`knowledge/rasa-faq.md`), the intent's examples as questions.
- Rules and two-step stories "intent, then text responses": fixed replies in rules.yaml.
- Domain, stories and rules: copied unchanged into `dialogue/` with a parsed summary, the
  dialogue data of a later conversation engine.
- Test stories: copied unchanged into `golden/conversations/`.

Everything else is a warning with file:line, one per kind.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from frontdesk.nlu.entities import BUILTIN_TYPES
from frontdesk.nlu.rasa_stories import Story, StoryError, load_stories
from frontdesk.nlu.training_data import (
    OUT_OF_SCOPE,
    TrainingData,
    TrainingDataError,
    load_training_data,
    parse_annotated,
)

# Rasa's own intents and actions: no examples needed, nothing to carry over.
RASA_BUILTIN_INTENTS = {"session_start", "restart", "nlu_fallback", "back", "out_of_scope"}
_BUILTIN_ACTIONS = {
    "action_listen",
    "action_restart",
    "action_session_start",
    "action_default_fallback",
    "action_deactivate_loop",
    "action_back",
    "action_two_stage_fallback",
    "action_default_ask_affirmation",
    "action_default_ask_rephrase",
    "action_unlikely_intent",
}
_PLACEHOLDER = re.compile(r"(?<!\{)\{[A-Za-z_][\w\-]*\}(?!\})")
_NOT_READ = {
    "config.yml": "its pipeline and policies are not used: frontdesk trains its own models "
    "(`frontdesk train`); only FallbackClassifier's threshold (the nlu_fallback rule) and "
    "RegexEntityExtractor (nlu.extractors) are read",
    "endpoints.yml": "the action server, tracker store and other endpoints are not used",
    "credentials.yml": "channel credentials are not carried over: configure channels in "
    "frontdesk.yaml (see docs/channels.md)",
}


class RasaImportError(ValueError):
    """The folder is not a Rasa project frontdesk can read; the message says where and why."""


@dataclass(frozen=True)
class Finding:
    source: str
    line: int
    message: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class Domain:
    files: list[Path] = field(default_factory=list)
    intents: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    responses: dict[str, list[Any]] = field(default_factory=dict)
    forms: dict[str, Any] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)
    # where each section (intents, slots, ...) and each response is first written
    lines: dict[str, tuple[str, int]] = field(default_factory=dict)
    intent_options: dict[str, Any] = field(default_factory=dict)  # use_entities, ...
    session_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class RetrievalExample:
    intent: str  # faq/ask_hours
    text: str
    source: str
    line: int


@dataclass
class RasaProject:
    root: Path
    domain: Domain
    nlu_files: list[Path] = field(default_factory=list)  # under data/, with `nlu:`
    # under data/, with stories, rules or responses
    dialogue_files: list[Path] = field(default_factory=list)
    test_files: list[Path] = field(default_factory=list)  # under tests/, with `stories:`
    test_nlu_files: list[Path] = field(default_factory=list)  # under tests/, with `nlu:`
    stories: list[Story] = field(default_factory=list)
    rules: list[Story] = field(default_factory=list)
    test_stories: list[Story] = field(default_factory=list)
    retrieval: list[RetrievalExample] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # config.yml's NLU pipeline (components by name, with their options); None: no config
    pipeline: dict[str, dict[str, Any]] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


@dataclass
class ReplyRule:
    name: str
    intent: str  # an intent, or out_of_scope / nlu_fallback
    message: str
    source: str
    line: int
    responses: tuple[str, ...] = ()  # the Rasa responses that make the message


@dataclass
class ImportPlan:
    """What `write_workspace` writes, and what it says about it."""

    project: RasaProject
    training: TrainingData
    faq_atoms: dict[str, str] = field(default_factory=dict)  # file name -> atom text
    faq_answers: int = 0
    reply_rules: list[ReplyRule] = field(default_factory=list)
    faq_intents: list[str] = field(default_factory=list)  # intents answered from the FAQ atoms
    carried: set[tuple[str, int]] = field(default_factory=set)  # stories/rules carried over
    forms_yml: str | None = None  # the domain's forms, slots and questions, when they load
    form_rules: list[dict[str, Any]] = field(default_factory=list)  # rules that start them

    @property
    def fallback_threshold(self) -> float:
        """FallbackClassifier's threshold in config.yml (Rasa's default 0.3)."""
        options = (self.project.pipeline or {}).get("FallbackClassifier", {})
        value = options.get("threshold", 0.3)
        return float(value) if isinstance(value, int | float) else 0.3

    @property
    def extractors(self) -> dict[str, list[str]]:
        """The regexes and lookup tables that extract entities on their own: all of them
        when config.yml has RegexEntityExtractor (with its use_regexes/use_lookup_tables),
        none otherwise (they are features, as Rasa's RegexFeaturizer makes them)."""
        options = (self.project.pipeline or {}).get("RegexEntityExtractor")
        if options is None:
            return {}
        found: dict[str, list[str]] = {}
        if options.get("use_regexes", True) and self.training.regexes:
            found["regex"] = sorted(self.training.regexes)
        if options.get("use_lookup_tables", True) and self.training.lookups:
            found["lookup"] = sorted(self.training.lookups)
        return found

    warnings: list[Finding] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        project = self.project
        return {
            "files": len(project.nlu_files)
            + len(project.dialogue_files)
            + len(project.domain.files)
            + len(project.test_files)
            + len(project.test_nlu_files),
            "intents": len(self.training.intents),
            "examples": len(self.training.examples),
            "entities": len(set(self.training.entity_types) | set(project.domain.entities)),
            "faq_answers": self.faq_answers,
            "stories": len(project.stories),
            "rules": len(project.rules),
            "test_stories": len(project.test_stories),
            "warnings": len(self.warnings),
        }


# ---------------------------------------------------------------------------------------
# Reading


def read_project(root: Path) -> RasaProject:
    """Find and parse the project's files. Real errors (unreadable YAML, a broken story,
    no data at all) raise RasaImportError with file:line."""
    root = root.expanduser()
    if not root.is_dir():
        raise RasaImportError(f"{root}: no such folder (give the Rasa project's folder)")
    domain = _read_domain(root)
    project = RasaProject(root=root, domain=domain)
    data = project.data_dir
    for path in _yaml_files(data):
        keys = _top_keys(path)
        if "nlu" in keys:
            project.nlu_files.append(path)
        if keys & {"stories", "rules", "responses"}:
            project.dialogue_files.append(path)
        if "responses" in keys:
            _read_responses(path, domain)
        if not keys & {"nlu", "stories", "rules", "responses"}:
            project.findings.append(
                Finding(
                    str(path),
                    1,
                    "not Rasa training data (no nlu, stories, rules or responses): not read",
                )
            )
    if data.is_dir():
        for path in sorted(p for p in data.rglob("*") if p.is_file()):
            if path.suffix in {".md", ".json"}:
                project.findings.append(
                    Finding(
                        str(path),
                        1,
                        "Rasa 1.x Markdown/JSON training "
                        "data is not read: convert it with `rasa data convert nlu` first",
                    )
                )
    if not project.nlu_files:
        raise RasaImportError(
            f"{root}: no NLU training data (a YAML file with `nlu:` under {data}); "
            "is this a Rasa project folder?"
        )
    for path in _yaml_files(root / "tests"):
        keys = _top_keys(path)
        if "stories" in keys:
            project.test_files.append(path)
        if "nlu" in keys:
            project.test_nlu_files.append(path)
    try:
        for path in project.dialogue_files:
            for story in load_stories(path):
                (project.stories if story.kind == "story" else project.rules).append(story)
        for path in project.test_files:
            project.test_stories.extend(s for s in load_stories(path) if s.kind == "story")
    except StoryError as exc:
        raise RasaImportError(str(exc)) from None
    for path in project.nlu_files:
        project.retrieval.extend(_retrieval_examples(path))
    project.pipeline = _read_pipeline(root / "config.yml")
    for name, reason in _NOT_READ.items():
        if (root / name).is_file():
            project.findings.append(Finding(str(root / name), 1, reason))
    code = sorted((root / "actions").rglob("*.py")) if (root / "actions").is_dir() else []
    if code:
        message = (
            f"{len(code)} files of custom action code (Rasa SDK) are not carried over: "
            "frontdesk calls tools instead (README: Routing, tools and hand-off)"
        )
        project.findings.append(Finding(str(code[0]), 1, message))
    return project


def _read_pipeline(path: Path) -> dict[str, dict[str, Any]] | None:
    """config.yml's pipeline as {component name: options} (None when there is no file)."""
    if not path.is_file():
        return None
    node = _compose(path)
    config = _value(node) if node is not None else None
    pipeline = config.get("pipeline") if isinstance(config, dict) else None
    found: dict[str, dict[str, Any]] = {}
    for item in pipeline if isinstance(pipeline, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found[item["name"]] = {k: v for k, v in item.items() if k != "name"}
    return found


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())


def _compose(path: Path) -> yaml.Node | None:
    try:
        return yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as exc:
        raise RasaImportError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise RasaImportError(f"{path}:{mark.line + 1 if mark else 1}: {problem}") from None


def _top_keys(path: Path) -> set[str]:
    root = _compose(path)
    if not isinstance(root, yaml.MappingNode):
        return set()
    return {str(k.value) for k, _ in root.value}


def _value(node: yaml.Node) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _read_domain(root: Path) -> Domain:
    domain = Domain()
    if (root / "domain.yml").is_file():
        domain.files = [root / "domain.yml"]
    elif (root / "domain.yaml").is_file():
        domain.files = [root / "domain.yaml"]
    elif (root / "domain").is_dir():
        domain.files = _yaml_files(root / "domain")
    for path in domain.files:
        node = _compose(path)
        if node is None:
            continue
        if not isinstance(node, yaml.MappingNode):
            raise RasaImportError(f"{path}:1: a domain is a mapping (intents, entities, ...)")
        for key, value in node.value:
            name, line = str(key.value), int(key.start_mark.line) + 1
            domain.lines.setdefault(name, (str(path), line))
            content = _value(value)
            if name == "intents":
                for item in content or []:
                    if isinstance(item, dict):
                        for intent, options in item.items():
                            domain.intents.append(str(intent))
                            if options:
                                domain.intent_options[str(intent)] = options
                    else:
                        domain.intents.append(str(item))
            elif name == "entities":
                for item in content or []:
                    domain.entities.append(
                        str(next(iter(item)) if isinstance(item, dict) else item)
                    )
            elif name == "slots":
                domain.slots.update(content or {})
            elif name == "responses":
                _add_responses(domain, path, value)
            elif name == "forms":
                domain.forms.update(content or {})
            elif name == "actions":
                for item in content or []:
                    domain.actions.append(str(next(iter(item)) if isinstance(item, dict) else item))
            elif name == "session_config":
                domain.session_config = content or {}
    return domain


def _read_responses(path: Path, domain: Domain) -> None:
    node = _compose(path)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "responses":
                _add_responses(domain, path, value)


def _add_responses(domain: Domain, path: Path, node: yaml.Node) -> None:
    if not isinstance(node, yaml.MappingNode):
        raise RasaImportError(f"{path}:{node.start_mark.line + 1}: responses must be a mapping")
    for key, value in node.value:
        variants = _value(value)
        if not isinstance(variants, list):
            raise RasaImportError(
                f"{path}:{key.start_mark.line + 1}: response {key.value!r} must be a list "
                "of variations ('- text: ...')"
            )
        domain.responses[str(key.value)] = variants
        domain.lines.setdefault(f"response:{key.value}", (str(path), key.start_mark.line + 1))


def response_texts(folder: Path) -> dict[str, str]:
    """The first text of every response in the YAML files of a folder (a workspace's
    dialogue/: the imported domains and data files)."""
    domain = Domain()
    for path in _yaml_files(folder):
        _read_responses(path, domain)
    texts = {name: _first_text(variants) for name, variants in domain.responses.items()}
    return {name: text for name, text in texts.items() if text is not None}


def _retrieval_examples(path: Path) -> list[RetrievalExample]:
    """The examples of retrieval intents (`- intent: faq/ask_hours`), as plain text."""
    node = _compose(path)
    found: list[RetrievalExample] = []
    if not isinstance(node, yaml.MappingNode):
        return found
    nlu = next((v for k, v in node.value if k.value == "nlu"), None)
    if not isinstance(nlu, yaml.SequenceNode):
        return found
    for item in nlu.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in item.value}
        intent = fields.get("intent")
        examples = fields.get("examples")
        if not isinstance(intent, yaml.ScalarNode) or "/" not in str(intent.value):
            continue
        entries: list[tuple[int, str]] = []
        if isinstance(examples, yaml.ScalarNode):  # a block of "- text" lines
            first = int(examples.start_mark.line) + (2 if examples.style in {"|", ">"} else 1)
            for offset, raw in enumerate(str(examples.value).splitlines()):
                if raw.strip().startswith("- "):
                    entries.append((first + offset, raw.strip()[2:].strip()))
        elif isinstance(examples, yaml.SequenceNode):  # "- text: ..." with metadata
            for entry in examples.value:
                if not isinstance(entry, yaml.MappingNode):
                    continue
                node = next((v for k, v in entry.value if k.value == "text"), None)
                if isinstance(node, yaml.ScalarNode):
                    block = 2 if node.style in {"|", ">"} else 1
                    entries.append((int(node.start_mark.line) + block, str(node.value).strip()))
        for line, entry_text in entries:
            try:
                plain, _ = parse_annotated(entry_text)
            except ValueError:
                continue  # the NLU loader reports it
            found.append(RetrievalExample(str(intent.value), plain, str(path), line))
    return found


def project_training_data(project: RasaProject) -> TrainingData:
    """The project's NLU files as a workspace reads them (a copy in a scratch folder, so
    that errors name the project's own files). The loader's warnings join the project's
    findings."""
    with tempfile.TemporaryDirectory(prefix="frontdesk-rasa-") as scratch:
        for source in project.nlu_files:
            target = Path(scratch) / source.relative_to(project.data_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)

        def original(text: str) -> str:
            text = text.replace(str(Path(scratch).resolve()), str(project.data_dir))
            return text.replace(scratch, str(project.data_dir))

        try:
            data = load_training_data(Path(scratch))
        except TrainingDataError as exc:
            raise RasaImportError(original(str(exc))) from None
    # What the loader read but could not carry over, named by the project's own files.
    project.findings.extend(
        Finding(original(str(w.source)), int(w.line), str(w.message))
        for w in getattr(data, "warnings", [])
    )
    return data


# ---------------------------------------------------------------------------------------
# Planning


def plan_import(project: RasaProject, training: TrainingData) -> ImportPlan:
    """Decide what is carried over, given the NLU data as frontdesk's loader reads it."""
    plan = ImportPlan(project=project, training=training)
    warnings = plan.warnings
    warnings.extend(project.findings)
    domain = project.domain
    used: set[str] = set()  # responses carried over
    _plan_faq(plan, used)
    _plan_reply_rules(plan, used)

    def at(section: str) -> tuple[str, int]:
        return domain.lines.get(section, (str(domain.files[0]) if domain.files else "", 1))

    if not domain.files:
        warnings.append(
            Finding(
                str(project.root), 1, "no domain.yml: no responses, slots or forms to carry over"
            )
        )
    carried_slots: set[str] = set()
    if domain.forms:
        problem = _plan_forms(plan, used)
        if problem is None:
            carried_slots = {slot for form in domain.forms.values() for slot in _required(form)}
            started = {str(rule["then"]["form"]) for rule in plan.form_rules}
            idle = sorted(set(domain.forms) - started)
            warnings.append(
                Finding(
                    *at("forms"),
                    f"{len(domain.forms)} forms carried over into forms.yml with their slots "
                    f"and questions: {_names(domain.forms)}; what Rasa runs when one is "
                    "complete (a custom action) is not: frontdesk then answers from the "
                    "knowledge base"
                    + (f"; no story or rule starts {', '.join(idle)}" if idle else ""),
                )
            )
        else:
            warnings.append(
                Finding(
                    *at("forms"),
                    f"{len(domain.forms)} forms not carried over ({problem}; kept in "
                    f"dialogue/): {_names(domain.forms)}",
                )
            )
    left = {name: slot for name, slot in domain.slots.items() if name not in carried_slots}
    if left:
        why = "no form asks for them" if carried_slots else "the forms were not carried over"
        warnings.append(
            Finding(
                *at("slots"),
                f"{len(left)} slots and their mappings not carried over ({why}; kept in "
                f"dialogue/): {_names(left)}",
            )
        )
    custom = [a for a in domain.actions if a not in _BUILTIN_ACTIONS and not a.startswith("utter_")]
    if custom:
        warnings.append(
            Finding(
                *at("actions"),
                f"{len(custom)} custom actions not carried over "
                f"(they run on Rasa's action server): {_names(custom)}",
            )
        )
    if domain.intent_options:
        warnings.append(
            Finding(
                *at("intents"),
                "use_entities/ignore_entities of intents are not "
                f"carried over (entities are always kept): {_names(domain.intent_options)}",
            )
        )
    known = set(training.intents) | {e.intent.split("/", 1)[0] for e in project.retrieval}
    unlearned = [
        i for i in domain.intents if i not in known and i not in RASA_BUILTIN_INTENTS
        and not any(e.intent == i for e in training.examples)
    ]  # fmt: skip
    if unlearned:
        warnings.append(
            Finding(
                *at("intents"),
                f"{len(unlearned)} intents in the domain have no "
                f"examples, so no model predicts them (Rasa gets them from buttons, /intent "
                f"messages or other bots): {_names(unlearned)}",
            )
        )
    if domain.session_config:
        warnings.append(
            Finding(
                *at("session_config"),
                "session_config is not carried over (a conversation lasts until it is closed)",
            )
        )
    not_text = sorted(
        n
        for n in used
        if any(set(v) - {"text"} for v in domain.responses[n] if isinstance(v, dict))
    )
    if not_text:
        warnings.append(
            Finding(
                *at(f"response:{not_text[0]}"),
                "buttons, images and custom "
                f"payloads of responses are dropped (text only): {_names(not_text)}",
            )
        )
    variants = sorted(n for n in used if len(domain.responses[n]) > 1)
    if variants:
        warnings.append(
            Finding(
                *at(f"response:{variants[0]}"),
                f"responses with variations: the first is used every time: {_names(variants)}",
            )
        )
    unused = sorted(set(domain.responses) - used)
    if unused:
        warnings.append(
            Finding(
                *at("responses"),
                f"{len(unused)} responses not carried over "
                "(used by forms, custom actions or longer stories; kept in dialogue/): "
                f"{_names(unused)}",
            )
        )
    annotated = set(training.entity_types)
    unfound = [e for e in domain.entities if e not in annotated and e not in BUILTIN_TYPES]
    if unfound:
        warnings.append(
            Finding(
                *at("entities"),
                f"entities no example annotates, so "
                "frontdesk does not learn them (Rasa's pipeline, e.g. Duckling or spaCy, extracted "
                f"them): {_names(unfound)}",
            )
        )
    if project.test_nlu_files:
        first = project.test_nlu_files[0]
        warnings.append(Finding(str(first), 1, f"{len(project.test_nlu_files)} NLU test files "
            "are copied into golden/nlu/ but not run by themselves: score them with "
            "`frontdesk evaluate nlu --test FILE`"))  # fmt: skip
    _story_warnings(plan)
    return plan


def _plan_faq(plan: ImportPlan, used: set[str]) -> None:
    project, domain = plan.project, plan.project.domain
    by_group: dict[str, dict[str, list[RetrievalExample]]] = {}
    for example in project.retrieval:
        group = example.intent.split("/", 1)[0]
        by_group.setdefault(group, {}).setdefault(example.intent, []).append(example)
    today = date.today().isoformat()
    for group, intents in sorted(by_group.items()):
        if group == OUT_OF_SCOPE:
            first = next(iter(intents.values()))[0]
            plan.warnings.append(
                Finding(
                    first.source,
                    first.line,
                    f"{len(intents)} out_of_scope "
                    "retrieval intents are out of scope, not FAQ answers: their responses are not "
                    "carried over",
                )
            )
            used.update(f"utter_{i}" for i in intents if f"utter_{i}" in domain.responses)
            continue
        pairs: list[str] = []
        missing: list[RetrievalExample] = []
        answered = 0
        for intent, examples in sorted(intents.items()):
            response = f"utter_{intent}"
            text = _first_text(domain.responses.get(response, []))
            if text is None:
                missing.append(examples[0])
                continue
            used.add(response)
            answered += 1
            answer = " ".join(text.split())
            pairs.extend(f"Q: {e.text}\nA: {answer}\n" for e in examples)
        if missing:
            m = missing[0]
            plan.warnings.append(
                Finding(
                    m.source,
                    m.line,
                    f"{len(missing)} retrieval intents "
                    f"have no text response (utter_<intent>): {_names(x.intent for x in missing)}",
                )
            )
        if not pairs:
            continue
        plan.faq_answers += answered
        plan.faq_intents.extend(sorted(intents))
        title = f"{group} answers (imported from Rasa)"
        plan.faq_atoms[f"rasa-{group}.md"] = (
            "---\n"
            + yaml.safe_dump(
                {
                    "title": title,
                    "author": "Rasa import",
                    "type": "faq",
                    "created": today,
                    "version": "1",
                    "tags": ["rasa", group],
                },
                sort_keys=False,
            )
            + "---\n"
            + f"Answers of the retrieval intent `{group}` of {project.root.name}, each with "
            "the questions it was trained on.\n\n" + "\n".join(pairs)
        )


def _plan_reply_rules(plan: ImportPlan, used: set[str]) -> None:
    """Rules and stories that are one user intent answered by text responses become fixed
    replies (first one per intent wins; rules before stories)."""
    project, domain = plan.project, plan.project.domain
    intents = set(plan.training.intents)
    retrieval_groups = {e.intent.split("/", 1)[0] for e in project.retrieval}
    taken: dict[str, ReplyRule] = {}
    for story in [*project.rules, *project.stories]:
        if story.condition or story.options.get("conversation_start"):
            continue
        steps = [s for s in story.steps if not (s.kind == "action" and s.name == "action_listen")]
        if len(steps) < 2 or steps[0].kind != "user" or steps[0].user is None:
            continue
        intent = steps[0].user.intent
        actions = steps[1:]
        if intent is None or not all(s.kind == "action" and s.name for s in actions):
            continue
        names = [str(s.name) for s in actions]
        if intent in retrieval_groups and names == [f"utter_{intent}"] and plan.faq_intents:
            plan.carried.add((story.source, story.line))  # answered from the FAQ atoms
            continue
        if intent in retrieval_groups or any("/" in n for n in names) or intent in taken:
            continue
        if intent not in intents and intent not in {OUT_OF_SCOPE, "nlu_fallback"}:
            continue
        texts = [_first_text(domain.responses.get(n, [])) for n in names]
        if any(t is None or _PLACEHOLDER.search(t) for t in texts):
            continue
        message = "\n\n".join(str(t).strip() for t in texts)
        taken[intent] = ReplyRule(
            story.name, intent, message, story.source, story.line, tuple(names)
        )
        used.update(names)
    plan.reply_rules = list(taken.values())


def _story_warnings(plan: ImportPlan) -> None:
    project = plan.project
    replied = {(r.source, r.line) for r in plan.reply_rules} | plan.carried
    for kind, items in (("rules", project.rules), ("stories", project.stories)):
        kept = [s for s in items if (s.source, s.line) not in replied]
        if kept:
            first = kept[0]
            plan.warnings.append(
                Finding(
                    first.source,
                    first.line,
                    f"{len(kept)} of "
                    f"{len(items)} {kind} are kept as dialogue data in dialogue/ but not followed "
                    "(forms, custom actions, slots or several turns; frontdesk has no dialogue "
                    f"policy yet): {_names(s.name for s in kept)}",
                )
            )
    checkpoints = [
        (s, step)
        for s in [*project.stories, *project.rules]
        for step in s.steps
        if step.kind == "checkpoint"
    ]
    if checkpoints:
        story, step = checkpoints[0]
        plan.warnings.append(
            Finding(
                story.source,
                step.line,
                f"{len(checkpoints)} checkpoints "
                "(story continuations) kept in dialogue/ but not followed",
            )
        )
    replied_with = {name for rule in plan.reply_rules for name in rule.responses}
    unchecked = [
        (story, step)
        for story in project.test_stories
        for step in story.steps
        if (step.kind == "action" and step.name not in replied_with | {"action_listen"})
        or step.kind in {"active_loop", "slot_was_set", "bot"}
    ]
    if unchecked:
        story, step = unchecked[0]
        names = {s.name or s.kind for _, s in unchecked if s.kind == "action"}
        others = sum(s.kind != "action" for _, s in unchecked)
        plan.warnings.append(
            Finding(
                story.source,
                step.line,
                f"{len(unchecked)} steps of the test stories are not checked by `frontdesk "
                "evaluate conversations` (it checks user turns and the fixed replies of "
                f"rules.yaml): the actions {_names(names)}"
                + (f"; {others} form, slot or bot-text steps" if others else ""),
            )
        )
    for story in project.test_stories:
        texts = [t for t in story.user_turns if t.text and not t.intent]
        if texts:
            plan.warnings.append(
                Finding(
                    story.source,
                    texts[0].line,
                    "test turns with text but "
                    "no intent are not checked (frontdesk checks the intent and entities of a "
                    "turn)",
                )
            )
            break


def _first_text(variants: list[Any]) -> str | None:
    for variant in variants:
        if isinstance(variant, dict) and isinstance(variant.get("text"), str):
            return str(variant["text"])
    return None


def _names(items: Iterable[Any], limit: int = 8) -> str:
    names = sorted(str(i) for i in items)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ---------------------------------------------------------------------------------------
# Writing


def _required(form: Any) -> list[str]:
    slots = form.get("required_slots") if isinstance(form, dict) else None
    return [str(s) for s in (list(slots) if isinstance(slots, dict | list) else [])]


def _plan_forms(plan: ImportPlan, used: set[str]) -> str | None:
    """forms.yml from the domain (forms, the slots they ask for, the utter_ask_ questions)
    and a rule per form for the intents that start it in the stories and rules. Returns why
    not, when the forms would not load or run."""
    from pydantic import ValidationError

    from frontdesk.config.forms import FormsConfig, check_form_names
    from frontdesk.nlu.entities import BUILTIN_TYPES

    domain = plan.project.domain
    wanted = {slot for form in domain.forms.values() for slot in _required(form)}
    document = {
        "version": "3.1",
        "forms": domain.forms,
        "slots": {name: slot for name, slot in domain.slots.items() if name in wanted},
        "responses": {
            name: variants
            for name, variants in domain.responses.items()
            if name.startswith("utter_ask_")
        },
    }
    try:
        forms = FormsConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}"
    problems = forms.problems() + check_form_names(
        forms,
        tools=[],
        entities=[*plan.training.entity_types, *BUILTIN_TYPES],
        teams=["support"],
    )
    if problems:
        return problems[0].split(": ", 1)[-1]
    starts: dict[str, set[str]] = {}
    origin: dict[str, str] = {}
    for story in [*plan.project.rules, *plan.project.stories]:
        for before, step in zip(story.steps, story.steps[1:], strict=False):
            if step.kind != "action" or step.name not in forms.forms:
                continue
            turns = [before.user] if before.user is not None else list(before.alternatives)
            intents = {t.intent for t in turns if t is not None and t.intent}
            known = intents & set(plan.training.intents)
            if known:
                starts.setdefault(step.name, set()).update(known)
                origin.setdefault(step.name, f"{Path(story.source).name}:{story.line}")
                if story.kind == "rule" and len(story.steps) <= 3 and not story.condition:
                    plan.carried.add((story.source, story.line))  # followed: it starts a form
    plan.form_rules = [
        {
            "name": f"{name} ({origin[name]})",
            "when": {"intent": sorted(starts[name])},
            "then": {"action": "clarify", "form": name},
        }
        for name in sorted(starts)
    ]
    plan.forms_yml = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    used.update(document["responses"])  # the questions, carried over in forms.yml
    return None


def rules_yaml(plan: ImportPlan, atoms: Iterable[str] = ()) -> str:
    """A rules.yaml: the fixed replies, FAQ intents answered from the knowledge base, and a
    catch-all that answers from the knowledge base (or hands off to `support`)."""
    rules: list[dict[str, Any]] = []
    fallback = [r for r in plan.reply_rules if r.intent == "nlu_fallback"]
    for reply in fallback:  # Rasa's FallbackClassifier: low confidence
        rules.append(
            {
                "name": f"{reply.name} ({Path(reply.source).name}:{reply.line})",
                "when": {"confidence_below": plan.fallback_threshold},
                "then": {"action": "clarify", "ask": reply.message},
            }
        )
    for reply in plan.reply_rules:
        if reply.intent == "nlu_fallback":
            continue
        when: dict[str, Any] = (
            {"out_of_scope": True} if reply.intent == OUT_OF_SCOPE else {"intent": [reply.intent]}
        )
        rules.append(
            {
                "name": f"{reply.name} ({Path(reply.source).name}:{reply.line})",
                "when": when,
                "then": {"action": "answer", "message": reply.message},
            }
        )
    rules.extend(plan.form_rules)  # a form's questions, then the rules below answer
    faq = sorted(set(plan.faq_intents) & set(plan.training.intents)) or sorted(
        {i.split("/", 1)[0] for i in plan.faq_intents} & set(plan.training.intents)
    )
    if faq:
        where = ", ".join(f"knowledge/{a}" for a in atoms) or "the knowledge base"
        rules.append(
            {
                "name": f"retrieval intents: answers from {where}",
                "when": {"intent": faq},
                "then": {"action": "answer", "team": "support"},
            }
        )
    rules.append({"name": "everything else", "then": {"action": "answer", "team": "support"}})
    document = {
        "teams": {"support": {"description": "Whatever the assistant cannot answer itself."}},
        "rules": rules,
    }
    header = (
        f"# Routing rules imported from the Rasa project {plan.project.root.name} by\n"
        "# `frontdesk import rasa`: its rules and stories that answer one intent with text\n"
        "# responses are fixed replies; the rest answers from the knowledge base or hands off.\n"
        "# The first rule whose conditions hold decides (see the demo's rules.yaml for all\n"
        "# conditions and actions: `frontdesk init DIR`).\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1_000_000)


def settings_yaml(plan: ImportPlan) -> str:
    entities = sorted(set(plan.project.domain.entities) | set(plan.training.entity_types))
    document = {
        "tenant": "default",
        "auto_migrate": True,
        "assistant": {"name": "Assistant", "company": plan.project.root.name},
        "nlu": {
            "classifier": "hybrid",
            "entity_patterns": {},
            "entities": entities,
            **({"extractors": plan.extractors} if plan.extractors else {}),
        },
        "llm": {"answer_model": "extractive"},
    }
    header = (
        f"# frontdesk workspace imported from the Rasa project {plan.project.root.name}.\n"
        "# Every value can be overridden by an environment variable: FRONTDESK_<FIELD>,\n"
        "# nested with a double underscore (FRONTDESK_SERVER__PORT=9000).\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def dialogue_summary(project: RasaProject) -> str:
    """The parsed stories, rules and test stories as JSON (steps with file:line)."""

    def story(s: Story) -> dict[str, Any]:
        return asdict(s)

    return json.dumps(
        {
            "source": str(project.root),
            "stories": [story(s) for s in project.stories],
            "rules": [story(s) for s in project.rules],
            "test_stories": [story(s) for s in project.test_stories],
            "forms": project.domain.forms,
            "slots": project.domain.slots,
            "responses": project.domain.responses,
        },
        indent=1,
        default=str,
    )


@dataclass
class Written:
    root: Path
    new: bool
    files: list[Path] = field(default_factory=list)


def workspace_files(plan: ImportPlan, *, new: bool) -> dict[Path, bytes]:
    """Every file the import writes, by its path in the workspace. Into an existing
    workspace the project's files go into folders named after it (nlu/<name>/...), and the
    rules it would have written into dialogue/<name>/rules.yaml (rules.yaml is left alone)."""
    project = plan.project
    prefix = Path() if new else Path(_slug(project.root.name))
    files: dict[Path, bytes] = {}

    def copy(path: Path, base: Path, into: Path) -> None:
        files[into / prefix / path.relative_to(base)] = path.read_bytes()

    for path in project.nlu_files:
        copy(path, project.data_dir, Path("nlu"))
    for path in project.dialogue_files:
        copy(path, project.data_dir, Path("dialogue"))
    for path in project.domain.files:
        copy(path, project.root, Path("dialogue"))
    for path in project.test_files:
        copy(path, project.root / "tests", Path("golden/conversations"))
    for path in project.test_nlu_files:
        copy(path, project.root / "tests", Path("golden/nlu"))
    files[Path("dialogue") / prefix / "dialogue.json"] = dialogue_summary(project).encode()
    atoms = []
    for name, text in plan.faq_atoms.items():
        atom = name if new else name.replace("rasa-", f"rasa-{prefix}-", 1)
        files[Path("knowledge") / atom] = text.encode()
        atoms.append(atom)
    if plan.forms_yml is not None:
        forms_at = Path("forms.yml") if new else Path("dialogue") / prefix / "forms.yml"
        files[forms_at] = plan.forms_yml.encode()
    if new:
        files[Path("frontdesk.yaml")] = settings_yaml(plan).encode()
        files[Path("rules.yaml")] = rules_yaml(plan, atoms).encode()
        files[Path("knowledge")] = b""  # the folder, even without FAQ answers
    else:
        files[Path("dialogue") / prefix / "rules.yaml"] = rules_yaml(plan, atoms).encode()
    return files


def write_workspace(plan: ImportPlan, target: Path, *, force: bool = False) -> Written:
    """Write the import into `target`: a new workspace when it does not exist or is empty,
    else into the workspace there. A file that exists with other content is an error unless
    `force` (importing the same project twice changes nothing)."""
    target = target.expanduser()
    if target.exists() and not target.is_dir():
        raise RasaImportError(f"{target}: not a folder")
    existing = target.is_dir() and any(target.iterdir())
    if existing and not (target / "frontdesk.yaml").is_file():
        raise RasaImportError(
            f"{target}: not empty and not a frontdesk workspace (no "
            "frontdesk.yaml); name a new folder or a workspace"
        )
    written = Written(target, new=not existing)
    files = workspace_files(plan, new=not existing)
    clashes = [
        rel
        for rel, content in files.items()
        if content
        and (target / rel).is_file()
        and (target / rel).read_bytes() != content
        and rel.name != "dialogue.json"
        and rel.suffix != ".md"
    ]
    if clashes and not force:
        shown = ", ".join(str(c) for c in sorted(clashes)[:3])
        raise RasaImportError(
            f"{target}: {len(clashes)} files would change ({shown}); pass --force to overwrite them"
        )
    for rel, content in sorted(files.items()):
        path = target / rel
        if not content and rel.suffix == "":
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.files.append(path)
    return written


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "rasa"
