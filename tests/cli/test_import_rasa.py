"""`frontdesk import rasa`, the Rasa stories parser and golden conversations (issue 18).

The fixture tests/cli/data/rasa_bot is a small Rasa 3 project written for these tests:
roles, a synonym, a lookup, a regex, retrieval intents (faq/ask_hours, faq/ask_refund) with
their responses, out_of_scope, rules with a condition and nlu_fallback, stories with a form,
slot_was_set, a checkpoint and `or`, a domain with slots, forms, buttons, variations and a
custom action, a config.yml, and end-to-end test stories.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from frontdesk.cli.main import app
from frontdesk.config.workspace import Workspace, load_rules
from frontdesk.evaluation.conversations import Understood, load_conversations, run_conversations
from frontdesk.knowledge.atoms import parse_atom
from frontdesk.nlu.rasa_stories import StoryError, load_stories, load_test_stories
from frontdesk.nlu.training_data import load_training_data
from tests.conftest import DEMO

BOT = Path(__file__).parent / "data" / "rasa_bot"
runner = CliRunner()


def _line_of(path: Path, text: str) -> int:
    """The first line holding `text` (`^text`: starting with it)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if text.startswith("^"):
        return next(i for i, line in enumerate(lines, start=1) if line.startswith(text[1:]))
    return next(i for i, line in enumerate(lines, start=1) if text in line)


def _import(target: Path, *extra: str, source: Path = BOT) -> tuple[int, str]:
    result = runner.invoke(app, ["import", "rasa", str(source), "-w", str(target), *extra])
    return result.exit_code, result.output


# -- parsing ---------------------------------------------------------------------------


def test_stories_and_rules_are_parsed_with_lines() -> None:
    stories = load_stories(BOT / "data" / "stories.yml")
    assert [s.name for s in stories] == ["greet", "book a trip", "after booking"]
    book = stories[1]
    assert [s.kind for s in book.steps] == [
        "user", "action", "active_loop", "slot_was_set", "active_loop", "action", "checkpoint",
    ]  # fmt: skip
    assert book.steps[0].user is not None
    assert book.steps[0].user.intent == "book_trip"
    assert book.steps[0].user.listed_entities == (("city", "Paris"),)
    assert book.steps[3].slots == (("destination", "Paris"),)
    assert book.steps[4].name is None  # active_loop: null
    assert book.steps[6].name == "booked"
    assert book.line == _line_of(BOT / "data" / "stories.yml", "story: book a trip")
    after = stories[2]
    assert [t.intent for t in after.steps[1].alternatives] == ["goodbye", "greet"]

    rules = load_stories(BOT / "data" / "rules.yml")
    assert all(r.kind == "rule" for r in rules)
    submit = next(r for r in rules if r.name == "submit the trip form")
    assert [c.kind for c in submit.condition] == ["active_loop"]
    assert submit.condition[0].name == "trip_form"


def test_test_stories_are_training_examples_with_file_and_line() -> None:
    path = BOT / "tests" / "test_stories.yml"
    examples = load_test_stories(path)
    # "intent only" has a turn without text and one without intent: neither is an example.
    assert [(e.text, e.intent) for e in examples] == [
        ("hello there", "greet"),
        ("bye", "goodbye"),
        ("I want to fly from Berlin to Rome", "book_trip"),
        ("when are you open?", "faq/ask_hours"),
    ]
    assert examples[0].source == str(path)
    assert examples[0].line == _line_of(path, "hello there")
    assert examples[2].line == _line_of(path, "I want to fly from [Berlin]")
    spans = examples[2].entities
    assert [(s.type, s.text, s.value) for s in spans] == [
        ("city", "Berlin", "Berlin"), ("city", "Rome", "Rome"),
    ]  # fmt: skip
    assert examples[2].text[spans[1].start : spans[1].end] == "Rome"
    # A folder of them reads the same.
    assert load_test_stories(BOT / "tests") == examples


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("stories:\n- story: x\n  steps:\n  - intent: greet\n  - wave: hi\n", 5, "a step has wave"),
        ("stories:\n- steps:\n  - intent: greet\n", 2, "a story needs a name"),
        ("rules:\n- rule: r\n", 2, "has no steps"),
        ("stories:\n- story: x\n  steps:\n  - intent: a\n    user: go [x](e\n", 5, "unclosed"),
        ("stories: [\n", 2, "invalid YAML"),
    ],
)
def test_broken_stories_name_file_and_line(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "stories.yml"
    path.write_text(text)
    with pytest.raises(StoryError, match=rf"^{re.escape(str(path))}:{line}: .*{message}"):
        load_stories(path)


# -- import ------------------------------------------------------------------------------


def test_import_makes_a_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "bot"
    code, output = _import(ws)
    assert code == 0, output
    # NLU, dialogue data and test stories copied unchanged.
    assert (ws / "nlu" / "nlu.yml").read_bytes() == (BOT / "data" / "nlu.yml").read_bytes()
    for name in ("stories.yml", "rules.yml"):
        assert (ws / "dialogue" / name).read_bytes() == (BOT / "data" / name).read_bytes()
    assert (ws / "dialogue" / "domain.yml").read_bytes() == (BOT / "domain.yml").read_bytes()
    assert (ws / "dialogue" / "dialogue.json").is_file()
    golden = ws / "golden" / "conversations" / "test_stories.yml"
    assert golden.read_bytes() == (BOT / "tests" / "test_stories.yml").read_bytes()

    # The retrieval intents' responses are FAQ answers, asked as the intents' examples.
    atom = parse_atom(ws / "knowledge" / "rasa-faq.md")
    assert atom.meta.type == "faq"
    pairs = {(f.question, f.answer) for f in atom.faqs}
    hours = "We are open every day from 8:00 to 20:00."
    assert ("when are you open?", hours) in pairs
    assert ("are you open on sundays", hours) in pairs
    assert ("how do refunds work", "Refunds are paid within 14 days of a cancellation.") in pairs
    assert len(pairs) == 5

    # One-intent rules and stories answered by text responses are fixed replies.
    rules = load_rules(Workspace.at(ws))
    by_name = {r.name.split(" (")[0]: r for r in rules.rules}
    goodbye = by_name["say goodbye"]
    assert goodbye.when.intent == ["goodbye"]
    assert goodbye.then.message == "Goodbye, have a good trip!"
    assert by_name["greet"].then.message is not None
    assert by_name["greet"].then.message.startswith("Hello! I can book trips")
    assert by_name["out of scope"].when.out_of_scope is True
    fallback = by_name["rephrase on low confidence"]
    assert fallback.then.action.value == "clarify"
    assert fallback.when.confidence_below == 0.4  # config.yml's FallbackClassifier threshold
    faq = by_name["retrieval intents: answers from knowledge/rasa-faq.md"]
    assert faq.when.intent == ["faq/ask_hours", "faq/ask_refund"]
    # A response with a {slot} cannot be a fixed reply: that rule is not carried over.
    assert not any("trip form" in name for name in by_name)
    assert rules.rules[-1].name == "everything else"

    # The workspace reads its own files.
    data = load_training_data(ws / "nlu")
    assert "book_trip" in data.intents
    settings = yaml.safe_load((ws / "frontdesk.yaml").read_text())
    assert settings["nlu"]["entities"] == ["booking_ref", "city", "seat", "time"]
    # config.yml's RegexEntityExtractor (use_lookup_tables: false): the regex extracts, the
    # lookup table stays a feature.
    assert settings["nlu"]["extractors"] == {"regex": ["booking_ref"]}

    # The summary line counts what was imported.
    assert re.search(
        r"5 files, 5 intents, 23 examples, 4 entities, 2 FAQ answers, 3 stories, 5 rules, "
        r"4 test stories; 4 fixed replies; 0 errors, \d+ warnings",
        " ".join(output.split()),
    ), output


def test_what_is_not_carried_over_is_one_warning_each_with_file_and_line(
    tmp_path: Path,
) -> None:
    code, output = _import(tmp_path / "bot")
    assert code == 0, output
    warnings = [line for line in output.splitlines() if ": warning: " in line]
    domain, stories = BOT / "domain.yml", BOT / "data" / "stories.yml"
    tests = BOT / "tests" / "test_stories.yml"
    expected = {
        f"{domain}:{_line_of(domain, 'forms:')}": "1 forms carried over into forms.yml",
        f"{domain}:{_line_of(domain, 'actions:')}": "custom actions not carried over",
        f"{domain}:{_line_of(domain, 'session_config:')}": "session_config",
        f"{domain}:{_line_of(domain, 'responses:')}": "1 responses not carried over",
        f"{domain}:{_line_of(domain, 'utter_greet:')}": "the first is used every time",
        f"{domain}:{_line_of(domain, '^entities:')}": "booking_ref, time",
        f"{BOT / 'config.yml'}:1": "pipeline and policies are not used",
        f"{stories}:{_line_of(stories, 'story: book a trip')}": "2 of 3 stories are kept",
        f"{stories}:{_line_of(stories, 'checkpoint: booked')}": "2 checkpoints",
        f"{tests}:{_line_of(tests, 'action: trip_form')}": "2 steps of the test stories are "
        "not checked by `frontdesk evaluate conversations` (it checks user turns and the fixed "
        "replies of rules.yaml): the actions trip_form, utter_faq",
    }
    for where, what in expected.items():
        found = [w for w in warnings if w.startswith(f"{where}: warning: ")]
        assert [what in w for w in found] == [True], (where, what, warnings)
    # Each kind once; the FAQ rule and the fixed replies are carried over, so 1 of 5 rules
    # (the form's) is left.
    assert sum("forms carried over into forms.yml" in w for w in warnings) == 1
    assert not [w for w in warnings if "slots and their mappings" in w]  # the form's slot
    rules_warning = next(w for w in warnings if "rules are kept" in w)
    assert "1 of 5 rules" in rules_warning
    assert "submit the trip form" in rules_warning
    # Sorted by file, then line as a number; no emoji codes eaten (`:48:` stays).
    keys = [(w.split(":")[0], int(w.split(":")[1])) for w in warnings]
    assert keys == sorted(keys)


def test_a_domain_folder_and_responses_in_data_files_are_read(tmp_path: Path) -> None:
    """Rasa also takes its domain as a folder of YAML files, responses in data/ and NLU
    test files in tests/."""
    project = tmp_path / "split"
    shutil.copytree(BOT, project)
    domain = (project / "domain.yml").read_text()
    head, responses = domain.split("responses:\n", 1)
    body, rest = responses.split("forms:\n", 1)
    faq = "".join(line + "\n" for line in body.splitlines() if "faq" in line or "We are" in line
                  or "Refunds are" in line)  # fmt: skip
    (project / "domain.yml").unlink()
    (project / "domain").mkdir()
    (project / "domain" / "intents.yml").write_text(head + "forms:\n" + rest)
    other = body.replace(faq, "")
    (project / "domain" / "responses.yml").write_text("responses:\n" + other)
    (project / "data" / "responses.yml").write_text('version: "3.1"\nresponses:\n' + faq)
    (project / "actions").mkdir()
    (project / "actions" / "actions.py").write_text("from rasa_sdk import Action\n")
    (project / "tests" / "nlu_test.yml").write_text(
        "nlu:\n- intent: greet\n  examples: |\n    - hiya\n"
    )
    ws = tmp_path / "ws"
    code, output = _import(ws, source=project)
    assert code == 0, output
    atom = parse_atom(ws / "knowledge" / "rasa-faq.md")
    assert len(atom.faqs) == 5
    assert (ws / "dialogue" / "domain" / "responses.yml").is_file()
    assert (ws / "dialogue" / "responses.yml").read_text() == (
        project / "data" / "responses.yml"
    ).read_text()
    rules = load_rules(Workspace.at(ws))
    assert any(r.then.message == "Goodbye, have a good trip!" for r in rules.rules)
    assert "forms carried over into forms.yml" in output
    assert (ws / "golden" / "nlu" / "nlu_test.yml").is_file()
    assert f"{project / 'actions' / 'actions.py'}:1: warning: 1 files of custom action" in output
    assert f"{project / 'tests' / 'nlu_test.yml'}:1: warning: 1 NLU test files" in output


def test_retrieval_examples_with_metadata_are_faq_questions(tmp_path: Path) -> None:
    from frontdesk.nlu.rasa_project import read_project

    project = tmp_path / "meta"
    (project / "data").mkdir(parents=True)
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(
        "nlu:\n- intent: faq/ask_x\n  examples:\n  - text: |\n      what is x\n"
        "    metadata: {sentiment: neutral}\n  - text: about [x](thing)\n"
    )
    found = read_project(project).retrieval
    assert [(e.intent, e.text, e.line) for e in found] == [
        ("faq/ask_x", "what is x", _line_of(nlu, "what is x")),
        ("faq/ask_x", "about x", _line_of(nlu, "about [x]")),
    ]


def test_the_nlu_loaders_warnings_name_the_projects_files(tmp_path: Path) -> None:
    project = tmp_path / "odd"
    shutil.copytree(BOT, project)
    nlu = project / "data" / "nlu.yml"
    nlu.write_text(
        nlu.read_text().replace("- hey\n", '- hey [you]{"entity": "who", "confidence": 1}\n')
    )
    code, output = _import(tmp_path / "ws", source=project)
    assert code == 0, output
    line = _line_of(nlu, "hey [you]")
    assert f"{nlu}:{line}: warning: " in output
    assert "frontdesk-rasa-" not in output  # not the scratch copy's path


def test_import_into_an_existing_workspace_keeps_its_files(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(DEMO, ws, ignore=shutil.ignore_patterns(".frontdesk"))
    rules_before = (ws / "rules.yaml").read_bytes()
    code, output = _import(ws)
    assert code == 0, output
    assert (ws / "rules.yaml").read_bytes() == rules_before
    assert (ws / "nlu" / "nlu.yml").read_bytes() == (DEMO / "nlu" / "nlu.yml").read_bytes()
    assert (ws / "nlu" / "rasa_bot" / "nlu.yml").is_file()
    assert (ws / "dialogue" / "rasa_bot" / "rules.yaml").is_file()
    assert (ws / "knowledge" / "rasa-rasa_bot-faq.md").is_file()
    assert (ws / "golden" / "conversations" / "rasa_bot" / "test_stories.yml").is_file()
    assert "rules.yaml is unchanged" in output
    assert 'add nlu.extractors: {"regex": ["booking_ref"]}' in " ".join(output.split())
    # Importing the same project again changes nothing and is fine.
    again, output = _import(ws)
    assert again == 0, output
    # A file changed since is not overwritten without --force.
    (ws / "nlu" / "rasa_bot" / "nlu.yml").write_text("nlu: []\n")
    code, output = _import(ws)
    assert code == 1
    assert "1 files would change (nlu/rasa_bot/nlu.yml); pass --force" in " ".join(output.split())
    code, output = _import(ws, "--force")
    assert code == 0, output
    assert (ws / "nlu" / "rasa_bot" / "nlu.yml").read_bytes() == (
        BOT / "data" / "nlu.yml"
    ).read_bytes()


def test_import_errors_are_one_readable_line(tmp_path: Path) -> None:
    code, output = _import(tmp_path / "ws", source=tmp_path / "missing")
    assert code == 1
    assert "no such folder" in output
    assert "Traceback" not in output

    empty = tmp_path / "empty"
    empty.mkdir()
    code, output = _import(tmp_path / "ws", source=empty)
    assert code == 1
    assert "no NLU training data" in output

    broken = tmp_path / "broken"
    shutil.copytree(BOT, broken)
    (broken / "data" / "stories.yml").write_text("stories:\n- story: x\n  steps:\n  - wave: 1\n")
    code, output = _import(tmp_path / "ws", source=broken)
    assert code == 1
    assert f"{broken / 'data' / 'stories.yml'}:4: a step has wave" in " ".join(output.split())

    (broken / "data" / "stories.yml").write_bytes((BOT / "data" / "stories.yml").read_bytes())
    (broken / "data" / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - [x](y\n")
    code, output = _import(tmp_path / "ws", source=broken)
    assert code == 1
    assert f"{broken / 'data'}/nlu.yml:4:" in output
    assert "scratch" not in output

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    code, output = _import(occupied)
    assert code == 1
    assert "not empty and not a frontdesk workspace" in output
    assert not (tmp_path / "ws").exists()


# -- golden conversations ------------------------------------------------------------------


def test_conversations_are_scored_per_turn() -> None:
    stories = load_conversations(BOT / "tests")

    def understand(texts: list[str]) -> list[Understood]:
        answers = {
            "hello there": Understood("greet", False, ()),
            "bye": Understood("greet", False, ()),  # wrong intent
            "I want to fly from Berlin to Rome": Understood(
                "book_trip", False, (("city", "Berlin", "departure"),
                                     ("city", "rome", "destination"), ("amount", "5", None)),
            ),
            "when are you open?": Understood("faq/ask_hours", False, ()),
        }  # fmt: skip
        return [answers[t] for t in texts]

    report = run_conversations(stories, understand, {"city"})  # type: ignore[arg-type]
    summary = report.summary()
    assert summary["stories"] == 3  # "intent only" has nothing to check
    assert summary["turns"] == 4
    assert summary["turns_skipped"] == 2
    assert summary["turns_matched"] == 3
    assert summary["stories_passed"] == 2
    [failed] = report.failures()
    assert failed.text == "bye"
    assert failed.expected_intent == "goodbye"
    assert failed.line == _line_of(BOT / "tests" / "test_stories.yml", "      bye")
    # Entities of types the data does not know (amount) are not held against a turn; values
    # compare in any case.
    booked = next(t for t in report.turns if t.expected_intent == "book_trip")
    assert booked.entities_ok


def test_replies_are_checked_where_rules_yaml_has_them(tmp_path: Path) -> None:
    """After a turn, the story's text responses are checked against the fixed reply the
    routing rules choose, where rules.yaml says that text."""
    from frontdesk.evaluation.conversations import fixed_replies, rule_reply
    from frontdesk.nlu.rasa_project import response_texts

    ws = tmp_path / "bot"
    code, output = _import(ws)
    assert code == 0, output
    rules = load_rules(Workspace.at(ws))
    responses = response_texts(ws / "dialogue")
    assert responses["utter_goodbye"] == "Goodbye, have a good trip!"
    stories = load_conversations(ws / "golden" / "conversations")

    def understand(texts: list[str]) -> list[Understood]:
        intents = {"hello there": "greet", "bye": "greet", "when are you open?": "faq/ask_hours"}
        return [Understood(intents.get(t, "book_trip"), False, ()) for t in texts]

    report = run_conversations(
        stories, understand, set(), responses=responses,  # type: ignore[arg-type]
        fixed_replies=fixed_replies(rules), reply=rule_reply(rules),
    )  # fmt: skip
    checked = [t for t in report.turns if t.reply_ok is not None]
    # greet -> utter_greet and goodbye -> utter_goodbye are fixed replies; trip_form and the
    # FAQ answer are not checked.
    assert [t.text for t in checked] == ["hello there", "bye"]
    hello, bye = checked
    assert hello.reply_ok
    assert hello.reply == "Hello! I can book trips and answer questions about our service."
    # "bye" understood as greet: the greeting comes back instead of the goodbye.
    assert bye.reply_ok is False
    assert bye.expected_reply == "Goodbye, have a good trip!"
    assert report.summary()["replies_checked"] == 2
    assert report.summary()["replies_matched"] == 1
    # A low confidence gets the nlu_fallback rule's question, as in Rasa.
    unsure = rule_reply(rules)(Understood("greet", False, (), confidence=0.1), "hm")
    assert unsure == "Sorry, could you say that again?"


def test_entities_match_by_type_value_and_annotated_role() -> None:
    from frontdesk.evaluation.conversations import entities_match, show_entities

    rome = [("city", "Rome", "destination")]
    assert entities_match(rome, [("city", "rome", "destination")])
    assert not entities_match(rome, [("city", "Rome", "departure")])
    assert not entities_match(rome, [("city", "Rome", None)])
    # A turn annotated without roles is not held to the roles a model gives.
    assert entities_match([("city", "Rome", None)], [("city", "Rome", "departure")])
    assert not entities_match([("city", "Rome", None)], [])
    assert show_entities([*rome, ("seat", "business", None)]) == (
        "[city(destination)=Rome, seat=business]"
    )


def test_out_of_scope_and_retrieval_turns_match_as_rasa_means_them() -> None:
    from frontdesk.evaluation.conversations import intent_matches

    assert intent_matches("out_of_scope", Understood("greet", True, ()))
    assert not intent_matches("out_of_scope", Understood("greet", False, ()))
    assert not intent_matches("greet", Understood("greet", True, ()))
    assert intent_matches("faq/ask_hours", Understood("faq", False, ()))
    assert not intent_matches("faq/ask_hours", Understood("faq/ask_refund", False, ()))


def test_import_train_and_play_the_test_stories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FRONTDESK_NLU__CLASSIFIER", "tfidf")  # n-grams only: fast
    ws = tmp_path / "bot"
    code, output = _import(ws)
    assert code == 0, output
    trained = runner.invoke(app, ["train", "-w", str(ws), "--folds", "2"])
    assert trained.exit_code == 0, trained.output
    result = runner.invoke(
        app, ["evaluate", "conversations", "-w", str(ws), "--output", str(tmp_path / "c.json")]
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"\d of 3 stories passed; \d of 4 turns matched", result.output)
    assert re.search(r"replies_checked\s+│ 2 ", result.output), result.output
    assert (tmp_path / "c.json").is_file()


def test_evaluate_conversations_needs_stories_and_a_model(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(DEMO, ws, ignore=shutil.ignore_patterns(".frontdesk"))
    shutil.rmtree(ws / "golden" / "conversations")  # the demo's own golden conversations
    result = runner.invoke(app, ["evaluate", "conversations", "-w", str(ws)])
    assert result.exit_code == 1
    assert "no test stories" in result.output
    result = runner.invoke(
        app, ["evaluate", "conversations", "-w", str(ws), "--stories", str(BOT / "tests")]
    )
    assert result.exit_code == 1
    assert "has no trained model" in result.output


def test_forms_are_carried_over_and_started_by_their_stories(tmp_path: Path) -> None:
    """The domain's forms, the slots they ask for and their utter_ask_ questions become
    forms.yml; the intent a story or rule starts a form with gets a rule running it."""
    from frontdesk.config.workspace import load_forms
    from frontdesk.policy.validation import check_rules

    ws = tmp_path / "bot"
    code, output = _import(ws)
    assert code == 0, output
    forms = load_forms(Workspace.at(ws))
    assert forms.forms["trip_form"].required_slots == ["destination"]
    assert forms.slots["destination"].mappings[0].role == "destination"
    assert forms.ask("trip_form", "destination") == "Where do you want to go?"
    rules = load_rules(Workspace.at(ws))
    [started] = [r for r in rules.rules if r.then.form == "trip_form"]
    assert started.when.intent == ["book_trip"]
    check_rules(rules, intents=["book_trip", *rules_intents(rules)], forms=forms.forms)


def rules_intents(rules: object) -> list[str]:
    from frontdesk.config.rules import RulesConfig, iter_conditions

    assert isinstance(rules, RulesConfig)
    return [name for rule in rules.rules for _, node, _ in iter_conditions(rule.when)
            for name in node.intent or []]  # fmt: skip
