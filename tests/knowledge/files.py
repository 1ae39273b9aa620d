"""Small real files of each supported format, made in the test run (no binary fixtures)."""

from __future__ import annotations

import io


def pdf_bytes(lines: list[str]) -> bytes:
    """A minimal one-page PDF with Helvetica text, with a correct cross-reference table."""
    text_ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({escaped}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def docx_bytes(title: str, sections: list[tuple[str, str]]) -> bytes:
    from docx import Document

    document = Document()
    document.add_heading(title, level=0)
    for heading, text in sections:
        document.add_heading(heading, level=1)
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = b"""<!doctype html><html><head><title>Customs fees</title>
<style>body{color:red}</style><script>alert(1)</script></head><body>
<h2>Who pays</h2><p>The <b>recipient</b> pays import VAT and a handling fee of 4.50 pounds.</p>
<h2>How to pay</h2><ul><li>Online with the link in the text message</li></ul></body></html>"""


def docx_with_body(
    body_xml: bytes, *, prolog: bytes = b"", extra: dict[str, bytes] | None = None
) -> bytes:
    """A real DOCX (python-docx's template) whose word/document.xml body is `body_xml`, with
    `prolog` (a DOCTYPE, say) after the XML declaration and `extra` parts added."""
    import zipfile

    template = zipfile.ZipFile(io.BytesIO(docx_bytes("Template", [])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        for info in template.infolist():
            data = template.read(info.filename)
            if info.filename == "word/document.xml":
                declaration, _, rest = data.partition(b"?>")
                head, _, tail = rest.partition(b"<w:body>")
                end = tail[tail.index(b"<w:sectPr") :]
                data = declaration + b"?>" + prolog + head + b"<w:body>" + body_xml + end
            package.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            package.writestr(name, data)
    return out.getvalue()


def paragraphs_docx(count: int) -> bytes:
    """`count` one-word paragraphs: 100,000 of them zip to about 45 KB."""
    return docx_with_body(b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * count)


def entity_bomb_docx() -> bytes:
    """Billion laughs in word/document.xml: ten levels of entities, ten references each."""
    entities = [b'<!ENTITY lol0 "lol">']
    for level in range(1, 10):
        refs = f"&lol{level - 1};".encode() * 10
        entities.append(b'<!ENTITY lol%d "%s">' % (level, refs))
    doctype = b"<!DOCTYPE w:document [" + b"".join(entities) + b"]>"
    body = b"<w:p><w:r><w:t>&lol9;</w:t></w:r></w:p>"
    return docx_with_body(body, prolog=doctype)
