from __future__ import annotations

from pathlib import Path

from frontdesk.knowledge.lint import lint_folder
from tests.knowledge.test_atoms import ATOM


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_clean_folder_has_no_findings(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", ATOM.replace("related: [Requesting a refund]", "related: []"))
    assert lint_folder(tmp_path) == []


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    good = _write(tmp_path, "a.md", ATOM)  # related title does not exist
    _write(tmp_path, "b.md", ATOM.replace("version: 2", "version: 3"))  # duplicate title
    _write(tmp_path, "c.md", ATOM.replace("type: faq", "type: recipe"))
    _write(tmp_path, "d.md", "no front matter at all")
    long_body = " ".join(["word"] * 900)
    _write(
        tmp_path,
        "e.md",
        ATOM.replace("title: Refund timelines", "title: Long one")
        .replace("Card refunds take", long_body + " Card refunds take")
        .replace("A: Five to seven working days.", ""),
    )
    found = {
        (f.path.name, f.line, f.severity, f.message.split(" (")[0]) for f in lint_folder(tmp_path)
    }
    assert ("a.md", 8, "error", "related title 'Requesting a refund' names no atom") in found
    assert ("b.md", 2, "error", "duplicate title 'Refund timelines'") in found
    assert (
        "c.md",
        4,
        "error",
        "type: Input should be 'error', 'procedure', 'playbook', "
        "'interface_input', 'troubleshooting_tip', 'config_template', 'pitfall' or 'faq'",
    ) in found
    # Markdown without front matter is indexed as a document: information, not an error.
    assert ("d.md", 1, "info", "a plain Markdown document") in found
    messages = {(f.path.name, f.severity, f.message[:25]) for f in lint_folder(tmp_path)}
    assert ("e.md", "warning", "body is about 1229 tokens") in messages
    assert ("e.md", "error", "Q: without an A: after it") in messages
    assert good.exists()


def test_files_that_ingest_would_reject_are_errors_once_each(tmp_path: Path) -> None:
    _write(tmp_path, "a.md", ATOM.replace("related: [Requesting a refund]", "related: []"))
    _write(tmp_path, "notes.txt", "Plain text is indexed as a document.")
    _write(tmp_path, "empty.txt", "")
    _write(tmp_path, "open.md", "---\ntitle: x\n")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.bin").write_bytes(b"\x00")
    found = lint_folder(tmp_path)
    notes = [f for f in found if f.severity == "info"]
    assert [(f.path.name, f.rejected) for f in notes] == [("notes.txt", False),
                                                          ("photo.png", True)]  # fmt: skip
    assert notes[0].message.startswith("a txt document, titled 'Notes'")
    assert notes[1].message.startswith("not read: .png is not a document type (.docx, .htm")
    found = [f for f in found if f.severity != "info"]
    assert {(f.path.name, f.line, f.rejected) for f in found} == {
        ("empty.txt", 1, True),
        ("open.md", 1, True),
    }


def test_a_document_with_publishing_front_matter_is_information(tmp_path: Path) -> None:
    _write(tmp_path, "hub.md", "---\ntitle: Hub\ntags: [wifi]\nweight: 3\n---\nText.\n")
    [note] = lint_folder(tmp_path)
    assert (note.severity, note.line, note.rejected) == ("info", 1, False)
    assert note.message.startswith(
        "a document with publishing front matter (title, tags read; 1 other key(s) kept as "
        "metadata), titled 'Hub': indexed by its headings. An atom's front matter would add a "
        "type"
    )
