"""The fixed replies in the customers' languages: the hand-off message, the no-answer hand-off
(`unanswerable`), the plain no-answer reply and the greeting by name, for the languages a
workspace does not answer (or answers, but whose fixed replies the rules would give in
English). `languages.replies` in rules.yaml overrides or adds entries.

Hand-off templates take {team}, {reference} and {when}, as rules.yaml's messages do; {when}
is written by the hand-off in English ("within 4 hours", "by Monday 10:00 Europe/London",
"when the team is back (Monday 08:00 Europe/London)"), so `localise_when` puts those three
forms into the template's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

ReplyKind = Literal["handoff", "unanswerable", "no_answer", "greeting"]
REPLY_KINDS: tuple[ReplyKind, ...] = ("handoff", "unanswerable", "no_answer", "greeting")

REPLIES: dict[str, dict[ReplyKind, str]] = {
    "es": {
        "handoff": "Paso su consulta a nuestro equipo {team} con un resumen de lo que nos ha "
        "contado, para que no tenga que repetirlo. Su referencia es {reference}. Un miembro "
        "del equipo le responderá aquí {when}.",
        "unanswerable": "Lo siento, no tengo esa información. Paso su pregunta a nuestro "
        "equipo {team} con un resumen de lo que nos ha contado. Su referencia es {reference}. "
        "Un miembro del equipo le responderá aquí {when}.",
        "no_answer": "No he encontrado una respuesta en nuestros artículos de ayuda. Puedo "
        "pasar su pregunta a una persona de nuestro equipo.",
        "greeting": "Hola, {name}.",
    },
    "de": {
        "handoff": "Ich gebe Ihr Anliegen mit einer Zusammenfassung an unser Team {team} "
        "weiter, damit Sie nichts wiederholen müssen. Ihre Referenz ist {reference}. Ein "
        "Mitglied des Teams antwortet Ihnen hier {when}.",
        "unanswerable": "Leider habe ich diese Information nicht. Ich gebe Ihre Frage an unser "
        "Team {team} weiter. Ihre Referenz ist {reference}. Ein Mitglied des Teams antwortet "
        "Ihnen hier {when}.",
        "no_answer": "Dazu habe ich in unseren Hilfeartikeln keine Antwort gefunden. Ich kann "
        "Ihre Frage an eine Person aus unserem Team weitergeben.",
        "greeting": "Hallo {name}!",
    },
    "fr": {
        "handoff": "Je transmets votre demande à notre équipe {team} avec un résumé de ce que "
        "vous m'avez dit, pour que vous n'ayez pas à vous répéter. Votre référence est "
        "{reference}. Un membre de l'équipe vous répondra ici {when}.",
        "unanswerable": "Désolé, je n'ai pas cette information. Je transmets votre question à "
        "notre équipe {team}. Votre référence est {reference}. Un membre de l'équipe vous "
        "répondra ici {when}.",
        "no_answer": "Je n'ai pas trouvé de réponse dans nos articles d'aide. Je peux "
        "transmettre votre question à une personne de notre équipe.",
        "greeting": "Bonjour {name} !",
    },
    "it": {
        "handoff": "Passo la sua richiesta al nostro team {team} con un riepilogo di quanto ci "
        "ha detto, così non dovrà ripeterlo. Il suo riferimento è {reference}. Un membro del "
        "team le risponderà qui {when}.",
        "unanswerable": "Mi dispiace, non ho questa informazione. Passo la sua domanda al "
        "nostro team {team}. Il suo riferimento è {reference}. Un membro del team le "
        "risponderà qui {when}.",
        "no_answer": "Non ho trovato una risposta nei nostri articoli di assistenza. Posso "
        "passare la sua domanda a una persona del nostro team.",
        "greeting": "Ciao {name}!",
    },
    "pt": {
        "handoff": "Vou passar o seu pedido à nossa equipa {team} com um resumo do que nos "
        "disse, para que não tenha de repetir. A sua referência é {reference}. Um membro da "
        "equipa responderá aqui {when}.",
        "unanswerable": "Lamento, não tenho essa informação. Vou passar a sua pergunta à nossa "
        "equipa {team}. A sua referência é {reference}. Um membro da equipa responderá aqui "
        "{when}.",
        "no_answer": "Não encontrei uma resposta nos nossos artigos de ajuda. Posso passar a "
        "sua pergunta a uma pessoa da nossa equipa.",
        "greeting": "Olá, {name}!",
    },
    "nl": {
        "handoff": "Ik geef uw vraag door aan ons team {team}, met een samenvatting van wat u "
        "ons vertelde, zodat u niets hoeft te herhalen. Uw referentie is {reference}. Een "
        "medewerker van het team antwoordt u hier {when}.",
        "unanswerable": "Sorry, die informatie heb ik niet. Ik geef uw vraag door aan ons team "
        "{team}. Uw referentie is {reference}. Een medewerker van het team antwoordt u hier "
        "{when}.",
        "no_answer": "Ik heb daarover geen antwoord gevonden in onze hulpartikelen. Ik kan uw "
        "vraag doorgeven aan iemand van ons team.",
        "greeting": "Hallo {name}!",
    },
}

# {when}'s words by language: within N hours/minutes; by <day> <time>; when the team is back.
_WHEN: dict[str, dict[str, str]] = {
    "es": {"within": "en {n}", "hour": "hora", "hours": "horas", "minutes": "minutos",
           "by": "antes del {day} a las {time} {tz}", "back": "cuando el equipo vuelva ({day} "
           "{time} {tz})", "and": "y"},
    "de": {"within": "innerhalb von {n}", "hour": "Stunde", "hours": "Stunden",
           "minutes": "Minuten", "by": "bis {day} {time} {tz}",
           "back": "sobald das Team wieder da ist ({day} {time} {tz})", "and": "und"},
    "fr": {"within": "dans les {n}", "hour": "heure", "hours": "heures", "minutes": "minutes",
           "by": "d'ici {day} {time} {tz}", "back": "au retour de l'équipe ({day} {time} {tz})",
           "and": "et"},
    "it": {"within": "entro {n}", "hour": "ora", "hours": "ore", "minutes": "minuti",
           "by": "entro {day} alle {time} {tz}",
           "back": "quando il team sarà di nuovo disponibile ({day} {time} {tz})", "and": "e"},
    "pt": {"within": "dentro de {n}", "hour": "hora", "hours": "horas", "minutes": "minutos",
           "by": "até {day} às {time} {tz}", "back": "quando a equipa voltar ({day} {time} {tz})",
           "and": "e"},
    "nl": {"within": "binnen {n}", "hour": "uur", "hours": "uur", "minutes": "minuten",
           "by": "uiterlijk {day} {time} {tz}",
           "back": "zodra het team terug is ({day} {time} {tz})", "and": "en"},
}  # fmt: skip
_DAYS: dict[str, tuple[str, ...]] = {
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "it": ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"),
    "pt": ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
           "sábado", "domingo"),
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
}  # fmt: skip
_ENGLISH_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WITHIN = re.compile(r"^within (?:(\d+) hours?)?\s*(?:(\d+) minutes)?$")
_BY = re.compile(r"^by (\w+) (\d\d:\d\d) (\S+)$")
_BACK = re.compile(r"^when the team is back \((\w+) (\d\d:\d\d) (\S+)\)$")


def reply_for(
    language: str | None,
    kind: ReplyKind,
    overrides: Mapping[str, Mapping[ReplyKind, str]] | None = None,
) -> str | None:
    """The template of `kind` in `language` (rules.yaml's override first), or None: English,
    unknown, or a language the table lacks (the English default is used)."""
    if not language:
        return None
    override = (overrides or {}).get(language, {}).get(kind)
    if override:
        return override
    return REPLIES.get(language, {}).get(kind)


def localise_when(when: str, language: str | None) -> str:
    """The hand-off's English reply time in `language`; unchanged when the table lacks it."""
    words = _WHEN.get(language or "")
    if words is None:
        return when
    if match := _WITHIN.match(when):
        hours, minutes = match.groups()
        parts = []
        if hours:
            parts.append(f"{hours} {words['hour'] if hours == '1' else words['hours']}")
        if minutes:
            parts.append(f"{minutes} {words['minutes']}")
        return words["within"].format(n=f" {words['and']} ".join(parts))
    for pattern, key in ((_BY, "by"), (_BACK, "back")):
        if match := pattern.match(when):
            day, time, tz = match.groups()
            if day in _ENGLISH_DAYS:
                day = _DAYS[language or ""][_ENGLISH_DAYS.index(day)]
            return words[key].format(day=day, time=time, tz=tz)
    return when
