"""One message's intent, entities and sentiment, with the intent computed beside the rest.

The intent needs the sentence encoder (most of a message's understanding time); onnxruntime
releases the GIL while it runs, so the intent goes to a worker thread first and entities and
sentiment are found meanwhile on the calling thread. The event loop is also not held while
the encoder runs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from frontdesk.interfaces import EntityExtractor, IntentClassifier
from frontdesk.nlu.sentiment import LexiconSentiment
from frontdesk.types import Entity, IntentPrediction, Sentiment


@dataclass(frozen=True)
class MessageUnderstanding:
    intent: IntentPrediction
    entities: list[Entity]
    sentiment: Sentiment


async def understand_message(
    text: str,
    *,
    now: datetime,
    classifier: IntentClassifier,
    extractor: EntityExtractor,
    sentiment: LexiconSentiment,
) -> MessageUnderstanding:
    # run_in_executor submits at once (asyncio.to_thread would start only at the next await).
    intent = asyncio.get_running_loop().run_in_executor(None, classifier.predict, text)
    try:
        entities = extractor.extract(text, now=now)
        feeling = sentiment.analyse(text)
    except BaseException:
        await asyncio.wait([intent])  # never leave the worker's result unread
        raise
    return MessageUnderstanding(intent=await intent, entities=entities, sentiment=feeling)
