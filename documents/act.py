"""The destruction act: «Акт о выделении к уничтожению документов, не подлежащих хранению».

Russian organisations destroy documents whose retention has ended only by an act that
the head of the organisation approves (Rosarchive rules for organisations, order of
31.07.2023 № 77). This module is the act as a document: what it says (`DestructionAct`),
its machine-readable form (act.json, read back by `catalog rebuild` to restore the
tombstones), its table as CSV (act.csv), and the printed act as PDF/A-3b with both files
inside it. Which bundles it lists, approving and applying it are pipeline/retention.py's.

The act is byte-reproducible: every date in it is the act's own date, never the clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from journal.russian import (
    count_in_figures_and_words,
    count_words,
    format_date,
    format_date_short,
    signature_name,
)

ACT_PDF_NAME = "act.pdf"
ACT_CSV_NAME = "act.csv"
ACT_JSON_NAME = "act.json"
ACT_FORMAT = "journal-archive destruction act 1"
"""act.json's `format`: what a reader of the file (or a rebuild) expects in it."""

ACT_TITLE = "Акт о выделении к уничтожению документов, не подлежащих хранению"
ACT_TEMPLATE = "act/act.html"

ACT_BASIS = (
    "Правила организации хранения, комплектования, учета и использования документов Архивного фонда "
    "Российской Федерации и других архивных документов в государственных органах, органах местного "
    "самоуправления и организациях (приказ Росархива от 31.07.2023 № 77)"
)
"""The rules the act follows; the retention rule of each listed file is its own line of the basis."""

CSV_COLUMNS = (
    ("number", "№ п/п"),
    ("title", "Заголовок дела"),
    ("dates", "Крайние даты"),
    ("index", "Индекс дела"),
    ("count", "Количество дел"),
    ("retention", "Срок хранения"),
    ("note", "Примечание"),
)


class ActError(ValueError):
    """An act file that cannot be read as an act; the message names the file."""


@dataclass(frozen=True, slots=True)
class ActEntry:
    """One file (дело) of the act: a bundle, in the act's columns, and its catalog record."""

    bundle_id: str
    version: int
    title: str  # «Классный журнал 5А класса, 2024/2025 учебный год»
    first_day: str  # YYYY-MM-DD, the first date of the documents (крайние даты)
    last_day: str
    retention: str  # «5 лет»
    retention_source: str  # where the rule comes from
    retain_until: str  # YYYY-MM-DD
    note: str = ""
    count: int = 1
    record: Mapping[str, object] = field(default_factory=dict)  # storage.catalog.BundleRecord fields

    @property
    def index(self) -> str:
        """The file's index: the bundle id (which names its version)."""
        return self.bundle_id

    @property
    def dates(self) -> str:
        """«02.09.2024–26.05.2025»."""
        first, last = dt.date.fromisoformat(self.first_day), dt.date.fromisoformat(self.last_day)
        if first == last:
            return format_date_short(first)
        return f"{format_date_short(first)}–{format_date_short(last)}"

    @property
    def retention_text(self) -> str:
        return f"{self.retention} ({self.retention_source})" if self.retention_source else self.retention


@dataclass(frozen=True, slots=True)
class DestructionAct:
    """What the act says. `as_of` is the day expiry was judged on: the act's date unless drafted ahead."""

    number: int
    date: str  # YYYY-MM-DD
    as_of: str
    school_name: str
    school: str  # the school's folder name in bundle keys
    director_post: str
    director_name: str
    entries: tuple[ActEntry, ...]

    @property
    def day(self) -> dt.date:
        return dt.date.fromisoformat(self.date)

    @property
    def as_of_day(self) -> dt.date:
        return dt.date.fromisoformat(self.as_of)

    @property
    def drafted_ahead(self) -> bool:
        """Drafted for a later day (`--as-of`): a draft to look at, not yet a statement of fact."""
        return self.as_of_day != self.day

    @property
    def heading(self) -> str:
        """«Акт № 1 от 2 января 2031 г.»"""
        return f"Акт № {self.number} от {format_date(self.day)}"

    @property
    def years(self) -> tuple[int, int] | None:
        """The first and last year of the listed documents."""
        if not self.entries:
            return None
        return (
            min(dt.date.fromisoformat(e.first_day).year for e in self.entries),
            max(dt.date.fromisoformat(e.last_day).year for e in self.entries),
        )

    @property
    def total_line(self) -> str:
        """«Итого 2 (два) дела за 2024–2025 годы.» — the count in figures and words, as the form asks."""
        count = sum(entry.count for entry in self.entries)
        words = count_in_figures_and_words(count, "дело", "дела", "дел", gender="n")
        years = self.years
        if years is None:
            return f"Итого {words}."
        first, last = years
        span = f"за {first} год" if first == last else f"за {first}–{last} годы"
        return f"Итого {words} {span}."

    @property
    def basis_lines(self) -> list[str]:
        """The basis: the rules for destroying, then each retention rule the listed files fall under."""
        rules = dict.fromkeys(
            f"{e.retention} — {e.retention_source}" for e in self.entries if e.retention_source
        )
        return [ACT_BASIS, *rules]


def retention_words(years: int | None) -> str:
    """«5 лет», «25 лет», «1 год»; «постоянно» for None."""
    return "постоянно" if years is None else count_words(years, "год", "года", "лет")


# --- act.json: what a rebuild reads back -------------------------------------------------


def act_json(act: DestructionAct) -> bytes:
    """The act as JSON (UTF-8, keys sorted): the same act gives the same bytes."""
    data = {"format": ACT_FORMAT, **asdict(act)}
    data["entries"] = [{**asdict(e), "record": dict(e.record)} for e in act.entries]
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


def read_act_json(data: bytes, where: str) -> DestructionAct:
    """The act in an act.json; ActError naming `where` if it is not one."""
    try:
        raw = json.loads(data.decode("utf-8"))
        if raw.get("format") != ACT_FORMAT:
            raise ValueError(f"не тот формат ({raw.get('format')!r}, нужен {ACT_FORMAT!r})")
        entries = tuple(ActEntry(**entry) for entry in raw["entries"])
        fields = {k: v for k, v in raw.items() if k not in ("format", "entries")}
        return DestructionAct(**fields, entries=entries)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ActError(f"{where}: файл акта не читается: {error}") from error


# --- act.csv -----------------------------------------------------------------------------


def act_rows(act: DestructionAct) -> list[dict[str, str]]:
    return [
        {
            "number": str(number),
            "title": entry.title,
            "dates": entry.dates,
            "index": entry.index,
            "count": str(entry.count),
            "retention": entry.retention_text,
            "note": entry.note,
        }
        for number, entry in enumerate(act.entries, start=1)
    ]


def act_csv(act: DestructionAct) -> bytes:
    """The act's table as CSV (UTF-8, RFC 4180, CRLF), with Russian column titles."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([title for _, title in CSV_COLUMNS])
    for row in act_rows(act):
        writer.writerow([row[name] for name, _ in CSV_COLUMNS])
    return buffer.getvalue().encode("utf-8")


def act_data_files(act: DestructionAct, act_json_bytes: bytes) -> dict[str, bytes]:
    """The act bundle's data files besides the PDF (the kinds registry's `data_files`)."""
    return {ACT_CSV_NAME: act_csv(act), ACT_JSON_NAME: act_json_bytes}


# --- the printed act ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderedAct:
    pages: int
    sheets: int


def act_html(act: DestructionAct) -> str:
    from documents.render import template_env

    return (
        template_env()
        .get_template(ACT_TEMPLATE)
        .render(
            act=act,
            title=ACT_TITLE,
            rows=act_rows(act),
            date_text=format_date(act.day),
            as_of_text=format_date(act.as_of_day),
            director_signature=signature_name(act.director_name) if act.director_name else "",
        )
    )


def render_act_pdf(
    act: DestructionAct, target: Path, *, attachments: Mapping[str, bytes], duplex: bool = False
) -> RenderedAct:
    """The printed act as PDF/A-3b at `target`, with `attachments` (act.csv, act.json) inside it."""
    from documents.layout import sheet_count
    from documents.pdfa import PdfMeta
    from documents.render import data_attachments, render_html_pdf

    created = dt.datetime.combine(act.day, dt.time(), tzinfo=dt.UTC)
    meta = PdfMeta(
        title=f"{ACT_TITLE}. {act.heading}", author=act.school_name, subject=act.total_line, created=created
    )
    files = data_attachments(attachments, _ATTACHMENT_DESCRIPTIONS, fallback="Данные акта", document="act")
    pages = render_html_pdf(act_html(act), target, meta, files)
    return RenderedAct(pages, sheet_count(pages, duplex))


_ATTACHMENT_DESCRIPTIONS = {
    ACT_CSV_NAME: "Таблица акта в CSV (UTF-8, RFC 4180)",
    ACT_JSON_NAME: "Акт в JSON: дела с их записями каталога (по нему восстанавливается каталог)",
}

ACT_FILE_DESCRIPTIONS = {
    ACT_PDF_NAME: f"{ACT_TITLE} для печати и подписи, PDF/A-3b; внутри вложены act.csv и act.json.",
    ACT_CSV_NAME: "Таблица акта в CSV (UTF-8, RFC 4180): № п/п, заголовок, крайние даты, индекс, "
    "количество, срок хранения, примечание.",
    ACT_JSON_NAME: "Акт в JSON: каждое дело с его записью каталога; по этому файлу `catalog rebuild` "
    "восстанавливает записи об уничтоженных пакетах.",
    "approval.json": "Утверждение акта: кто утвердил, когда, и SHA-256 каждого файла утверждённого акта.",
}


def approval_text(act: DestructionAct, approved_by: str, approved_on: dt.date) -> str:
    """The approval as one Russian line."""
    return f"{act.heading} утверждён {format_date(approved_on)}: {approved_by}."
