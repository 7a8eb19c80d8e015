"""PDF/A rules pikepdf's validator leaves out, checked here (R5, issue 14).

`pikepdf.pdfa.validate_written` trusts the file syntax (it judges files qpdf has just
written) and reports an AcroForm only as "not checked". An auditor's bag holds files
written by anyone, so `verify` checks these rules of ISO 19005-2/3 itself:

* 6.1.2-1/-2 — the header: `%PDF-1.n` (n from 0 to 7) at byte zero, one EOL marker, then
  `%` and at least four bytes above 127 (which tells a transfer program the file is binary);
* 6.1.3-1 — the last trailer holds an /ID of two non-empty byte strings (pikepdf names a
  missing /ID or `/ID []`, but passes `/ID [<> <>]`; bundle_checks lists a breach once);
* 6.4.1-3 — the AcroForm's NeedAppearances is absent or false (the viewer must not draw fields);
* 6.3.3-1/-3/-4 — every widget (a form field on a page) has an appearance, except a widget
  whose /Rect has no area (an invisible signature field, as our PAdES signature has); the
  normal appearance is a stream, or a subdictionary for a button;
* 6.4.1-1/-2 — no widget or field carries actions (/A, /AA).

Each rule here only denies what the standard forbids: a file that conforms is never a
finding. The messages are Russian: they reach the staff in `verify`'s report.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pikepdf

from documents.pdfa import PDFA_PART

HEADER = re.compile(rb"%PDF-1\.[0-7](?:\r\n|\r|\n)%[\x80-\xff]{4}")
"""6.1.2: the header line, one EOL marker, and the binary comment."""
HEADER_LINE = re.compile(rb"%PDF-1\.[0-7](?:\r\n|\r|\n)")
HEAD_BYTES = 64
MAX_FIELDS = 100_000
"""Form fields and widgets looked at in one file; a file with more is not judged further."""


@dataclass(frozen=True, slots=True)
class Breach:
    """One broken rule: `rule` as pikepdf names them (ISO_19005_3:6.1.2-2), where, and what."""

    rule: str
    where: str
    message: str


def rule(clause: str) -> str:
    return f"ISO_19005_{PDFA_PART}:{clause}"


def check_pdf(document: Path | BinaryIO) -> list[Breach]:
    """The breaches of the rules above in one PDF (a path or a seekable binary stream)."""
    if isinstance(document, Path):
        with document.open("rb") as stream:
            return check_pdf(stream)
    document.seek(0)
    head = document.read(HEAD_BYTES)
    document.seek(0)
    breaches = check_header(head)
    with pikepdf.open(document) as pdf:  # type: ignore[arg-type]
        breaches += check_trailer_id(pdf)
        breaches += check_forms(pdf)
    document.seek(0)
    return breaches


def check_header(head: bytes) -> list[Breach]:
    """6.1.2: `%PDF-1.n`, one EOL, `%` and four bytes above 127, from byte zero."""
    if HEADER.match(head):
        return []
    if not HEADER_LINE.match(head):
        shown = head[:16].split(b"\n")[0].split(b"\r")[0].decode("latin-1")
        return [
            Breach(
                rule("6.1.2-1"),
                "header",
                f"заголовок файла «{shown}» — должен начинаться с «%PDF-1.n» (n от 0 до 7) "
                "с первого байта и заканчиваться одним концом строки",
            )
        ]
    return [
        Breach(
            rule("6.1.2-2"),
            "header",
            "после заголовка нет строки комментария «%» с четырьмя байтами больше 127 "
            "(признак двоичного файла)",
        )
    ]


def check_trailer_id(pdf: pikepdf.Pdf) -> list[Breach]:
    """6.1.3: the last trailer's /ID is an array of two non-empty byte strings."""
    identifier = pdf.trailer.get("/ID")
    if identifier is None:
        return [Breach(rule("6.1.3-1"), "trailer", "в трейлере нет идентификатора файла /ID")]
    if (
        not isinstance(identifier, pikepdf.Array)
        or len(identifier) != 2
        or not all(isinstance(part, pikepdf.String) and len(bytes(part)) > 0 for part in identifier)
    ):
        return [
            Breach(
                rule("6.1.3-1"),
                "trailer",
                "идентификатор файла /ID в трейлере пуст или не из двух непустых строк",
            )
        ]
    return []


def check_forms(pdf: pikepdf.Pdf) -> list[Breach]:
    """6.4.1 and 6.3.3 for the interactive form: NeedAppearances, appearances, actions."""
    breaches: list[Breach] = []
    form = pdf.Root.get("/AcroForm")
    if isinstance(form, pikepdf.Dictionary) and form.get("/NeedAppearances") is True:
        breaches.append(
            Breach(
                rule("6.4.1-3"),
                "/AcroForm",
                "у интерактивной формы NeedAppearances = true: вид полей рисует программа просмотра",
            )
        )
    for node, where in _form_nodes(pdf, form):
        if "/A" in node or "/AA" in node:
            is_widget = node.get("/Subtype") == pikepdf.Name.Widget
            breaches.append(
                Breach(
                    rule("6.4.1-1" if is_widget else "6.4.1-2"),
                    where,
                    f"поле формы «{_field_name(node)}» содержит действия (/A или /AA)",
                )
            )
        if node.get("/Subtype") != pikepdf.Name.Widget and "/Rect" not in node:
            continue  # a field, not an annotation on a page: nothing is drawn for it
        breach = _appearance_breach(node, where)
        if breach is not None:
            breaches.append(breach)
    return breaches


def _appearance_breach(widget: pikepdf.Dictionary, where: str) -> Breach | None:
    name = _field_name(widget)
    appearance = widget.get("/AP")
    if appearance is None:
        if not _has_area(widget.get("/Rect")):
            return None  # 6.3.3-1 exempts a zero-size widget: an invisible signature field
        return Breach(rule("6.3.3-1"), where, f"у поля формы «{name}» нет вида (/AP)")
    normal = appearance.get("/N") if isinstance(appearance, pikepdf.Dictionary) else None
    if _inherited(widget, "/FT") == pikepdf.Name.Btn:
        if isinstance(normal, pikepdf.Dictionary) and not isinstance(normal, pikepdf.Stream):
            return None
        return Breach(rule("6.3.3-3"), where, f"у кнопки «{name}» обычный вид (/AP /N) не словарь видов")
    if isinstance(normal, pikepdf.Stream):
        return None
    return Breach(rule("6.3.3-4"), where, f"у поля формы «{name}» обычный вид (/AP /N) не поток")


def _form_nodes(pdf: pikepdf.Pdf, form: object) -> Iterator[tuple[pikepdf.Dictionary, str]]:
    """Every field of the form's tree and every widget on a page, each once."""
    pending: list[object] = []
    if isinstance(form, pikepdf.Dictionary) and isinstance(form.get("/Fields"), pikepdf.Array):
        pending.extend(form.Fields)
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if isinstance(annots, pikepdf.Array):
            pending.extend(
                a
                for a in annots
                if isinstance(a, pikepdf.Dictionary) and a.get("/Subtype") == pikepdf.Name.Widget
            )
    seen: set[tuple[int, int]] = set()
    count = 0
    while pending and count < MAX_FIELDS:
        node = pending.pop()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        count += 1
        where = f"obj {node.objgen[0]} {node.objgen[1]}" if node.is_indirect else "direct"
        yield node, where
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            pending.extend(kids)


def _inherited(node: pikepdf.Dictionary, key: str) -> object:
    """A field attribute, looked up through /Parent (ISO 32000-1, 12.7.3.1)."""
    seen: set[tuple[int, int]] = set()
    current: object = node
    while isinstance(current, pikepdf.Dictionary):
        if key in current:
            return current.get(key)
        if current.is_indirect:
            if current.objgen in seen:
                return None
            seen.add(current.objgen)
        current = current.get("/Parent")
    return None


def _field_name(node: pikepdf.Dictionary) -> str:
    name = _inherited(node, "/T")
    return str(name) if isinstance(name, pikepdf.String) else "без имени"


def _has_area(rect: object) -> bool:
    """6.3.3-1's exemption is a /Rect whose corners coincide (width and height zero)."""
    if not isinstance(rect, pikepdf.Array) or len(rect) != 4:
        return True  # no usable /Rect: not the exempt case
    try:
        x1, y1, x2, y2 = (float(value) for value in rect)
    except (TypeError, ValueError):
        return True
    return not (x1 == x2 and y1 == y2)
