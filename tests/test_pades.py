"""The school's PAdES signature on the summary PDF: an incremental update after the reproducible
PDF/A-3b bytes, timestamped by the TSA, judged intact and timestamped by pyHanko (R3, R5, R7)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pikepdf.pdfa import validate_written

from documents._exec.tsa_server import TsaServer
from documents.pades import check_pdf_signature, sign_pdf
from documents.seal import create_demo_signing_pair
from documents.summary import render_summary_pdf, summary_csv_files
from journal.demo import generate_demo_school
from journal.source import create_schema, extract_class_journal, open_source, write_school_year

SCHOOL = "МБОУ «Средняя общеобразовательная школа № 17»"


@pytest.fixture(scope="module")
def summary_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("pades")
    engine = open_source(f"sqlite:///{folder / 'journal.sqlite'}", create=True)
    try:
        create_schema(engine)
        write_school_year(engine, generate_demo_school(size="class").data)
        journal = extract_class_journal(engine, "2024/2025", "5А", None)
    finally:
        engine.dispose()
    render_summary_pdf(journal, folder / "summary.pdf", attachments=summary_csv_files(journal))
    return (folder / "summary.pdf").read_bytes()


@pytest.fixture(scope="module")
def signing_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return create_demo_signing_pair(tmp_path_factory.mktemp("keys"), SCHOOL, dt.date(2025, 6, 1))


def test_the_signed_summary_keeps_its_bytes_stays_pdfa_and_is_intact_and_timestamped(
    summary_pdf: bytes, signing_pair: tuple[Path, Path], tsa: TsaServer, tmp_path: Path
) -> None:
    trust = [signing_pair[1], tsa.cert_path]  # type: ignore[attr-defined]
    signed = sign_pdf(summary_pdf, *signing_pair, signer_name=SCHOOL, tsa_url=tsa.url, trust=trust)
    assert signed[: len(summary_pdf)] == summary_pdf  # an incremental update: the rendering untouched
    assert b"/DSS" in signed[len(summary_pdf) :]  # B-LT: validation data in the document security store
    path = tmp_path / "summary.pdf"
    path.write_bytes(signed)
    report = validate_written(path, "3b")
    assert report.violations == ()
    check = check_pdf_signature(signed, trust)
    assert check is not None and check.intact and check.valid and check.timestamped, check
    assert SCHOOL in check.signer
    assert check_pdf_signature(summary_pdf, trust) is None

    tampered = bytearray(signed)
    where = summary_pdf.index(b"stream", len(summary_pdf) // 2) + 40  # inside a rendered, signed stream
    tampered[where] ^= 0x01
    broken = check_pdf_signature(bytes(tampered), trust)
    assert broken is not None and not broken.intact and not broken.valid


def test_signing_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    """A web server's thread or a task runner may run an asyncio loop; pyHanko's sync API must not care."""
    import asyncio

    from documents.pades import _outside_event_loop

    async def inside() -> int:
        return _outside_event_loop(lambda: asyncio.run(asyncio.sleep(0, result=7)))

    assert asyncio.run(inside()) == 7


def test_a_signature_container_bigger_than_the_reserve_is_measured_and_still_signed(
    summary_pdf: bytes, signing_pair: tuple[Path, Path], tsa: TsaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual reserve saves pyHanko's dry run; a container that outgrows it (a TSA with a long chain)
    must fall back to measuring, never fail the bundle."""
    import documents.pades

    trust = [signing_pair[1], tsa.cert_path]  # type: ignore[attr-defined]
    monkeypatch.setattr(documents.pades, "SIGNATURE_RESERVE", 64)  # far too small for any container
    signed = sign_pdf(summary_pdf, *signing_pair, signer_name=SCHOOL, tsa_url=tsa.url, trust=trust)
    check = check_pdf_signature(signed, trust)
    assert check is not None and check.intact and check.valid and check.timestamped, check


def test_an_unreadable_signing_key_is_named(
    summary_pdf: bytes, signing_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    from documents.pades import PadesError

    broken = tmp_path / "seal-key.pem"
    broken.write_text("не ключ")
    with pytest.raises(PadesError, match=r"seal-key\.pem: ключ для подписи PDF не загружается"):
        sign_pdf(summary_pdf, broken, signing_pair[1], signer_name=SCHOOL)
