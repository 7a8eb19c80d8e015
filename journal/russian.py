"""Russian typesetting in one place: plural forms, dates, numbers in words.

Everything school staff read (printed journals, receipts, validation reports)
goes through these helpers, so that «3 ошибки», «5 сентября 2024 г.» and
«сорок два листа» are spelled the same way in every document. Plural forms
come from CLDR (Babel), numbers in words from num2words; nothing here depends
on the machine's locale.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.dates import format_date as _babel_format_date
from num2words import num2words

_RU = Locale("ru")


def plural(n: int | Decimal, one: str, few: str, many: str) -> str:
    """The word form that agrees with `n`: plural(1, "лист", "листа", "листов") → «лист».

    CLDR's categories for Russian are one (1, 21, 101…), few (2–4, 22–24…),
    many (0, 5–20, 25…, 111…) and other, which only fractions get. A fraction
    takes the genitive singular («1,5 листа», «2,5 ошибки»), which for nouns
    is the `few` form, so `other` maps to `few`.
    """
    form = _RU.plural_form(n)
    if form == "one":
        return one
    if form == "many":
        return many
    return few


def count_words(n: int, one: str, few: str, many: str) -> str:
    """A number with its agreeing noun: «3 ошибки», «21 предупреждение», «5 учеников»."""
    return f"{n} {plural(n, one, few, many)}"


@functools.lru_cache(maxsize=4096)  # a year has ~200 school days, formatted thousands of times
def format_date(day: dt.date) -> str:
    """The long Russian date used in documents: «5 сентября 2024 г.».

    CLDR puts a narrow no-break space (U+202F) before «г.»; many fonts lack that
    glyph and CLDR has changed such spaces between releases, so every space
    becomes a plain one: the text stays the same across Babel versions.
    """
    return _plain_spaces(_babel_format_date(day, format="long", locale="ru"))


def _plain_spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def format_moment(moment: dt.datetime) -> str:
    """An aware time as staff read it: «30 ноября 2026 г. в 16:29 (UTC+3)», the zone as an hour offset."""
    offset = moment.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    zone = "UTC"
    if minutes:
        hours, rest = divmod(abs(minutes), 60)
        zone += ("+" if minutes > 0 else "-") + str(hours) + (f":{rest:02d}" if rest else "")
    return f"{format_date(moment.date())} в {moment:%H:%M} ({zone})"


def format_date_short(day: dt.date) -> str:
    """The numeric date used in tables: «05.09.2024»."""
    return f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


def format_date_range(start: dt.date, end: dt.date) -> str:
    """«с 2 сентября по 25 октября 2024 г.»; one day is just that day's date."""
    if start == end:
        return format_date(start)
    if start.year == end.year:
        first = _plain_spaces(_babel_format_date(start, format="d MMMM", locale="ru"))
    else:
        first = format_date(start)
    return f"с {first} по {format_date(end)}"


def format_decimal(value: Decimal, places: int = 2) -> str:
    """A decimal with a comma, rounded half up, without trailing zeros: «3,75», «3,5», «4»."""
    quantum = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def number_in_words(n: int, *, feminine: bool = False) -> str:
    """A cardinal number in words: 42 → «сорок два»; feminine=True gives «сорок две»."""
    return num2words(n, lang="ru", gender="f" if feminine else "m")


def count_in_figures_and_words(n: int, one: str, few: str, many: str, *, gender: str = "m") -> str:
    """«2 (два) дела», «1 (одно) дело», «5 (пять) дел» — a count as acts state it; gender m, f or n."""
    return f"{n} ({num2words(n, lang='ru', gender=gender)}) {plural(n, one, few, many)}"


def sheets_in_words(n: int) -> str:
    """«сорок два листа», «один лист», «пять листов» — for the certification sheet (R2)."""
    return f"{number_in_words(n)} {plural(n, 'лист', 'листа', 'листов')}"


# Reporting period names are «I четверть», «II триместр», «1 полугодие» (J4).
# Their nouns decline predictably; anything else falls back to a quoted name.
_PERIOD_NOUNS = {
    # nominative: (prepositional, adjective for the period's final mark)
    "четверть": ("четверти", "четвертная"),
    "триместр": ("триместре", "триместровая"),
    "полугодие": ("полугодии", "полугодовая"),
}
_SECOND = {"II", "2", "2-я", "2-й", "2-е", "вторая", "второй", "второе"}


def in_period(name: str) -> str:
    """«в I четверти», «во II триместре», «в 1 полугодии» — where something happened.

    «во» before a second period because «второй» begins with two consonants.
    """
    words = name.split()
    if len(words) >= 2 and words[-1].lower() in _PERIOD_NOUNS:
        prepositional = _PERIOD_NOUNS[words[-1].lower()][0]
        preposition = "во" if words[0] in _SECOND else "в"
        return " ".join([preposition, *words[:-1], prepositional])
    return f"в периоде «{name}»"


def period_final_title(name: str) -> str:
    """What a period's final mark is called: «четвертная отметка», «отметка за период «…»»."""
    words = name.split()
    if words and words[-1].lower() in _PERIOD_NOUNS:
        return f"{_PERIOD_NOUNS[words[-1].lower()][1]} отметка"
    return f"отметка за период «{name}»"


def month_name(day: dt.date, *, abbreviated: bool = False) -> str:
    """The month of `day` as a column heading: «сентябрь», abbreviated «сент.» (nominative)."""
    return _babel_format_date(day, format="LLL" if abbreviated else "LLLL", locale="ru")


def format_percent(part: int, whole: int, places: int = 1) -> str:
    """A share in per cent, Russian style: format_percent(7, 8) → «87,5 %»; «—» when `whole` is 0.

    Rounded half up like every other figure in the reports; a space before «%» (ГОСТ 8.417).
    """
    if whole <= 0:
        return "—"
    return f"{format_decimal(Decimal(part) * 100 / Decimal(whole), places)} %"


def sheets_with_words(n: int) -> str:
    """«30 (тридцать) листов», «21 (двадцать один) лист» — a count of sheets as certified (R2)."""
    return f"{n} ({number_in_words(n)}) {plural(n, 'лист', 'листа', 'листов')}"


def signature_name(name: str) -> str:
    """«И. О. Фамилия» for a signature line: «Воронов Николай Константинович» → «Н. К. Воронов».

    A name already written with initials («Ёлкина Т. В.») is turned round the same way;
    a single word is returned as it is.
    """
    words = name.split()
    if len(words) < 2:
        return name.strip()
    initials = " ".join(w if w.endswith(".") else f"{w[0]}." for w in words[1:])
    return f"{initials} {words[0]}"
