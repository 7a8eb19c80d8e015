"""`check` and `archive` agree (issue 14, «Checks that agree»; R5, R9, R10).

* Every limit journal.xsd sets on the journal's data is a journal rule (`outside_xml_format`, an
  error): a journal `check` passes is one `archive` can write, and one it refuses `check` reports,
  naming class, student (or subject, lesson, teacher) and field. The limits are read from the XSD;
  the table of text fields is compared with the XSD here, so the two cannot drift.
* Messages in a failed class's row are worded for staff: never a Python class name.
* Control characters and lone surrogates are one visible rule (`control_characters`, a warning):
  `check` reports them, the PDF and the CSV show U+FFFD, journal.xml keeps the exact value (Base64).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from lxml import etree

from documents.csv_export import journal_csv_files
from documents.fonts import clean_text
from documents.xml_format import JOURNAL_XSD_PATH, JournalXmlError, journal_xml, read_journal_xml
from journal.model import ClassJournal, FinalMark, Student
from journal.text import REPLACEMENT
from pipeline.archive import ArchiveStatus, archive_period_class, failed_result
from pipeline.errors import INTERNAL_ERROR
from pipeline.runs import RunBoard
from pipeline.school import check_journals
from storage.retention import BundleKind
from tests.homes import bundle_dirs, make_demo_home
from tests.test_journal_rules import BASE, IVANOV, MATH, change
from validators.journal_rules import (
    RULES,
    XML_CODE_FIELDS,
    XML_TEXT_FIELDS,
    JournalDataError,
    Severity,
    validate_class_journal,
    xsd_limits,
)

_XS = "{http://www.w3.org/2001/XMLSchema}"
_TEXT_TYPES = {"j:ShortText", "j:LongText", "j:MarkValue"}


def _xsd_fields() -> tuple[dict[str, str], set[str]]:
    """(path → type of every text element, paths of every Code attribute) as journal.xsd declares them."""
    schema = etree.parse(str(JOURNAL_XSD_PATH)).getroot()
    groups = {g.get("name"): g for g in schema.findall(f"{_XS}group")}
    texts: dict[str, str] = {}
    codes: set[str] = set()

    def walk(node: etree._Element, path: tuple[str, ...]) -> None:
        for child in node:
            if not isinstance(child.tag, str):
                continue
            if child.tag == f"{_XS}group" and child.get("ref"):
                walk(groups[child.get("ref").removeprefix("j:")], path)
            elif child.tag == f"{_XS}element":
                here = (*path, child.get("name"))
                if child.get("type") in _TEXT_TYPES:
                    texts["/".join(here)] = child.get("type").removeprefix("j:")
                walk(child, here)
            elif child.tag == f"{_XS}attribute":
                if child.get("type") == "j:Code":
                    codes.add("/".join(path) + "/@" + child.get("name"))
            else:
                walk(child, path)

    journal = schema.find(f"{_XS}element[@name='journal']")
    walk(journal, ())
    return texts, codes


def test_the_table_of_text_fields_is_the_xsds() -> None:
    texts, codes = _xsd_fields()
    assert {path: xsd_type for path, (xsd_type, _) in XML_TEXT_FIELDS.items()} == texts
    assert set(XML_CODE_FIELDS) == codes - {"/@period"}  # the journal's own period is one of the periods
    assert all(title for _, title in XML_TEXT_FIELDS.values())


def test_the_limits_are_the_xsds() -> None:
    limits = xsd_limits()
    assert limits["ShortText"] == (0, 4000)
    assert limits["LongText"] == (0, 400000)
    assert limits["MarkValue"] == (0, 400)
    assert limits["Code"] == (1, 100)
    assert {xsd_type for xsd_type, _ in XML_TEXT_FIELDS.values()} <= set(limits)


def _student(journal: ClassJournal, **fields: str) -> ClassJournal:
    students = tuple(dataclasses.replace(s, **fields) if s.id == IVANOV else s for s in journal.students)
    return change(journal, students=students)


def _refused(journal: ClassJournal) -> bool:
    try:
        journal_xml(journal)
    except JournalXmlError:
        return True
    return False


def _format_findings(journal: ClassJournal) -> list:
    return [f for f in validate_class_journal(journal) if f.rule == "outside_xml_format"]


@pytest.mark.parametrize(
    ("label", "journal", "expected"),
    [
        ("clean", BASE, False),
        ("4000-character name", _student(BASE, last_name="Ж" * 4000), False),
        ("4001-character name", _student(BASE, last_name="Ж" * 4001), True),
        ("5000-character name", _student(BASE, last_name="Ж" * 5000), True),
        # Base64 of UTF-8 is what the XML writes, and what maxLength counts: 1499 Cyrillic letters + NUL
        # give 4000 Base64 characters, one letter more gives 4004.
        ("name with NUL at the limit", _student(BASE, first_name="Ж" * 1499 + "\x00"), False),
        ("name with NUL over the limit", _student(BASE, first_name="Ж" * 1500 + "\x00"), True),
        (
            "401-character mark",
            change(BASE, marks=(dataclasses.replace(BASE.marks[0], value="5" * 401),)),
            True,
        ),
        (
            "400001-character topic",
            change(
                BASE, lessons=(dataclasses.replace(BASE.lessons[0], topic="т" * 400001), *BASE.lessons[1:])
            ),
            True,
        ),
        (
            "101-character period code of a final mark",
            change(BASE, final_marks=(*BASE.final_marks, FinalMark(IVANOV, MATH, "Q" * 101, "5"))),
            True,
        ),
        (
            "student id beyond xs:long",
            change(BASE, students=(*BASE.students, Student("А", "Б", "", id=2**63))),
            True,
        ),
        (
            "hours per week not a number",
            change(
                BASE,
                courses=(dataclasses.replace(BASE.courses[0], hours_per_week=math.nan), *BASE.courses[1:]),
            ),
            True,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_check_reports_exactly_what_the_xml_refuses(
    label: str, journal: ClassJournal, expected: bool
) -> None:
    assert _refused(journal) is expected, label
    findings = _format_findings(journal)
    assert bool(findings) is expected, label
    assert all(f.severity is Severity.ERROR for f in findings)


def test_an_over_long_name_names_class_student_field_and_requirements() -> None:
    (finding,) = _format_findings(_student(BASE, last_name="Ж" * 5000))
    assert finding.student_id == IVANOV
    assert finding.message.startswith("5А · ")
    assert f"(ученик № {IVANOV})" in finding.message  # the name itself is cut for the message
    assert "поле «фамилия» (students/student/lastName)" in finding.message
    assert "5000 символов" in finding.message and "не более 4000" in finding.message
    assert finding.message.endswith(f"({RULES['outside_xml_format'].cite})")
    assert RULES["outside_xml_format"].requirements == ("R5", "R9")
    assert len(finding.message) < 400


def test_a_teachers_and_a_subjects_limits_name_them() -> None:
    teacher = dataclasses.replace(BASE.teachers[0], patronymic="я" * 4001)
    subject = dataclasses.replace(BASE.subjects[0], short_name="я" * 4001)
    findings = _format_findings(change(BASE, teachers=(teacher,), subjects=(subject, *BASE.subjects[1:])))
    messages = sorted(f.message for f in findings)
    assert len(messages) == 2
    assert any("учитель № 1, поле «отчество»" in m for m in messages)
    assert any(m.startswith("5А · Математика: поле «краткое название предмета»") for m in messages)


# --- Control characters: one visible rule ------------------------------------------------------


def test_control_characters_are_reported_with_class_student_and_field() -> None:
    journal = _student(BASE, first_name="Ив\x00ан\x1b")
    findings = [f for f in validate_class_journal(journal) if f.rule == "control_characters"]
    assert len(findings) == 1
    (finding,) = findings
    assert finding.severity is Severity.WARNING  # the XML keeps the value exactly, so archiving goes on
    assert finding.student_id == IVANOV
    assert finding.message.startswith(f"5А · Иванов Ив{REPLACEMENT}ан{REPLACEMENT} Петрович: ")
    assert "поле «имя» (students/student/firstName)" in finding.message
    assert "U+0000, U+001B" in finding.message and "\x00" not in finding.message
    assert finding.message.endswith("(R5, R10)")
    # Tab, line feed and carriage return are whitespace, not control characters in this sense.
    topic = dataclasses.replace(BASE.lessons[0], topic="строка 1\r\nстрока\t2")
    assert not [
        f
        for f in validate_class_journal(change(BASE, lessons=(topic, *BASE.lessons[1:])))
        if f.rule == "control_characters"
    ]


def test_documents_show_the_replacement_and_the_xml_keeps_the_value() -> None:
    odd = "Ив\x00ан\x07\ud800"
    journal = _student(BASE, first_name=odd)
    assert clean_text(odd) == f"Ив{REPLACEMENT}ан{REPLACEMENT}{REPLACEMENT}"  # PDF cells
    rows = list(csv.reader(io.StringIO(journal_csv_files(journal)["students.csv"].decode("utf-8"))))
    cells = [cell for row in rows for cell in row]
    assert f"Ив{REPLACEMENT}ан{REPLACEMENT}{REPLACEMENT}" in cells
    assert not any(ch in cell for cell in cells for ch in "\x00\x07")
    back = read_journal_xml(journal_xml(journal))
    assert next(s for s in back.students if s.id == IVANOV).first_name == odd


# --- End to end: the demo school -----------------------------------------------------------------


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _set_name(settings, column: str, value: str) -> str:
    """Give the first student of 5А `value` as `column`; returns the student's id."""
    path = settings.source_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        (student_id,) = db.execute(
            "SELECT e.student_id FROM enrolment e JOIN school_class c ON c.id = e.class_id "
            "WHERE c.name = '5А' ORDER BY e.student_id LIMIT 1"
        ).fetchone()
        db.execute(f"UPDATE student SET {column} = ? WHERE id = ?", (value, student_id))
    return str(student_id)


def test_demo_school_control_characters_then_an_over_long_name(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path / "home")
    _set_name(settings, "first_name", "Ива\x00н")
    check = check_journals(settings.source_url, "2024/2025", "Q1", ["5А"])
    assert "поле «имя» (students/student/firstName): управляющие символы U+0000" in check.report
    assert not check.has_errors

    result = archive_period_class(settings, "2024/2025", "5А", "Q1")
    assert result.status == ArchiveStatus.CREATED, result
    data = bundle_dirs(settings, result.bundle_id)[0] / "data"
    pdf_text = "".join(_pdf_text(pdf) for pdf in sorted(data.rglob("*.pdf")))
    assert f"Ива{REPLACEMENT}н" in pdf_text
    csv_text = b"".join(p.read_bytes() for p in data.rglob("*.csv")).decode("utf-8")
    assert f"Ива{REPLACEMENT}н" in csv_text and "\x00" not in csv_text

    student_id = _set_name(settings, "last_name", "Ж" * 5000)
    check = check_journals(settings.source_url, "2024/2025", "Q1", ["5А"])
    assert check.has_errors
    assert (
        f"(ученик № {student_id}): поле «фамилия» (students/student/lastName): 5000 символов" in check.report
    )

    result = archive_period_class(settings, "2024/2025", "5А", "Q1")
    assert result.status == ArchiveStatus.FAILED
    assert "Error" not in result.message and "documents." not in result.message
    assert result.message.startswith("класс 5А: XML журнала не соответствует схеме journal.xsd")


def test_an_unexpected_error_is_told_without_python_names() -> None:
    row = failed_result("5А", BundleKind.PERIOD, KeyError("lesson_id"))
    assert row.status == ArchiveStatus.FAILED
    assert "KeyError" not in row.message and "внутренняя ошибка программы" in row.message


def test_a_dangling_reference_is_worded_for_staff() -> None:
    journal = change(BASE, courses=tuple(c for c in BASE.courses if c.id != BASE.lessons[0].course_id))
    with pytest.raises(ValueError) as caught:
        validate_class_journal(journal)
    row = failed_result("5А", BundleKind.PERIOD, caught.value)
    assert row.message.startswith("класс 5А: урок № ")
    assert "Error" not in row.message


def test_a_crashed_web_run_is_told_without_python_names(tmp_path: Path) -> None:
    """The web's run page shows «Сбой: …»: a fault of the program is worded, a worded error kept."""
    settings = make_demo_home(tmp_path / "home")
    board = RunBoard(settings, lambda: dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC))

    def crash(run: object) -> str:
        raise KeyError("lesson_id")

    def refuse(run: object) -> str:
        raise JournalDataError("класс 5А: урок № 1 ссылается на предмет в классе № 9")

    outcomes = []
    for work in (crash, refuse):
        run = board._start("archive", "Архивирование", "admin", 1, [], work)
        next(t for t in threading.enumerate() if t.name == f"run-{run.run_id}").join()
        outcomes.append(board.get(run.run_id).outcome)
    assert outcomes == [
        f"Сбой: {INTERNAL_ERROR}",
        "Сбой: класс 5А: урок № 1 ссылается на предмет в классе № 9",
    ]
