"""Chunking: split a document's body at its headings, then by a word budget with overlap.

Markdown is read the way a renderer reads it: a `#` line inside a ``` or ~~~ code fence is
code, not a heading, and a fence is never cut in two (one longer than the budget is split at
line ends, each piece fenced again). Headings lose their link, image and HTML syntax
(`## [Install](install.md)` is "Install"). Sections of a plain document shorter than
`merge_words` join their neighbours under the same parent heading, within the budget, so
that an imported documentation page does not become a row of one-line chunks; an atom's
sections stay as their author wrote them (merge_words=0).

HTML comments are not shown to a reader, so their text leaves the passage here: it can be
neither quoted nor read by a model. Each chunk keeps the comments taken out of it as `hidden`,
for the knowledge screen (a comment that carries instructions is still a finding). A comment
inside a code fence or inline code is code the reader sees and stays.

Each FAQ pair becomes its own chunk so a question can match its answer directly.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from frontdesk.knowledge.atoms import Atom, FaqPair

_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
# Any indentation: a fence inside a list item is indented with the item's text (rclone's
# numbered configuration steps), and one under an indented block is code either way.
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
# A section written for staff: "## Escalation (staff only)", "## Internal notes",
# "## Staff: ...", or `<!-- audience: staff -->` on its first line. Such a section is indexed
# (routing and agents use it) as kind "staff", which no customer reply quotes.
_STAFF_HEADING = re.compile(
    r"\((staff|internal|agents?)( only)?\)\s*$"
    r"|^(staff|internal|agents?)( only)?\b( notes?)?\s*[:\u2014-]"
    r"|^(internal|staff|agent) notes?$|^notes? for (staff|agents)",
    re.IGNORECASE,
)
_STAFF_MARK = re.compile(r"^<!--\s*audience:\s*(staff|internal)\s*-->$", re.IGNORECASE)

# Sections of a plain document under this many words join their neighbours.
MERGE_WORDS = 40


@dataclass(frozen=True)
class ChunkDraft:
    kind: str  # section | faq | staff (never quoted to customers)
    heading: str
    text: str
    hidden: tuple[str, ...] = ()  # the comments taken out of `text` (what is inside <!-- -->)
    path: tuple[str, ...] = ()  # the headings above `heading`, outermost first


# A comment taken out of the text stands as this mark (its index) until the text is cut into
# chunks, so that each chunk knows the comments that were in it. Private-use characters: no
# document's text has a meaning for them.
_MARK = re.compile("\ue000(\\d+)\ue001")
_MARK_CHARS = re.compile("[\ue000\ue001]")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")


def _mark_comments(text: str) -> tuple[str, list[str]]:
    """`text` with each HTML comment outside code fences and inline code replaced by a mark,
    and the comments' inner text; a comment never closed runs to the end, as in a browser.
    The lines inside a comment go, so that a comment does not cut a paragraph in two."""
    text = _MARK_CHARS.sub("", text)
    comments: list[str] = []
    out: list[str] = []
    fence: tuple[str, int] | None = None
    open_comment: list[str] | None = None
    for line in text.split("\n"):
        if open_comment is None:
            fence, fenced = fence_step(line, fence)
            if fenced:
                out.append(line)
                continue
        was_open = open_comment is not None
        kept, open_comment = _strip_line(line, open_comment, comments)
        touched = was_open or open_comment is not None or bool(_MARK.search(kept))
        if not touched or _MARK.sub("", kept).strip():
            out.append(kept)
        elif _MARK.search(kept):
            out.append(kept.strip())  # the marks alone, no text: they stay with the paragraph
    if open_comment is not None:
        out.append(f"\ue000{len(comments)}\ue001")
        comments.append("\n".join(open_comment))
    return "\n".join(out), comments


def fence_step(line: str, fence: tuple[str, int] | None) -> tuple[tuple[str, int] | None, bool]:
    """The fence open after `line` (its character and length), and whether `line` belongs to
    a fence (its opening or closing line included)."""
    match = _FENCE.match(line)
    if fence is None:
        if match and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            return (match.group(1)[0], len(match.group(1))), True
        return None, False
    closes = (
        match is not None
        and match.group(1)[0] == fence[0]
        and len(match.group(1)) >= fence[1]
        and not match.group(2).strip()
    )
    return (None if closes else fence), True


def _strip_line(
    line: str, open_comment: list[str] | None, comments: list[str]
) -> tuple[str, list[str] | None]:
    kept: list[str] = []
    at = 0
    while at <= len(line):
        if open_comment is not None:
            end = line.find("-->", at)
            if end < 0:
                open_comment.append(line[at:])
                return "".join(kept), open_comment
            open_comment.append(line[at:end])
            kept.append(f"\ue000{len(comments)}\ue001")
            comments.append("\n".join(open_comment))
            open_comment, at = None, end + 3
            continue
        start = line.find("<!--", at)
        tick = line.find("`", at)
        if 0 <= tick < (start if start >= 0 else len(line)):
            span = _CODE_SPAN.match(line, tick)
            run = re.match(r"`+", line[tick:])
            stop = span.end() if span else tick + (len(run.group(0)) if run else 1)
            kept.append(line[at:stop])
            at = stop
            continue
        if start < 0:
            kept.append(line[at:])
            break
        kept.append(line[at:start])
        open_comment, at = [], start + 4
    return "".join(kept), open_comment


def strip_comments(text: str) -> tuple[str, list[str]]:
    """`text` without its HTML comments (outside code), and the comments' inner text."""
    marked, comments = _mark_comments(text)
    visible, _ = _unmark(marked, comments)
    return visible, comments


def _unmark(text: str, comments: list[str]) -> tuple[str, tuple[str, ...]]:
    """A piece of marked text without its marks, and the comments they stood for."""
    found = tuple(comments[int(m.group(1))] for m in _MARK.finditer(text))
    if not found:
        return text, ()
    lines = [_MARK.sub("", line) for line in text.split("\n")]
    marked = [bool(_MARK.search(line)) for line in text.split("\n")]
    kept = [line for line, had in zip(lines, marked, strict=True) if line.strip() or not had]
    return "\n".join(kept).strip(), found


def _words(text: str) -> int:
    return len(_MARK.sub(" ", text).split())


def clean_heading(text: str) -> str:
    """A heading as a reader sees it: no closing #s, {#anchor}, images, link or HTML syntax,
    emphasis marks or entities."""
    text = re.sub(r"[ \t]+#+$", "", _MARK.sub("", text).strip())
    text = re.sub(r"\s*\{[#.][^}]*\}$", "", text)  # {#install} (Pandoc, Hugo, MkDocs)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]", "", text)  # images
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](url "title")
    text = re.sub(r"\[([^\]]*)\]\[[^\]]*\]", r"\1", text)  # [text][ref]
    text = re.sub(r"<[^>\n]*>", "", text)  # <a id="x"></a>, <code>, <img ...>
    text = re.sub(r"(\*\*|__|`)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = html.unescape(text).replace("\\", "")
    return " ".join(text.split())


@dataclass
class _Line:
    text: str
    fenced: bool  # inside a code fence (or its opening or closing line)


def _lines(body: str) -> list[_Line]:
    """The body's lines, each marked when it belongs to a code fence."""
    out: list[_Line] = []
    fence: tuple[str, int] | None = None
    for line in body.splitlines():
        fence, fenced = fence_step(line, fence)
        out.append(_Line(line, fenced))
    return out


def headings(body: str) -> list[tuple[int, str, int]]:
    """The body's headings, (level, text, line index), code fences left out; ATX (`## x`)
    and setext (a line underlined with === or ---)."""
    lines = _lines(body)
    found = []
    for i, line in enumerate(lines):
        if line.fenced:
            continue
        match = _HEADING.match(line.text)
        if match:
            found.append((len(match.group(1)), clean_heading(match.group(2) or ""), i))
            continue
        if i + 1 < len(lines) and not lines[i + 1].fenced and line.text.strip():
            underline = _SETEXT.match(lines[i + 1].text)
            previous = lines[i - 1].text.strip() if i else ""
            if underline and not previous and not _is_block_start(line.text):
                level = 1 if underline.group(1)[0] == "=" else 2
                found.append((level, clean_heading(line.text), i))
    return found


def _is_block_start(text: str) -> bool:
    """A line a setext underline cannot turn into a heading (a list item, a quote, a table
    row, an HTML tag, a rule)."""
    return bool(re.match(r"^ {0,3}([-*+]\s|\d+[.)]\s|>|\||<|(?:[-*_]\s*){3,}$)", text))


def document_title(body: str) -> str | None:
    """The first level-1 heading, else the first heading of any level (outside fences)."""
    found = [h for h in headings(body) if h[1]]
    top = [h for h in found if h[0] == 1]
    return (top or found)[0][1] if found else None


@dataclass
class _Section:
    level: int  # 0: the text before any heading
    heading: str
    parents: tuple[str, ...]  # the headings above it, outermost first
    lines: list[str] = field(default_factory=list)
    kind: str = "section"

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()

    @property
    def words(self) -> int:
        return _words(self.text)


def chunk_atom(atom: Atom, *, max_words: int = 350, overlap_words: int = 40) -> list[ChunkDraft]:
    return chunk_document(
        atom.meta.title,
        atom.body,
        atom.faqs,
        max_words=max_words,
        overlap_words=overlap_words,
        merge_words=0,
    )


def chunk_document(
    title: str,
    body: str,
    faqs: Sequence[FaqPair] = (),
    *,
    max_words: int = 350,
    overlap_words: int = 40,
    merge_words: int = MERGE_WORDS,
) -> list[ChunkDraft]:
    chunks: list[ChunkDraft] = []
    marked, comments = _mark_comments(body)
    pending: tuple[str, ...] = ()  # comments of a piece that had no text: they go with the next
    for kind, heading, path, text in _merged(_sections(marked, title, comments), max_words,
                                             merge_words):  # fmt: skip
        for piece in _split_blocks(text, max_words, overlap_words):
            visible, hidden = _unmark(piece, comments)
            if visible.strip():
                chunks.append(ChunkDraft(kind, heading, visible, pending + hidden, path))
                pending = ()
            else:
                pending += hidden
    for faq in faqs:
        answer, in_faq = strip_comments(f"Q: {faq.question}\nA: {faq.answer}")
        chunks.append(ChunkDraft("faq", faq.question, answer, pending + tuple(in_faq)))
        pending = ()
    if pending and chunks:  # comments after the last words of the document
        last = chunks[-1]
        chunks[-1] = dataclasses.replace(last, hidden=last.hidden + pending)
    return chunks


def _sections(body: str, default_heading: str, comments: Sequence[str] = ()) -> list[_Section]:
    lines = _lines(body)
    marks = {i: (level, text) for level, text, i in headings(body)}
    underlines = {i + 1 for i, (level, _) in marks.items() if not _HEADING.match(lines[i].text)}
    sections = [_Section(0, default_heading, ())]
    stack: list[tuple[int, str]] = []  # the open headings, (level, text)
    for i, line in enumerate(lines):
        if i in underlines:
            continue
        if i not in marks:
            sections[-1].lines.append(line.text)
            continue
        level, text = marks[i]
        text = text or default_heading
        while stack and stack[-1][0] >= level:
            stack.pop()
        first = sections[-1]
        if level == 1 and len(sections) == 1 and not first.text:
            sections[0] = _Section(1, text, ())  # the document's own H1 names the first section
        else:
            sections.append(_Section(level, text, tuple(t for _, t in stack)))
        stack.append((level, text))
        in_heading = "".join(m.group(0) for m in _MARK.finditer(line.text))
        if in_heading:  # a comment in the heading line goes with its section
            sections[-1].lines.append(in_heading)
    for section in sections:
        first_line = section.text.splitlines()[0].strip() if section.text else ""
        # `<!-- audience: staff -->` stands as a mark by now: read the comment it stands for.
        first_line = _MARK.sub(lambda m: f"<!--{comments[int(m.group(1))]}-->", first_line)
        if _STAFF_HEADING.search(section.heading) or _STAFF_MARK.match(first_line):
            section.kind = "staff"
            if _STAFF_MARK.match(first_line):
                rest = section.text.split("\n", 1)
                section.lines = rest[1:] if len(rest) > 1 else []
    # An empty section (a heading right above its subheadings) stays until merging, which
    # keeps its heading with the subsections that join it; the empty text before the first
    # heading goes now.
    return [s for s in sections if s.text or s.level]


def _merged(
    sections: list[_Section], max_words: int, merge_words: int
) -> list[tuple[str, str, tuple[str, ...], str]]:
    """(kind, heading, the headings above it, text) of each run of sections that are read
    together: a section under `merge_words` words joins the one before it when both share
    that one's parent heading, are of the same kind and fit in `max_words` together; a joined
    section keeps its heading as a line of the text."""
    groups: list[list[_Section]] = []
    for section in sections:
        if groups and merge_words and _joins(groups[-1], section, max_words, merge_words):
            groups[-1].append(section)
        else:
            groups.append([section])
    # A small group left over after a large one joins it when it may.
    for i in range(len(groups) - 1, 0, -1):
        small = sum(s.words for s in groups[i]) < merge_words
        if small and all(_joins(groups[i - 1], s, max_words, merge_words) for s in groups[i]):
            groups[i - 1].extend(groups.pop(i))
    merged = []
    for group in groups:
        head = group[0]
        parts = [head.text]
        for section in group[1:]:
            heading = f"{'#' * max(section.level, 1)} {section.heading}"
            parts.append(f"{heading}\n\n{section.text}" if section.text else heading)
        text = "\n\n".join(part for part in parts if part).strip()
        if any(section.text for section in group):
            merged.append((head.kind, head.heading, head.parents, text))
    return merged


def _joins(group: list[_Section], section: _Section, max_words: int, merge_words: int) -> bool:
    head = group[0]
    size = sum(s.words for s in group)
    return (
        section.kind == head.kind
        and section.parents[: len(head.parents)] == head.parents
        and (size < merge_words or section.words < merge_words)
        and size + section.words + 2 <= max_words
    )


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Paragraphs (split at blank lines) and whole code fences, (text, is_fence)."""
    blocks: list[tuple[str, bool]] = []
    current: list[str] = []
    in_fence = False

    def close() -> None:
        if current:
            blocks.append(("\n".join(current).strip("\n"), in_fence))
            current.clear()

    for line in _lines(text):
        if line.fenced and not in_fence:
            close()
            in_fence = True
        elif not line.fenced and in_fence:
            close()
            in_fence = False
        if not line.fenced and not line.text.strip():
            close()
            continue
        current.append(line.text)
    close()
    return [(b, fence) for b, fence in blocks if b.strip()]


def _split_blocks(text: str, max_words: int, overlap: int) -> list[str]:
    """The text in pieces of at most about `max_words` words, cut between paragraphs and
    fences; a paragraph over the budget is cut by words (with `overlap` words repeated), a
    fence over it at line ends (each piece a fence of its own)."""
    if len(text.split()) <= max_words:
        return [text]
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for block, fence in _blocks(text):
        words = len(block.split())
        if words > max_words:
            if current:
                pieces.append("\n\n".join(current))
                current, size = [], 0
            pieces.extend(_split_fence(block, max_words) if fence
                          else _split_words(block, max_words, overlap))  # fmt: skip
            continue
        if current and size + words > max_words:
            pieces.append("\n\n".join(current))
            last = current[-1]
            keep = 0 < len(last.split()) <= overlap and not last.lstrip().startswith(("```", "~~~"))
            current, size = ([last], len(last.split())) if keep else ([], 0)
        current.append(block)
        size += words
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def _split_fence(block: str, max_words: int) -> list[str]:
    lines = block.splitlines()
    opening = lines[0]
    closing = lines[-1] if len(lines) > 1 and _FENCE.match(lines[-1]) else None
    inner = lines[1:-1] if closing is not None else lines[1:]
    marker = closing or re.sub(r"^([ \t]*(`{3,}|~{3,})).*$", r"\1", opening)
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in inner:
        words = len(line.split())
        if current and size + words > max_words:
            pieces.append("\n".join([opening, *current, marker]))
            current, size = [], 0
        current.append(line)
        size += words
    if current:
        pieces.append("\n".join([opening, *current, marker]))
    return pieces


def _split_words(text: str, max_words: int, overlap: int) -> list[str]:
    words = text.split()
    if len(words) <= max_words:
        return [text]
    step = max(1, max_words - overlap)
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words) - overlap, step)]
