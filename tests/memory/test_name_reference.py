"""The customer's name in a stored reply is a reference (frontdesk.text.NAME_MARK), rendered
from the profile when shown: the name itself, or nothing in its place once the profile is
gone or names are not remembered (issue 17/19)."""

from __future__ import annotations

import pytest

from frontdesk.config.reply_languages import reply_for
from frontdesk.config.settings import Settings
from frontdesk.orchestration.remembering import greet, profile_name
from frontdesk.storage.models import CustomerProfile
from frontdesk.text import NAME_MARK, mark_name, mark_names, render_name, render_names


@pytest.mark.parametrize(
    ("reply", "shown", "without"),
    [
        ("Hello! Reset it under Settings.", "Hello Oliver! Reset it under Settings.",
         "Hello! Reset it under Settings."),
        ("Sure, reset it under Settings.", "Hi Oliver! Sure, reset it under Settings.",
         "Hi! Sure, reset it under Settings."),
        ("Hi, reset it under Settings.", "Hi Oliver, reset it under Settings.",
         "Hi, reset it under Settings."),
    ],
)  # fmt: skip
def test_a_greeting_renders_with_and_without_the_name(reply: str, shown: str, without: str) -> None:
    stored = greet(reply, NAME_MARK, "en")
    assert "Oliver" not in stored
    assert render_name(stored, "Oliver") == shown == greet(reply, "Oliver", "en")
    assert render_name(stored, None) == without


def test_other_languages_greeting_renders_without_the_name() -> None:
    template = reply_for("es", "greeting")
    assert template is not None
    stored = greet("Claro, puede cambiarla en Ajustes.", NAME_MARK, "es")
    bare = render_name(stored, None)
    assert NAME_MARK not in bare
    assert bare.endswith("Claro, puede cambiarla en Ajustes.")
    assert not bare.startswith((" ", ",", "!"))


def test_marking_a_stored_answer_is_undone_by_rendering() -> None:
    answer = {"answer": "Hi Oliver Pearce! Sure.", "citations": [{"title": "Oliver Pearcey"}]}
    marked = mark_names(answer, "Oliver Pearce")
    assert "Oliver Pearce!" not in str(marked)
    assert marked["citations"] == answer["citations"]  # type: ignore[index]  # a word apart
    assert render_names(marked, "Oliver Pearce") == answer
    assert render_names(marked, None) == {"answer": "Hi! Sure.", "citations": answer["citations"]}
    assert mark_name("no name here", "Oliver") == "no name here"


def test_text_without_a_reference_is_unchanged() -> None:
    assert render_name("Hi, [NAME] here", None) == "Hi, [NAME] here"


def test_the_name_shown_follows_the_profile_and_the_settings() -> None:
    profile = CustomerProfile(customer_ref="c-1", display_name="Oliver")
    assert profile_name(profile, Settings()) == "Oliver"
    assert profile_name(None, Settings()) is None  # erased: the reference shows nothing
    assert profile_name(profile, Settings(memory={"remember_names": False})) is None
    assert profile_name(profile, Settings(memory={"profiles": False})) is None
