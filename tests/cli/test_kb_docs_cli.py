"""`kb ingest` and `kb search` on a documentation folder (issue 18, points 4 and 5): pages
with publishing front matter, plain Markdown, an HTML book whose print page repeats its
chapters."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from frontdesk.cli.main import app

runner = CliRunner()

CHAPTER = """<!DOCTYPE html><html><head><title>{title} - Kestrel Handbook</title></head><body>
<nav class="sidebar"><a href="hub.html">Hub</a> <a href="pairing.html">Pairing</a></nav>
<main><h1 id="a"><a class="header" href="#a">{title}</a></h1>{body}</main>
<footer>Copyright Kestrel</footer></body></html>"""

HUB = (
    "<p>Place the hub near a window, away from microwaves and thick walls, so that the signal "
    "reaches every room of the house. The light turns solid green after about two minutes, "
    "and the app shows the hub's name once it has found the network you chose.</p>"
    "<h2>Resetting the hub</h2><p>Hold the pinhole button for ten seconds with a paper clip "
    "until the light blinks white, then wait for the quokka chime before pairing again. A "
    "reset keeps your wireless name and password but forgets every paired phone, so each "
    "member of the household pairs again afterwards.</p>"
)
PAIRING = (
    "<p>Open the Kestrel app, choose Add device and scan the code printed under the hub. The "
    "app finds the hub within a minute when the phone is on the same wireless network.</p>"
    "<h2>When pairing fails</h2><p>Turn Bluetooth on, move the phone closer to the hub and "
    "try again; after three failures restart the phone and the hub before a fourth try.</p>"
)

FRONT = """---
title: Billing cycles
description: When invoices are issued and paid.
weight: 4
tags: [billing]
---
Invoices are issued on the first working day of each month and paid by direct debit ten
days later, so a pelican subscription started mid-month is billed for the days used.
"""


def test_a_documentation_folder_is_indexed_with_its_print_page_skipped(
    workspace: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "handbook"
    docs.mkdir()
    (docs / "hub.html").write_text(CHAPTER.format(title="Installing the hub", body=HUB))
    (docs / "pairing.html").write_text(CHAPTER.format(title="Pairing the app", body=PAIRING))
    both = "<h1>Installing the hub</h1>" + HUB + "<h1>Pairing the app</h1>" + PAIRING
    (docs / "print.html").write_text(CHAPTER.format(title="Kestrel Handbook", body=both))
    (docs / "billing.md").write_text(FRONT)
    (docs / "assets").mkdir()  # a built site's files beside its pages: not documents
    (docs / "assets" / "style.css").write_text("body { color: red }")
    (docs / "assets" / "logo.png").write_bytes(b"\x89PNG")
    (docs / "_index.md").write_text("---\ntitle: Handbook\noutputs: [JSON]\n---\n")

    result = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    output = " ".join(result.output.split())
    assert result.exit_code == 0, result.output  # a duplicate is not a rejection
    skipped = output.split("skipped: ", 1)[1].split(")", 1)[0]
    assert re.match(rf"{re.escape(str(docs / 'print.html'))}: a near-duplicate \(9\d% of its "
                    "text is in ", skipped), skipped  # fmt: skip
    assert f"{docs / 'hub.html'}" in skipped
    assert f"{docs / 'pairing.html'}" in skipped
    assert (
        "not read: 3 files that are not documents (.css 1, .png 1, front matter only 1)" in output
    )
    assert (
        "3 files indexed (0 unchanged), 1 skipped as duplicates, 3 not documents, 0 rejected, "
        "0 quarantined"
    ) in output
    assert "rejected:" not in output

    lint = runner.invoke(app, ["kb", "lint", str(docs)])
    assert lint.exit_code == 0, lint.output  # nothing wrong: information only
    checked = " ".join(lint.output.split())
    assert f"{docs / 'print.html'}:1: info: a near-duplicate: kb ingest skips it" in checked
    assert "0 atoms checked: 0 errors, 0 warnings" in checked
    assert (
        "3 files would be indexed, 0 rejected, 3 not documents (not read), 1 near-duplicates "
        "skipped"
    ) in checked

    again = runner.invoke(app, ["kb", "ingest", str(docs), "-w", str(workspace)])
    assert again.exit_code == 0, again.output
    assert "3 files indexed (3 unchanged), 1 skipped as duplicates" in " ".join(
        again.output.split()
    )
    assert "0 added, 0 updated, 3 unchanged, 0 removed" in again.output

    found = runner.invoke(app, ["kb", "search", "quokka chime", "-w", str(workspace)])
    assert found.exit_code == 0, found.output
    lines = found.output.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    # score, source, title and section, then the passage's own text
    assert re.match(
        r"1\. \d\.\d{4}  handbook/hub\.html  Installing the hub \u203a Resetting the hub$",
        lines[first],
    ), lines[first]
    assert lines[first + 1].startswith("Hold the pinhole button for ten seconds")
    assert "\x1b[" not in found.output  # piped: plain text, no colour codes
    assert "print.html" not in found.output

    billing = runner.invoke(
        app, ["kb", "search", "pelican subscription", "-w", str(workspace), "--width", "60"]
    )
    assert "handbook/billing.md  Billing cycles" in billing.output
    shown = billing.output.split("handbook/billing.md", 1)[1].splitlines()[1]
    assert "pelican subscription" in shown
    assert len(shown) < 90  # about --width characters, around the match
    assert shown.startswith("\u2026")


def test_search_marks_the_query_words_on_a_terminal() -> None:
    from rich.console import Console

    from frontdesk.cli.kb_commands import _excerpt, _highlighted, _terms

    terms = _terms("How do refunds reach my card?")
    assert terms == ["refunds", "reach", "card"]  # "how", "do", "my" are not marked
    text = "Refunded amounts reach the card in 7 days; cardboard boxes are not refunded."
    terminal = Console(force_terminal=True, color_system="standard", width=200)
    with terminal.capture() as captured:
        terminal.print(_highlighted(text, terms))
    marked = re.findall(r"\x1b\[[0-9;]*m([^\x1b]+)\x1b\[0m", captured.get())
    assert marked == ["Refunded", "reach", "card", "cardboard", "refunded"]
    piped = Console(file=None, force_terminal=False, width=200)
    with piped.capture() as plain:
        piped.print(_highlighted(text, terms))
    assert plain.get() == text + "\n"
    assert _excerpt("a " * 50 + "refund here " + "b " * 50, terms, 30).startswith("\u2026")
