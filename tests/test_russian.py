"""Russian typesetting helpers shared by documents and reports (journal/russian.py)."""

import datetime as dt
from decimal import Decimal

import pytest

from journal.russian import (
    count_words,
    format_date,
    format_date_range,
    format_date_short,
    format_decimal,
    format_moment,
    in_period,
    number_in_words,
    period_final_title,
    plural,
    sheets_in_words,
)

ERRORS = ("ошибка", "ошибки", "ошибок")
WARNINGS = ("предупреждение", "предупреждения", "предупреждений")
STUDENTS = ("ученик", "ученика", "учеников")


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "ошибок"),
        (1, "ошибка"),
        (2, "ошибки"),
        (4, "ошибки"),
        (5, "ошибок"),
        (11, "ошибок"),
        (12, "ошибок"),
        (14, "ошибок"),
        (21, "ошибка"),
        (22, "ошибки"),
        (25, "ошибок"),
        (101, "ошибка"),
        (111, "ошибок"),
        (112, "ошибок"),
        (1001, "ошибка"),
    ],
)
def test_plural_follows_russian_rules(n, expected):
    assert plural(n, *ERRORS) == expected


def test_plural_of_a_fraction_is_genitive_singular():
    assert plural(Decimal("1.5"), "лист", "листа", "листов") == "листа"


@pytest.mark.parametrize(
    ("n", "errors", "warnings", "students"),
    [
        (1, "1 ошибка", "1 предупреждение", "1 ученик"),
        (2, "2 ошибки", "2 предупреждения", "2 ученика"),
        (5, "5 ошибок", "5 предупреждений", "5 учеников"),
        (11, "11 ошибок", "11 предупреждений", "11 учеников"),
        (21, "21 ошибка", "21 предупреждение", "21 ученик"),
        (22, "22 ошибки", "22 предупреждения", "22 ученика"),
        (25, "25 ошибок", "25 предупреждений", "25 учеников"),
        (101, "101 ошибка", "101 предупреждение", "101 ученик"),
        (111, "111 ошибок", "111 предупреждений", "111 учеников"),
    ],
)
def test_count_words(n, errors, warnings, students):
    assert count_words(n, *ERRORS) == errors
    assert count_words(n, *WARNINGS) == warnings
    assert count_words(n, *STUDENTS) == students


def test_count_words_examples_from_the_brief():
    assert count_words(3, *ERRORS) == "3 ошибки"
    assert count_words(0, *STUDENTS) == "0 учеников"


@pytest.mark.parametrize(
    ("day", "long", "short"),
    [
        (dt.date(2024, 9, 5), "5 сентября 2024 г.", "05.09.2024"),
        (dt.date(2025, 5, 31), "31 мая 2025 г.", "31.05.2025"),
        (dt.date(2025, 3, 1), "1 марта 2025 г.", "01.03.2025"),
        (dt.date(2024, 12, 28), "28 декабря 2024 г.", "28.12.2024"),
    ],
)
def test_dates(day, long, short):
    assert format_date(day) == long
    assert format_date_short(day) == short


@pytest.mark.parametrize(
    ("offset", "zone"),
    [(0, "UTC"), (180, "UTC+3"), (330, "UTC+5:30"), (-150, "UTC-2:30")],
)
def test_moments_name_the_zone_as_staff_read_it(offset, zone):
    """The receipt's times: «(UTC+3)», not «(UTC+0300)»; the clock time is the moment's own."""
    moment = dt.datetime(2026, 11, 30, 16, 29, tzinfo=dt.timezone(dt.timedelta(minutes=offset)))
    assert format_moment(moment) == f"30 ноября 2026 г. в 16:29 ({zone})"


def test_date_ranges():
    assert (
        format_date_range(dt.date(2024, 9, 2), dt.date(2024, 10, 25)) == "с 2 сентября по 25 октября 2024 г."
    )
    assert (
        format_date_range(dt.date(2024, 12, 29), dt.date(2025, 1, 8))
        == "с 29 декабря 2024 г. по 8 января 2025 г."
    )
    assert format_date_range(dt.date(2024, 11, 4), dt.date(2024, 11, 4)) == "4 ноября 2024 г."


@pytest.mark.parametrize(
    ("value", "text"),
    [("3.75", "3,75"), ("3.5", "3,5"), ("4", "4"), ("4.00", "4"), ("3.125", "3,13"), ("10", "10")],
)
def test_format_decimal(value, text):
    assert format_decimal(Decimal(value)) == text


def test_format_decimal_of_a_repeating_fraction():
    assert format_decimal(Decimal(10) / Decimal(3)) == "3,33"


@pytest.mark.parametrize(
    ("n", "words", "sheets"),
    [
        (1, "один", "один лист"),
        (2, "два", "два листа"),
        (5, "пять", "пять листов"),
        (11, "одиннадцать", "одиннадцать листов"),
        (21, "двадцать один", "двадцать один лист"),
        (22, "двадцать два", "двадцать два листа"),
        (25, "двадцать пять", "двадцать пять листов"),
        (42, "сорок два", "сорок два листа"),
        (101, "сто один", "сто один лист"),
        (111, "сто одиннадцать", "сто одиннадцать листов"),
    ],
)
def test_numbers_and_sheets_in_words(n, words, sheets):
    assert number_in_words(n) == words
    assert sheets_in_words(n) == sheets


def test_certification_sheet_phrase():
    """R2: the title sheet states the number of sheets in figures and words."""
    phrase = f"В настоящем журнале пронумеровано 42 ({sheets_in_words(42)})"
    assert phrase == "В настоящем журнале пронумеровано 42 (сорок два листа)"


def test_feminine_numbers():
    assert number_in_words(2, feminine=True) == "две"
    assert number_in_words(21, feminine=True) == "двадцать одна"


@pytest.mark.parametrize(
    ("name", "where", "final"),
    [
        ("I четверть", "в I четверти", "четвертная отметка"),
        ("II четверть", "во II четверти", "четвертная отметка"),
        ("IV четверть", "в IV четверти", "четвертная отметка"),
        ("II триместр", "во II триместре", "триместровая отметка"),
        ("1 полугодие", "в 1 полугодии", "полугодовая отметка"),
        ("2 полугодие", "во 2 полугодии", "полугодовая отметка"),
        ("Модуль А", "в периоде «Модуль А»", "отметка за период «Модуль А»"),
    ],
)
def test_period_phrases(name, where, final):
    assert in_period(name) == where
    assert period_final_title(name) == final


def test_percent_sheets_and_signature_names() -> None:
    from journal.russian import format_percent, sheets_with_words, signature_name

    assert format_percent(7, 8) == "87,5 %"
    assert format_percent(2, 3) == "66,7 %"
    assert format_percent(3, 3) == "100 %"
    assert format_percent(1, 0) == "—"
    assert sheets_with_words(21) == "21 (двадцать один) лист"
    assert sheets_with_words(34) == "34 (тридцать четыре) листа"
    assert sheets_with_words(37) == "37 (тридцать семь) листов"
    assert signature_name("Воронов Николай Константинович") == "Н. К. Воронов"
    assert signature_name("Ёлкина Т. В.") == "Т. В. Ёлкина"
    assert signature_name("Директор") == "Директор"
