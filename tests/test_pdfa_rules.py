"""PDF/A rules pikepdf's validator leaves out (issue 14, R5): header, trailer /ID, interactive forms.

Each rule is broken in a copy of one of our own PDFs (the receipt, plain and PAdES-signed as the
year PDFs are) and must be named; our own PDFs, signed ones included, stay valid.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pikepdf
import pytest
from pikepdf.pdfa import validate_written

from documents._exec.tsa_server import TsaServer
from documents.pades import sign_pdf
from documents.receipt import render_receipt_pdf
from documents.seal import create_demo_signing_pair
from tests.bundles import write_sample_bag
from validators.bagit_rfc8493 import DirectorySource
from validators.bundle_checks import RULE_PDFA, check_bundle
from validators.pdfa_rules import check_pdf

SCHOOL = "МБОУ «Средняя общеобразовательная школа № 17»"


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, tsa: TsaServer) -> dict[str, bytes]:
    """One of our PDFs as written, and the same PAdES-signed (invisible field, B-LT, timestamped)."""
    folder = tmp_path_factory.mktemp("pdfa-rules")
    path = render_receipt_pdf(
        "Выдано: журнал 5А, 2024/2025.",
        folder / "receipt.pdf",
        school=SCHOOL,
        handed_out=dt.datetime(2025, 6, 1, 10, 0, tzinfo=dt.UTC),
    )
    plain = path.read_bytes()
    key, cert = create_demo_signing_pair(folder, SCHOOL, dt.date(2025, 6, 1))
    trust = [cert, tsa.cert_path]  # type: ignore[attr-defined]
    signed = sign_pdf(plain, key, cert, signer_name=SCHOOL, tsa_url=tsa.url, trust=trust)
    return {"plain": plain, "signed": signed}


def rules_of(data: bytes) -> set[str]:
    return {breach.rule for breach in check_pdf(io.BytesIO(data))}


def rewritten(data: bytes, change: object) -> bytes:
    """`data` opened, changed by `change(pdf)` and saved by qpdf (which keeps header and /ID)."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        change(pdf)  # type: ignore[operator]
        out = io.BytesIO()
        pdf.save(out)
    return out.getvalue()


def test_our_pdfs_break_none_of_the_rules(ours: dict[str, bytes]) -> None:
    for name, data in ours.items():
        assert check_pdf(io.BytesIO(data)) == [], name
    with pikepdf.open(io.BytesIO(ours["signed"])) as pdf:  # the case the form rules must let through
        assert "/AcroForm" in pdf.Root and pikepdf.Name.Sig == pdf.Root.AcroForm.Fields[0].FT


def test_the_header_needs_the_binary_comment(ours: dict[str, bytes]) -> None:
    """6.1.2-2: `%PDF-1.n`, EOL, then `%` and four bytes above 127."""
    data = ours["plain"]
    line_end = data.index(b"\n") + 1
    comment_end = data.index(b"\n", line_end) + 1
    assert data[line_end] == ord("%") and all(b > 127 for b in data[line_end + 1 : line_end + 5])
    comment = data[line_end:comment_end]
    plain_comment = b"%" + b"a" * (len(comment) - 2) + b"\n"  # same length: offsets stay right
    assert rules_of(data[:line_end] + plain_comment + data[comment_end:]) == {"ISO_19005_3:6.1.2-2"}
    three = b"%" + comment[1:4] + b"a" * (len(comment) - 5) + b"\n"  # only three bytes above 127
    assert rules_of(data[:line_end] + three + data[comment_end:]) == {"ISO_19005_3:6.1.2-2"}


def test_the_header_line_itself(ours: dict[str, bytes]) -> None:
    """6.1.2-1: at byte zero, version 1.0–1.7, a single EOL."""
    data = ours["plain"]
    assert rules_of(b" " + data) == {"ISO_19005_3:6.1.2-1"}  # not at byte zero (qpdf still reads it)
    line_end = data.index(b"\n")
    assert rules_of(data[:line_end] + b" \n" + data[line_end + 1 :]) == {"ISO_19005_3:6.1.2-1"}
    assert rules_of(data[:line_end] + b"\r\n" + data[line_end + 1 :]) == set()  # CRLF is one EOL


def test_the_trailer_needs_a_non_empty_id(ours: dict[str, bytes]) -> None:
    """6.1.3-1: the last trailer's /ID, missing or empty, in the plain and in the signed file."""
    for data in ours.values():  # the trailer dictionary, or the dictionary of the last xref stream
        at = data.rindex(b"/ID")
        closing = data.index(b"]", at) + 1
        assert b"<" in data[at:closing]  # two strings now
        removed = data[:at] + b" " * (closing - at) + data[closing:]
        emptied = data[:at] + b"/ID []".ljust(closing - at) + data[closing:]
        blank = data[:at] + b"/ID [<> <>]".ljust(closing - at) + data[closing:]  # pikepdf passes this one
        for broken in (removed, emptied, blank):
            assert rules_of(broken) == {"ISO_19005_3:6.1.3-1"}


def test_need_appearances_is_refused(ours: dict[str, bytes]) -> None:
    """6.4.1-3: an AcroForm with NeedAppearances true; false (or absent) is allowed."""

    def need(value: bool) -> object:
        def change(pdf: pikepdf.Pdf) -> None:
            pdf.Root.AcroForm.NeedAppearances = value

        return change

    assert rules_of(rewritten(ours["signed"], need(True))) == {"ISO_19005_3:6.4.1-3"}
    assert rules_of(rewritten(ours["signed"], need(False))) == set()


def test_a_visible_field_without_appearance_is_refused(ours: dict[str, bytes]) -> None:
    """6.3.3-1: a widget with an area needs /AP; the invisible signature field (empty /Rect) does not."""

    def drop_appearance(pdf: pikepdf.Pdf) -> None:
        field = pdf.Root.AcroForm.Fields[0]
        if "/AP" in field:
            del field["/AP"]

    assert rules_of(rewritten(ours["signed"], drop_appearance)) == set()  # still a zero-size field

    def visible_without_appearance(pdf: pikepdf.Pdf) -> None:
        drop_appearance(pdf)
        pdf.Root.AcroForm.Fields[0].Rect = [100, 100, 300, 150]

    assert rules_of(rewritten(ours["signed"], visible_without_appearance)) == {"ISO_19005_3:6.3.3-1"}

    def text_field(pdf: pikepdf.Pdf) -> None:  # a new text field on the first page, not drawn
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                FT=pikepdf.Name.Tx,
                T=pikepdf.String("Фамилия"),
                Rect=[50, 50, 250, 70],
                F=4,
                P=pdf.pages[0].obj,
            )
        )
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[field])
        pdf.pages[0].obj.Annots = pdf.make_indirect(pikepdf.Array([field]))

    breaches = check_pdf(io.BytesIO(rewritten(ours["plain"], text_field)))
    assert [b.rule for b in breaches] == ["ISO_19005_3:6.3.3-1"]
    assert "Фамилия" in breaches[0].message


def test_a_field_with_actions_is_refused(ours: dict[str, bytes]) -> None:
    """6.4.1-1: a widget annotation shall not carry /A or /AA."""

    def action(pdf: pikepdf.Pdf) -> None:
        pdf.Root.AcroForm.Fields[0].AA = pikepdf.Dictionary(
            K=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("1"))
        )

    assert rules_of(rewritten(ours["signed"], action)) == {"ISO_19005_3:6.4.1-1"}


def test_verify_names_each_breach_and_keeps_our_pdfs_valid(ours: dict[str, bytes], tmp_path: Path) -> None:
    """Through check_bundle (what `verify` runs): breaches pikepdf's validator passes (a missing
    binary comment, an /ID of empty strings, NeedAppearances — only "not checked" there) are
    PDF/A problems naming their rule; the signed original stays valid."""
    data = ours["signed"]
    line_end = data.index(b"\n") + 1
    comment_end = data.index(b"\n", line_end) + 1
    at = data.rindex(b"/ID")
    closing = data.index(b"]", at) + 1
    broken = {
        "ISO_19005_3:6.1.2-2": data[:line_end]
        + b"%"
        + b"a" * (comment_end - line_end - 2)
        + b"\n"
        + data[comment_end:],
        "ISO_19005_3:6.1.3-1": data[:at] + b"/ID [<> <>]".ljust(closing - at) + data[closing:],
        "ISO_19005_3:6.4.1-3": rewritten(
            data, lambda pdf: setattr(pdf.Root.AcroForm, "NeedAppearances", True)
        ),
    }
    good = write_sample_bag(tmp_path / "good", payload={"journal.pdf": data})
    report = check_bundle(DirectorySource(good))
    assert report.valid and report.problems == ()

    for number, (clause, pdf) in enumerate(broken.items()):
        assert validate_written(io.BytesIO(pdf), "3b").violations == ()  # what pikepdf misses
        bad = write_sample_bag(tmp_path / f"bad{number}", payload={"journal.pdf": pdf})
        report = check_bundle(DirectorySource(bad))
        assert not report.valid, clause
        [problem] = report.problems
        assert (problem.path, problem.rule) == ("data/journal.pdf", RULE_PDFA)
        assert problem.message.startswith("data/journal.pdf: не соответствует PDF/A-3b — 1 нарушение")
        assert clause in problem.message


def test_a_breach_pikepdf_also_names_is_listed_once(ours: dict[str, bytes], tmp_path: Path) -> None:
    data = ours["plain"]
    at = data.rindex(b"/ID")
    closing = data.index(b"]", at) + 1
    bag = write_sample_bag(
        tmp_path, payload={"journal.pdf": data[:at] + b" " * (closing - at) + data[closing:]}
    )
    [problem] = check_bundle(DirectorySource(bag)).problems
    assert problem.message.count("ISO_19005_3:6.1.3-1") == 1
