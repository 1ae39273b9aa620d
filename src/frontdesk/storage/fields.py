"""What a text column can keep, for the drivers that check input before it reaches storage.

PostgreSQL text holds any character except NUL (U+0000), and UTF-8 has no lone surrogates
(U+D800 to U+DFFF, which Python's decoders leave for undecodable bytes); SQLite is laxer, but
a value must be storable on both. A `String(n)` column holds n characters: its length is read
from the model here, so the checks cannot drift from the schema.

`StoredText`, `fits(column)`: Pydantic types for request fields (422 on bad input);
`scrub` and `fit`: for channel intake, where the sender cannot be told (e-mail headers).
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError
from sqlalchemy import String
from sqlalchemy.orm import InstrumentedAttribute

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
INVALID_CHARACTERS = "invalid_characters"  # the pydantic error type, and the API's error code


def column_length(column: InstrumentedAttribute[Any]) -> int:
    """The n of a `String(n)` column."""
    kind = column.property.columns[0].type
    if not isinstance(kind, String) or kind.length is None:
        raise TypeError(f"{column} is not a String(n) column")
    return kind.length


def unstorable(text: str) -> str | None:
    """What in `text` no database column can keep ("a NUL character (U+0000)"), or None."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "a NUL character" if char == "\x00" else "an unpaired surrogate"
    return f"{kind} (U+{ord(char):04X})"


def check_storable(value: str) -> str:
    what = unstorable(value)
    if what is not None:
        raise PydanticCustomError(
            INVALID_CHARACTERS, "contains {what}, which cannot be stored", {"what": what}
        )
    return value


StoredText = Annotated[str, AfterValidator(check_storable)]


def fits(column: InstrumentedAttribute[Any]) -> Any:
    """Pydantic metadata for a request field stored in `column`: at most its length
    (`Annotated[StoredText, fits(Conversation.customer_ref)]`)."""
    return Field(max_length=column_length(column))


def scrub(text: str) -> str:
    """`text` with NULs removed and unpaired surrogates replaced (U+FFFD)."""
    return UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)


def fit(text: str, column: InstrumentedAttribute[Any]) -> str:
    """`text` scrubbed and, when longer than the column, cut to fit with a hash of the whole
    appended, so two long values that share a beginning stay two values."""
    text = scrub(text)
    limit = column_length(column)
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: limit - len(digest) - 1]}~{digest}"
