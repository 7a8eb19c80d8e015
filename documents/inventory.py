"""The yearly inventory (опись): every bundle of an academic year and the state of each copy (R7, R8).

A secretary or an inspector asks what the archive holds for a year: which files (дела)
— kind, class, period, version —, how long each is kept and until when, and where each
copy is and when it was last found intact. This module is the inventory as a document:
what it says (`Inventory`), its table as CSV (one row per copy) and the printed inventory
as PDF/A-3b with the CSV inside it. What goes into it is pipeline/inventory.py's.

The inventory is byte-reproducible: the same catalog state and the same day give the same
bytes. The day is the day it was made (the act of making it), never a data date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from journal.russian import count_in_figures_and_words, format_date, format_date_short

INVENTORY_TITLE = "Опись электронных архивных пакетов"
INVENTORY_TEMPLATE = "inventory/inventory.html"
PERMANENT_UNTIL = "9999-12-31"
"""The Retain-Until of a kind kept permanently (storage.retention.PERMANENTLY)."""

CSV_COLUMNS = (
    "№ п/п",
    "Заголовок дела",
    "Вид",
    "Класс",
    "Период",
    "Версия",
    "Пакет",
    "Создан",
    "Срок хранения",
    "Хранить до",
    "Хранилище",
    "Состояние копии",
    "Последняя проверка (UTC)",
    "Примечание",
)


@dataclass(frozen=True, slots=True)
class CopyState:
    """One copy (replica) of a bundle: the target, its state in staff's words, when it was last checked."""

    target: str
    state: str  # «проверена», «повреждена»…
    checked_at: str  # UTC, "YYYY-MM-DD HH:MM", or "" if never checked
    verified: bool

    @property
    def line(self) -> str:
        when = f", {self.checked_at}" if self.checked_at else ""
        return f"{self.target}: {self.state}{when}"


@dataclass(frozen=True, slots=True)
class InventoryEntry:
    """One file (дело) of the inventory: a bundle in staff's words, with its copies."""

    bundle_id: str
    title: str  # «Классный журнал 5А класса, I четверть 2024/2025»
    kind: str  # «журнал за период»
    class_name: str
    period: str
    version: int
    created: str  # YYYY-MM-DD
    retention: str  # «5 лет», «постоянно»
    retain_until: str  # YYYY-MM-DD
    copies: tuple[CopyState, ...]
    note: str = ""  # «заменён версией …», «уничтожен по акту № 1 от …»

    @property
    def retain_until_text(self) -> str:
        if self.retain_until == PERMANENT_UNTIL:
            return "постоянно"
        return format_date_short(dt.date.fromisoformat(self.retain_until))

    @property
    def created_text(self) -> str:
        return format_date_short(dt.date.fromisoformat(self.created[:10]))


@dataclass(frozen=True, slots=True)
class Inventory:
    """What the inventory says: the school, the academic year, the day it was made, its files."""

    school_name: str
    year: str  # «2024/2025»
    made_on: str  # YYYY-MM-DD: the day the inventory was made
    entries: tuple[InventoryEntry, ...]

    @property
    def day(self) -> dt.date:
        return dt.date.fromisoformat(self.made_on)

    @property
    def latest_record(self) -> str:
        """The latest day the catalog records anything of these files (created, checked); "" if none."""
        days = [e.created[:10] for e in self.entries]
        days += [c.checked_at[:10] for e in self.entries for c in e.copies if c.checked_at]
        return max(days, default="")

    @property
    def heading(self) -> str:
        """«Опись электронных архивных пакетов за 2024/2025 учебный год»."""
        return f"{INVENTORY_TITLE} за {self.year} учебный год"

    @property
    def total_line(self) -> str:
        """«Итого 3 (три) дела; копий 6 (шесть), из них проверены 5 (пять).» — counts in figures and words."""
        files = count_in_figures_and_words(len(self.entries), "дело", "дела", "дел", gender="n")
        copies = [copy for entry in self.entries for copy in entry.copies]
        verified = sum(copy.verified for copy in copies)
        if not copies:
            return f"Итого {files}; копий нет."
        copies_text = count_in_figures_and_words(len(copies), "копия", "копии", "копий", gender="f")
        verified_text = count_in_figures_and_words(verified, "копия", "копии", "копий", gender="f")
        return f"Итого {files}; {copies_text}, из них проверенных — {verified_text}."


# --- the CSV ----------------------------------------------------------------------------------


def inventory_rows(inventory: Inventory) -> list[list[str]]:
    """One row per copy (a bundle without any copy left gets one row with empty copy columns)."""
    rows = []
    for number, entry in enumerate(inventory.entries, start=1):
        head = [
            str(number),
            entry.title,
            entry.kind,
            entry.class_name,
            entry.period,
            str(entry.version),
            entry.bundle_id,
            entry.created_text,
            entry.retention,
            entry.retain_until_text,
        ]
        for copy in entry.copies or (CopyState("", "", "", False),):
            rows.append([*head, copy.target, copy.state, copy.checked_at, entry.note])
    return rows


def inventory_csv(inventory: Inventory) -> bytes:
    """The inventory's table as CSV (UTF-8, RFC 4180, CRLF), Russian column titles, one row per copy."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(inventory_rows(inventory))
    return buffer.getvalue().encode("utf-8")


# --- the printed inventory ---------------------------------------------------------------------


def inventory_html(inventory: Inventory) -> str:
    from documents.render import template_env

    return (
        template_env()
        .get_template(INVENTORY_TEMPLATE)
        .render(inventory=inventory, title=INVENTORY_TITLE, date_text=format_date(inventory.day))
    )


def render_inventory_pdf(inventory: Inventory, target: Path, *, csv_name: str, csv_data: bytes) -> int:
    """The printed inventory as PDF/A-3b at `target`, its CSV inside it; returns the page count."""
    from documents.pdfa import PdfMeta
    from documents.render import data_attachments, render_html_pdf

    created = dt.datetime.combine(inventory.day, dt.time(), tzinfo=dt.UTC)
    meta = PdfMeta(
        title=inventory.heading, author=inventory.school_name, subject=inventory.total_line, created=created
    )
    files = data_attachments(
        {csv_name: csv_data},
        {csv_name: "Опись в CSV (UTF-8, RFC 4180): строка на каждую копию пакета"},
        fallback="Данные описи",
        document="inventory",
    )
    return render_html_pdf(inventory_html(inventory), target, meta, files)
