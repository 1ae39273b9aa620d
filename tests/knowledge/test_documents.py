"""Any documentation folder: publishing front matter, plain Markdown, code fences, link
headings, HTML pages with their chrome, short sections (issue 18, point 4)."""

from __future__ import annotations

import pytest

from frontdesk.knowledge.chunking import chunk_document, clean_heading, document_title
from frontdesk.knowledge.ingest import IngestError, parse_source

HUGO = b"""---
title: "Reset your router"
linkTitle: Router
description: How to restart the Kestrel Hub when the lights blink orange.
date: 2023-04-02T10:00:00+01:00
weight: 20
draft: false
aliases: [/router/reset, /hub-reset]
tags: ["hub", "wifi"]
type: docs
author: Support team
---

Hold the reset button for ten seconds until the light blinks white.
"""

JEKYLL = b"""---
layout: post
title: Billing cycles
permalink: /billing/cycles/
categories: [billing]
tags: billing invoices
---
# Billing cycles explained

Invoices are issued on the first working day of each month.
"""

DOCUSAURUS = b"""---
sidebar_position: 3
slug: /install
sidebar_label: Install
keywords: [setup]
---

# Installing the app

Download the installer and run it.
"""

MKDOCS = b"""---
description: Pairing a device
hide:
  - navigation
  - toc
---

Pair the device from the settings page.
"""

OBSIDIAN = b"""---
aliases:
  - Moving house
  - Change of address
created: 2024-01-09
tags: [account]
---
# Updating your address

Change it under Account, Addresses.
"""

HUGO_TOML = b"""+++
title = "Opening hours"
weight = 5
[params]
  icon = "clock"
+++

The depot opens at eight and closes at six.
"""


@pytest.mark.parametrize(
    ("name", "data", "title", "tags"),
    [
        ("hugo.md", HUGO, "Reset your router", ["hub", "wifi"]),
        ("jekyll.md", JEKYLL, "Billing cycles", ["billing invoices"]),
        ("docusaurus.md", DOCUSAURUS, "Install", []),
        ("pairing.md", MKDOCS, "Pairing", []),
        ("obsidian.md", OBSIDIAN, "Updating your address", ["account"]),
        ("hours.md", HUGO_TOML, "Opening hours", []),
    ],
)
def test_publishing_front_matter_is_a_document_not_a_rejected_atom(
    name: str, data: bytes, title: str, tags: list[str]
) -> None:
    parsed = parse_source(name, data)
    assert parsed.atom is None
    assert parsed.doc_type == "document"
    assert parsed.title == title
    assert parsed.tags == tags
    assert "---" not in parsed.body
    assert "+++" not in parsed.body
    assert chunk_document(parsed.title, parsed.body, merge_words=parsed.merge_words)


def test_known_keys_are_mapped_and_the_rest_kept() -> None:
    parsed = parse_source("hugo.md", HUGO)
    assert parsed.meta["aliases"] == ["/router/reset", "/hub-reset"]
    assert parsed.meta["description"].startswith("How to restart the Kestrel Hub")
    assert parsed.meta["date"] == "2023-04-02T10:00:00+01:00"
    extra = parsed.meta["front_matter"]
    assert (extra["weight"], extra["draft"], extra["type"]) == (20, False, "docs")
    assert not {"title", "tags"} & set(extra)
    # The description is the page's lead: searchable with the body.
    assert parsed.body.startswith("How to restart the Kestrel Hub")
    toml = parse_source("hours.md", HUGO_TOML)
    assert toml.meta["front_matter"] == {"weight": 5, "params": {"icon": "clock"}}
    obsidian = parse_source("obsidian.md", OBSIDIAN)
    assert obsidian.meta["aliases"] == ["Moving house", "Change of address"]
    assert obsidian.meta["date"] == "2024-01-09"


@pytest.mark.parametrize(
    ("front", "line", "reason"),
    [
        # an atom's type, but fields missing: still an atom, reported as one
        ("title: Refunds\ntype: faq\n", 1, "missing author, created, version"),
        # an atom's keys with a type outside the vocabulary
        ("title: R\nauthor: A\ntype: recipe\ncreated: 2024-01-02\nversion: 1\n", 4, "type:"),
        # an atom's keys without a type
        ("title: R\nauthor: A\ncreated: 2024-01-02\nversion: 1\n", 1, "missing type"),
    ],
)
def test_an_atom_with_a_mistake_is_still_rejected_as_an_atom(
    front: str, line: int, reason: str
) -> None:
    with pytest.raises(IngestError) as caught:
        parse_source("atom.md", f"---\n{front}---\nBody text.\n".encode())
    assert caught.value.code == "invalid_metadata"
    assert caught.value.line == line
    assert reason in caught.value.reason


def test_broken_front_matter_is_still_an_error() -> None:
    with pytest.raises(IngestError) as caught:
        parse_source("x.md", b'+++\ntitle = "x\n+++\nbody\n')
    assert caught.value.code == "invalid_front_matter"
    assert "TOML" in caught.value.reason


FENCED = """Intro to the tool.

```bash
# install it
pip install kestrel
## not a heading either
```

~~~python
# a comment
print("hi")
~~~

# Configuration

Set the `KESTREL_HOME` variable.
"""


def test_hash_lines_in_code_fences_are_not_headings() -> None:
    parsed = parse_source("setup.md", FENCED.encode())
    assert parsed.title == "Configuration"  # the first real heading, not "install it"
    chunks = chunk_document("Setup", FENCED, merge_words=0)
    assert [c.heading for c in chunks] == ["Setup", "Configuration"]
    assert "# install it\npip install kestrel\n## not a heading either\n```" in chunks[0].text
    assert document_title("```\n# code\n```\nno heading here") is None


def test_a_title_from_the_file_name_when_there_is_no_heading() -> None:
    assert parse_source("docs/02.01_getting-started.md", b"Just text.").title == ("Getting started")


def test_a_fence_is_never_cut_in_two() -> None:
    code = "\n".join(f"step_{i} = run({i})  # step {i}" for i in range(120))
    body = f"# Script\n\n{'Some words here. ' * 30}\n\n```python\n{code}\n```\n\nAfter it."
    chunks = chunk_document("Script", body, max_words=350, overlap_words=40)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.count("```") % 2 == 0, chunk.text  # every fence opened is closed
    # A fence over the budget is cut at line ends, each piece fenced again.
    huge = "\n".join(f"line_{i} = {i}" for i in range(400))
    pieces = chunk_document("Big", f"```\n{huge}\n```", max_words=100)
    assert len(pieces) > 3
    assert all(p.text.startswith("```\n") and p.text.endswith("\n```") for p in pieces)
    assert "line_0 = 0" in pieces[0].text
    assert "line_399 = 399" in pieces[-1].text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("[Install](install.md)", "Install"),
        ("Install [the CLI](cli.md) first", "Install the CLI first"),
        ("![logo](logo.png) Overview", "Overview"),
        ('<a id="setup"></a>Setup', "Setup"),
        ("Configure {#configure}", "Configure"),
        ("The `kestrel` **command** ##", "The kestrel command"),
        ("[Options][opts]", "Options"),
        ("Q&amp;A", "Q&A"),
    ],
)
def test_link_image_and_html_syntax_is_stripped_from_headings(raw: str, clean: str) -> None:
    assert clean_heading(raw) == clean
    chunks = chunk_document("Doc", f"Intro.\n\n## {raw}\n\nText under it.", merge_words=0)
    assert chunks[-1].heading == clean


def test_setext_headings_are_headings() -> None:
    body = "Returns\n=======\n\nWithin 30 days.\n\nLabels\n------\n\nPrint one."
    assert document_title(body) == "Returns"
    assert [c.heading for c in chunk_document("x", body, merge_words=0)] == ["Returns", "Labels"]


SHORT_SECTIONS = """# Errors

Find your message below.

## Connection

### Timeout

Retry after a minute.

### Refused

Check the firewall.

## Storage

### Disk full

Free some space.

### Read only

Remount the disk.

# Appendix

{long}
"""


def test_short_sections_join_their_neighbours_under_the_same_parent() -> None:
    body = SHORT_SECTIONS.format(long="Long words here. " * 120)  # over the budget with them
    chunks = chunk_document("Errors", body)
    headings = [c.heading for c in chunks]
    assert list(dict.fromkeys(headings)) == ["Errors", "Appendix"]  # no one-line chunks
    assert "## Connection\n\n### Timeout\n\nRetry after a minute." in chunks[0].text
    assert "Remount the disk." in chunks[0].text
    # Atoms keep the sections their author wrote (empty ones left out).
    kept = chunk_document("Errors", body, merge_words=0)
    assert [c.heading for c in kept][:5] == ["Errors", "Timeout", "Refused", "Disk full",
                                             "Read only"]  # fmt: skip
    # Only within the budget: with a small one, the groups stay under their parents.
    small = chunk_document("Errors", body, max_words=20)
    assert all(len(c.text.split()) <= 24 for c in small if c.heading != "Appendix")
    assert not any("Retry" in c.text and "Free some space" in c.text for c in small)


MDBOOK_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="UTF-8">
<title>Installing the hub - The Kestrel Handbook</title></head><body>
<div id="mdbook-help-container"><div id="mdbook-help-popup">
<h2 class="mdbook-help-title">Keyboard shortcuts</h2>
<p>Press <kbd>←</kbd> or <kbd>→</kbd> to navigate between chapters</p>
<p>Press <kbd>S</kbd> or <kbd>/</kbd> to search in the book</p>
<p>Press <kbd>?</kbd> to show this help</p><p>Press <kbd>Esc</kbd> to hide this help</p>
</div></div>
<nav id="sidebar" class="sidebar" aria-label="Table of contents"><ol class="chapter">
<li><a href="intro.html">1. Introduction</a></li>
<li><a href="install.html">2. Installing the hub</a></li>
<li><a href="wifi.html">3. Wi-Fi settings</a></li>
<li><a href="billing.html">4. Billing</a></li></ol></nav>
<div id="menu-bar" class="menu-bar"><h1 class="menu-title">The Kestrel Handbook</h1>
<a href="print.html" title="Print this book">Print</a></div>
<main>
<h1 id="installing-the-hub"><a class="header" href="#installing-the-hub">Installing the hub</a></h1>
<p>Place the Kestrel Hub near a window, away from microwaves and thick walls, so that the
signal reaches every room of the house without dropping.</p>
<h2 id="power"><a class="header" href="#power">Power it on</a></h2>
<p>Plug the adapter into the socket marked DC and wait until the light turns solid green,
which takes about two minutes on the first start.</p>
<pre><code class="language-bash"># check the hub answers
ping 192.168.8.1
</code></pre>
<h2 id="pair"><a class="header" href="#pair">Pair the app</a></h2>
<p>Open the Kestrel app, choose Add device and scan the code printed under the hub.</p>
</main>
<nav class="nav-wrapper" aria-label="Page navigation">
<a rel="prev" href="intro.html" class="mobile-nav-chapters previous">Previous chapter</a>
<a rel="next" href="wifi.html" class="mobile-nav-chapters next">Next chapter</a></nav>
<footer><p>Copyright 2026 Kestrel Ltd. All rights reserved. Privacy policy.</p></footer>
</body></html>
"""


def test_html_keeps_the_main_content_and_its_headings_only() -> None:
    parsed = parse_source("book/install.html", MDBOOK_PAGE.encode())
    assert parsed.title == "Installing the hub"  # not the menu's "The Kestrel Handbook"
    body = parsed.body
    chrome = ("Keyboard shortcuts", "navigate between chapters", "Wi-Fi settings",
              "Previous chapter", "Copyright", "Print this book", "Kestrel Handbook")  # fmt: skip
    assert [words for words in chrome if words in body] == []
    assert "# check the hub answers\nping 192.168.8.1" in body  # the code, whole
    chunks = chunk_document(parsed.title, parsed.body, merge_words=0)
    assert [c.heading for c in chunks] == ["Installing the hub", "Power it on", "Pair the app"]
    assert "[" not in "".join(c.heading for c in chunks)


def test_html_without_a_main_part_is_read_without_its_chrome() -> None:
    page = (
        "<html><head><title>Depot</title></head><body>"
        "<header><a href='/'>Home</a> <a href='/shop'>Shop</a></header>"
        "<div class='sidebar'><a href='a'>A</a><a href='b'>B</a></div>"
        "<p>Open at eight.</p><footer>Copyright Kestrel</footer></body></html>"
    )
    parsed = parse_source("depot.html", page.encode())
    assert parsed.title == "Depot"
    assert "Open at eight." in parsed.body
    assert "Copyright" not in parsed.body
    assert "Shop" not in parsed.body


def test_near_duplicates_are_pages_held_whole_by_others() -> None:
    from frontdesk.knowledge.ingest import find_duplicates

    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()

    def text(seed: int, n: int = 60) -> str:
        return " ".join(f"{words[(seed * 7 + i * 5) % 12]}{(seed * 31 + i) % 97}" for i in range(n))

    one, two, three = text(1), text(2), text(3)
    found = find_duplicates(
        {
            "book/ch1.html": one,
            "book/ch2.html": two,
            "book/print.html": f"{one}\n{two}",  # every chapter, whole
            "copy/ch1.html": one,  # a copy: the first by name stays
            "cli/copy.md": f"{three} {text(4, 30)}",  # a template's boilerplate and its own
            "cli/move.md": f"{three} {text(5, 30)}",
        }
    )
    assert {(d.source, tuple(d.of)) for d in found} == {
        ("book/print.html", ("book/ch1.html", "book/ch2.html")),
        ("copy/ch1.html", ("book/ch1.html",)),
    }
    assert all(d.share >= 0.9 for d in found)
