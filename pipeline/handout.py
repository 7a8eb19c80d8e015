"""The web page's «Получить»: the `retrieve` path for one bundle, then the three things the secretary takes.

`hand_out` runs pipeline.retrieval's verify-then-hand-out (a damaged replica passed
over for a good one, a refusal naming every failed file) into a fresh folder, then
adds what the page offers: the bundle as one zip (with the school's certificate and
the receipt), its PDF alone for printing, and the Russian receipt as PDF/A.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from documents.kinds import kind_title
from documents.receipt import render_receipt_pdf
from pipeline.errors import RetrievalError
from pipeline.retrieval import retrieve_by_id
from pipeline.settings import Settings
from storage.bagformat import PAYLOAD_DIR
from storage.catalog import find_bundle
from storage.modes import PRIVATE_FILE_MODE

BUNDLE_ID = re.compile(r"^[0-9a-z][0-9a-z-]{0,100}$")
"""What a bundle id looks like (2024-2025-5a-year-v1): no slash, no dot, so never a path."""

PRINTED_PDFS = ("journal.pdf", "summary.pdf")


class BadBundleId(RetrievalError):
    """A requested id that cannot be a bundle id (e.g. `../`); nothing is looked up."""


def check_bundle_id(bundle_id: str) -> str:
    if not BUNDLE_ID.match(bundle_id):
        raise BadBundleId(
            f"«{bundle_id[:80]}» — не номер пакета: пакеты называются так: 2024-2025-5a-year-v1"
        )
    return bundle_id


@dataclass(frozen=True)
class Handout:
    bundle_id: str
    title: str  # «Классный журнал за год, 5А класс, 2024/2025»
    target: str
    passed_over: tuple[str, ...]
    folder: Path  # the verified bundle
    pdf: Path | None  # the document for printing
    receipt_text: Path
    receipt_pdf: Path
    zip: Path


WEB_DELIVERY = "через веб-страницу архива (для скачивания)"
"""The receipt's «Выдан» line for the web page: its files live in a server folder nobody is handed."""


def hand_out(settings: Settings, bundle_id: str, into: Path, now: dt.datetime | None = None) -> Handout:
    """Verify and copy one catalogued bundle into `into` (a fresh folder), with zip, PDF and receipt PDF."""
    check_bundle_id(bundle_id)
    retrieved = retrieve_by_id(settings, bundle_id, into, delivered_as=WEB_DELIVERY)
    db = settings.open_catalog()
    try:
        record = find_bundle(db, bundle_id)
    finally:
        db.close()
    assert record is not None  # retrieve_by_id found it
    title = f"{kind_title(record.kind).capitalize()}: {record.class_name} класс, {record.year} учебный год"
    if record.year not in record.span_name:  # a period bundle: name its period too
        title += f", {record.span_name}"
    receipt_pdf = render_receipt_pdf(
        retrieved.receipt.read_text(encoding="utf-8"),
        into / f"{bundle_id}.receipt.pdf",
        school=record.school_name,
        handed_out=now or dt.datetime.now().astimezone(),
    )
    pdf = next(
        (
            retrieved.folder / PAYLOAD_DIR / name
            for name in PRINTED_PDFS
            if (retrieved.folder / PAYLOAD_DIR / name).is_file()
        ),
        None,
    )
    archive = into / f"{bundle_id}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(into.rglob("*")):
            if path.is_file() and path != archive:
                zipped.write(path, path.relative_to(into).as_posix())
    for made in (receipt_pdf, archive):  # owner-only whatever the umask (A2), like what retrieve wrote
        made.chmod(PRIVATE_FILE_MODE)
    return Handout(
        bundle_id,
        title,
        retrieved.target,
        retrieved.passed_over,
        retrieved.folder,
        pdf,
        retrieved.receipt,
        receipt_pdf,
        archive,
    )
