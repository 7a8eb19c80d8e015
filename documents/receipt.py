"""The receipt for a handed-out bundle as a PDF/A-3b page, for printing and signing.

The text is `pipeline.retrieval.receipt_text`, line for line (the PDF states nothing the
text receipt does not); it goes through the same Jinja2 → WeasyPrint → pikepdf
finishing as every printed document (documents.pdfa). The receipt records an act, so
its metadata carries the real time of the hand-out.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pikepdf
from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration

from documents.pdfa import PDF_VARIANT, PdfMeta, finish_pdfa
from documents.render import TEMPLATES_URL, TemplateFetcher, template_env

RECEIPT_TEMPLATE = "receipt/receipt.html"


def render_receipt_pdf(text: str, target: Path, *, school: str, handed_out: dt.datetime) -> Path:
    """Write the receipt `text` (its first line is the title) as PDF/A-3b to `target`."""
    title, _, body = text.partition("\n")
    meta = PdfMeta(
        title=title.strip(), author=school, subject="Квитанция о выдаче архивного пакета", created=handed_out
    )
    html = (
        template_env()
        .get_template(RECEIPT_TEMPLATE)
        .render(meta=meta, title=meta.title, body=body.strip("\n"))
    )
    with tempfile.TemporaryDirectory(prefix="receipt-") as tmp:
        part = Path(tmp) / "receipt.pdf"
        HTML(string=html, base_url=TEMPLATES_URL, url_fetcher=TemplateFetcher()).write_pdf(
            part, pdf_variant=PDF_VARIANT, font_config=FontConfiguration()
        )
        with pikepdf.open(part) as pdf:
            finish_pdfa(pdf, target, meta)
    return target
