"""The one PDF/A-3b finishing step every printed document goes through (R5, R7).

WeasyPrint writes PDF/A-3b (`pdf_variant='pdf/a-3b'`: embedded font subsets with
ToUnicode, one sRGB OutputIntent, XMP with pdfaid). What it leaves for us:

- empty `/Pattern` and `/Shading` resource dictionaries, which make pikepdf's PDF/A
  validator answer `not_checked` — they are deleted;
- font subset tags that come from the font's name, not its subset: when chunks rendered
  separately are merged, different subsets of one font share a name (ABCDEF+Font), which
  a viewer may take for one font — each subset is renamed after its own content;
- no place for the data behind the document: the files given as `attachments` are embedded
  as PDF/A-3 associated files (EmbeddedFiles name tree + the catalog's /AF array), each with
  its /AFRelationship, MIME /Subtype, a Russian /Desc and dates from the data, so the PDF
  alone carries its data (R5, R10). pikepdf's AttachedFileSpec is used, not WeasyPrint's
  attachments, which list every file twice in /AF;
- a random-looking document /ID and, if pikepdf touches the metadata, the current time
  and «pikepdf» as the editor — so the ID is derived from the content
  (`deterministic_id=True`) and the metadata is written with `set_pikepdf_as_editor=False`
  from dates found in the data, never from the clock.

The same bytes come out for the same input (DESIGN: checksums must mean something).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pikepdf import Array, Name

PDFA_PART = "3"
PDFA_CONFORMANCE = "B"
PDF_VARIANT = "pdf/a-3b"
"""What WeasyPrint is asked for, and what `finish_pdfa` keeps: PDF/A-3b (attachments allowed, R5)."""


@dataclass(frozen=True, slots=True)
class PdfMeta:
    """Document metadata, all of it from the data (dates included), none from the machine."""

    title: str
    author: str  # the school
    subject: str
    created: dt.datetime  # timezone-aware
    modified: dt.datetime | None = None

    @property
    def created_w3c(self) -> str:
        """For `<meta name="dcterms.created">`: «2024-10-27T00:00:00+03:00»."""
        return self.created.isoformat(timespec="seconds")

    @property
    def modified_w3c(self) -> str:
        return (self.modified or self.created).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file embedded in the PDF as a PDF/A-3 associated file.

    `relationship` is the PDF's /AFRelationship: «Source» for the file the document was made
    from (journal.xml — importing it rebuilds the journal), «Data» for data behind what is
    printed (the CSV tables and their descriptions).
    """

    name: str
    data: bytes
    mime_type: str  # text/csv, application/xml, application/json
    description: str  # Russian: what the file holds
    relationship: str = "Data"


AF_RELATIONSHIPS = frozenset({"Source", "Data", "Alternative", "Supplement", "Unspecified"})


def _pdf_date(when: dt.datetime) -> str:
    """«D:20241025000000+00'00» — a PDF date string from an aware datetime."""
    offset = when.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"D:{when:%Y%m%d%H%M%S}{sign}{hours:02d}'{mins:02d}"


def embed_files(pdf: pikepdf.Pdf, attachments: Sequence[Attachment], when: dt.datetime) -> int:
    """Embed `attachments` as associated files (name tree + catalog /AF), in name order; how many.

    A name given twice is an error, not a silent duplicate; the dates are `when` (from the data).
    """
    names = [a.name for a in attachments]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"attachment named twice: {', '.join(twice)}")
    date = _pdf_date(when)
    specs = []
    for attachment in sorted(attachments, key=lambda a: a.name):
        if attachment.relationship not in AF_RELATIONSHIPS:
            raise ValueError(f"{attachment.name}: unknown AFRelationship {attachment.relationship!r}")
        spec = pikepdf.AttachedFileSpec(
            pdf,
            attachment.data,
            description=attachment.description,
            filename=attachment.name,
            mime_type=attachment.mime_type,
            creation_date=date,
            mod_date=date,
            relationship=Name("/" + attachment.relationship),
        )
        pdf.attachments[attachment.name] = spec
        specs.append(pdf.attachments[attachment.name].obj)
    if specs:
        pdf.Root.AF = Array(specs)
    return len(specs)


def remove_empty_resources(pdf: pikepdf.Pdf) -> int:
    """Delete empty /Pattern and /Shading resource dictionaries everywhere; how many were removed."""
    removed = 0
    for obj in pdf.objects:
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if not isinstance(obj, pikepdf.Dictionary) or "/Resources" not in obj:
            continue
        resources = obj.Resources
        if not isinstance(resources, pikepdf.Dictionary):
            continue
        for key in ("/Pattern", "/Shading"):
            if (
                key in resources
                and isinstance(resources[key], pikepdf.Dictionary)
                and len(resources[key]) == 0
            ):
                del resources[key]
                removed += 1
    return removed


_SUBSET_TAG = re.compile(r"^/[A-Z]{6}\+")


def retag_font_subsets(pdf: pikepdf.Pdf) -> int:
    """Give every embedded font subset a tag derived from its bytes; how many fonts were renamed."""
    renamed = 0
    for font in pdf.objects:
        if not isinstance(font, pikepdf.Dictionary) or font.get("/Type") != "/Font":
            continue
        if font.get("/Subtype") != "/Type0" or "/DescendantFonts" not in font:
            continue
        descendant = font.DescendantFonts[0]
        descriptor = descendant.get("/FontDescriptor")
        if descriptor is None:
            continue
        file = next(
            (descriptor[k] for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor), None
        )
        if file is None:
            continue
        digest = hashlib.sha256(file.read_raw_bytes()).digest()
        tag = "".join(chr(65 + b % 26) for b in digest[:6])
        for holder, key in ((font, "/BaseFont"), (descendant, "/BaseFont"), (descriptor, "/FontName")):
            name = str(holder.get(key, ""))
            if _SUBSET_TAG.match(name):
                holder[key] = pikepdf.Name(f"/{tag}+{name[8:]}")
        renamed += 1
    return renamed


def finish_pdfa(
    pdf: pikepdf.Pdf, target: Path, meta: PdfMeta, attachments: Sequence[Attachment] = ()
) -> None:
    """Clean, embed `attachments`, stamp the metadata from `meta`, and save `pdf` as deterministic
    PDF/A-3b at `target`."""
    remove_empty_resources(pdf)
    retag_font_subsets(pdf)
    embed_files(pdf, attachments, meta.modified or meta.created)
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=True) as xmp:
        xmp["dc:title"] = meta.title
        xmp["dc:creator"] = [meta.author]
        xmp["dc:description"] = meta.subject
        xmp["xmp:CreateDate"] = meta.created_w3c
        xmp["xmp:ModifyDate"] = meta.modified_w3c
        xmp["xmp:MetadataDate"] = meta.modified_w3c
        xmp["pdfaid:part"] = PDFA_PART
        xmp["pdfaid:conformance"] = PDFA_CONFORMANCE
    # Written beside the target and renamed over it: a reader never sees half a file.
    partial = target.with_name(f".{target.name}.part")
    try:
        pdf.save(partial, deterministic_id=True)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
