"""Tiny hand-written PDFs for the extraction tests (pypdf cannot lay out text)."""

from __future__ import annotations

import io


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(
    pages: list[str],
    *,
    title: str | None = None,
    author: str | None = None,
    creation_date: str | None = None,
    subject: str | None = None,
    shared_content: bool = False,
) -> bytes:
    """A valid PDF 1.4 with one Helvetica text stream per page and a correct xref table.

    An empty string makes a page that only draws a line: no text layer, like a scan.
    Text must be Latin-1; each ``\\n`` starts a new line. With ``shared_content``,
    every page draws the content stream of the first page (a small file whose text
    is many times its size).
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below, once the pages object number is known
    pages_ref = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    kids: list[int] = []
    shared: int | None = None
    for text in pages:
        if text:
            lines = text.split("\n")
            ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
            for line in lines:
                ops.append(f"({_escape(line)}) Tj T*")
            ops.append("ET")
        else:
            ops = ["1 w", "72 72 m 500 700 l S"]
        stream = "\n".join(ops).encode("latin-1")
        if shared_content and shared is not None:
            content = shared
        else:
            content = add(
                b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
            )
            shared = content
        page = add(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
            % (pages_ref, font, content)
        )
        kids.append(page)
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R /Lang (en-GB) >>" % pages_ref
    objects[pages_ref - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    info_items = []
    for key, value in (
        ("Title", title), ("Author", author), ("CreationDate", creation_date), ("Subject", subject)
    ):
        if value is not None:
            info_items.append(f"/{key} ({_escape(value)})")
    info = add(("<< " + " ".join(info_items) + " >>").encode("latin-1")) if info_items else None

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objects) + 1))
    out.write(b"0000000000 65535 f \n")
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypt_pdf(data: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    """The same PDF encrypted with RC4-128 (needs no extra crypto package)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password,
                   algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
