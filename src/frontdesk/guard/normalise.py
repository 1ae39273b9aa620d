"""One normalisation step before the injection screen: the text as a reader (or a model)
would understand it, with the usual disguises undone.

- HTML entities unescaped, tags and comment markers dropped (their words kept: hidden text
  is still read by a model);
- Unicode compatibility forms folded (NFKC: full-width letters, ligatures);
- invisible format characters removed (zero-width space/joiners, word joiner, BOM, soft
  hyphen);
- Cyrillic and Greek look-alikes inside a word that also has Latin letters ("Ign\u043er\u0435"
  with a Cyrillic o and e) read as the Latin letter;
- base64 runs that decode to text with words replaced by that text;
- letters written apart ("i g n o r e", "I-G-N-O-R-E", "i.g.n.o.r.e") joined, three or
  more;
- leetspeak digits inside words that are mostly letters ("1gn0r3") read as letters.

`normalise` returns the new text, or None when nothing changed (the screen then scores the
message once, as before).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata

__all__ = ["normalise"]

# Cyrillic and Greek letters that look like Latin ones (the common confusables).
_LOOK_ALIKES = str.maketrans(
    "\u0430\u0435\u043e\u0440\u0441\u0445\u0443\u0456\u0458\u0455\u04cf\u0501\u051b\u051d"
    "\u0410\u0412\u0415\u041a\u041c\u041d\u041e\u0420\u0421\u0422\u0425\u0423\u0406\u0408\u0405"
    "\u03bf\u03b9\u03bd\u03c5\u03ba\u03c1\u03b1\u03c4"
    "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7",
    "aeopcxyijsldqwABEKMHOPCTXYIJSoivukpatABEZHIKMNOPTYX",
)
_FOREIGN_LOOK_ALIKE = re.compile("[" + "".join(chr(c) for c in _LOOK_ALIKES) + "]")
_LATIN = re.compile(r"[A-Za-z]")
_OTHER_SCRIPT = re.compile(r"[^\W\d_A-Za-z]")  # a letter that is not Latin A-Z
_WORD = re.compile(r"\S+")
_TAG = re.compile(r"<!--|-->|<[/!]?[A-Za-z][^<>]{0,300}>")
_MD_COMMENT = re.compile(r"^\[//\]:\s*#\s*", re.M)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
# Three or more single letters or digits with the same separator: "a l l", "I-G-N-O-R-E".
_SPACED = re.compile(r"(?<![^\W_])(?:[^\W_]([ .\-_*])){2,}[^\W_](?![^\W_])")
_LEET = str.maketrans("4310579", "aeiostg")
_LEET_WORD = re.compile(r"[A-Za-z0-9']{2,}")
_LEET_DIGIT = re.compile(r"[4310579]")


def normalise(text: str) -> str | None:
    out = text
    if "&" in out:
        out = html.unescape(out)
    if "<" in out or "[//]" in out:
        out = _MD_COMMENT.sub("", _TAG.sub(" ", out))
    if not out.isascii():
        out = unicodedata.normalize("NFKC", out)
        out = "".join(c for c in out if unicodedata.category(c) != "Cf")
        if _FOREIGN_LOOK_ALIKE.search(out) and _LATIN.search(out):
            out = _WORD.sub(_latin_look_alikes, out)
    out = _BASE64.sub(_decoded, out)
    out = _SPACED.sub(_joined, out)
    out = _LEET_WORD.sub(_unleet, out)
    return None if out == text else out


def _latin_look_alikes(match: re.Match[str]) -> str:
    word = match.group(0)
    # A word that mixes scripts, or is made only of look-alikes (a Cyrillic "a" alone):
    # a Russian or Greek word with other letters of its own stays as it is.
    latin = word.translate(_LOOK_ALIKES)
    if latin != word and (_LATIN.search(word) or not _OTHER_SCRIPT.search(latin)):
        return latin
    return word


def _decoded(match: re.Match[str]) -> str:
    """The decoded text when the run is base64 of words (an id stays an id)."""
    run = match.group(0)
    try:
        raw = base64.b64decode(
            run.replace("-", "+").replace("_", "/") + "=" * (-len(run) % 4), validate=True
        )
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return run
    printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
    if printable < 0.95 * len(decoded) or decoded.count(" ") < 2:
        return run
    return " " + decoded + " "


def _joined(match: re.Match[str]) -> str:
    return match.group(0).replace(match.group(1), "")


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    letters = sum(c.isalpha() for c in word)
    # A word of letters with digits for some ("1gn0r3", "5y573m"); ids are mostly digits.
    if not letters or letters * 3 < len(word) - word.count("'") or not _LEET_DIGIT.search(word):
        return word
    return word.translate(_LEET)
