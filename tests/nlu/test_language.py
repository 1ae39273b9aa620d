"""The language of a message, offline; short or unclear messages have none."""

from __future__ import annotations

import pytest

from frontdesk.nlu.language import detect_language, supported_languages


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("My internet connection keeps dropping every evening, can you help?", "en"),
        ("Mi conexión a internet se cae todas las noches, ¿pueden ayudarme?", "es"),
        ("Meine Internetverbindung bricht jeden Abend ab, können Sie mir helfen?", "de"),
    ],
)
def test_a_sentence_in_each_language(text: str, code: str) -> None:
    assert detect_language(text) == code


@pytest.mark.parametrize("text", ["hola amigo", "internet down", "ok", "", "KP-12345678 ?!"])
def test_short_messages_have_no_language(text: str) -> None:
    assert detect_language(text) is None


def test_an_unsure_guess_is_unknown_unless_the_choice_is_narrowed() -> None:
    text = "Quiero cancelar mi contrato"  # four words: among 140 languages, unsure
    assert detect_language(text) is None
    assert detect_language(text, languages=["en", "es", "de"]) == "es"
    assert detect_language(text, min_confidence=0.0) == "es"


def test_the_codes_it_knows() -> None:
    assert {"en", "es", "de", "fr"} <= supported_languages()
