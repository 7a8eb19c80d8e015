"""The open formats of an archive: CSV with CSVW metadata, and XML against its XSD (R5, R10).

Snapshots come from a real SQLite journal (the hand-built school year in factories), so
they are in extraction order, and the import round trip writes into fresh real databases.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from csvw import TableGroup
from lxml import etree

from documents.csv_export import CSV_METADATA_NAME, FORMULA_STARTS, TABLES, journal_csv_files
from documents.xml_format import (
    JOURNAL_NS,
    JOURNAL_XSD_PATH,
    JournalXmlError,
    journal_xml,
    read_journal_xml,
    school_year_of,
    validate_journal_xml,
)
from journal.demo import generate_demo_school
from journal.model import (
    ABSENCE_REASON_TITLES,
    AbsenceReason,
    Assessment,
    ClassJournal,
    LessonStatus,
    Mark,
    PeriodScheme,
    SchoolYear,
)
from journal.source import (
    create_schema,
    extract_class_journal,
    open_source,
    select_class_names,
    write_school_year,
)
from journal.text import shown as visible
from tests.factories import (
    LONG_TOPIC,
    STUDENT_LEFT,
    YEAR_NAME,
    make_school_year,
    with_awkward_text,
)

XS = "{http://www.w3.org/2001/XMLSchema}"
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


def stored(tmp_path: Path, data: SchoolYear, name: str = "journal.sqlite") -> str:
    """A fresh SQLite journal holding `data`; returns its URL."""
    url = f"sqlite:///{tmp_path / name}"
    engine = open_source(url, create=True)
    create_schema(engine)
    write_school_year(engine, data)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def source_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return stored(tmp_path_factory.mktemp("open-formats"), make_school_year())


def extract(url: str, class_name: str, period: str | None) -> ClassJournal:
    engine = open_source(url)
    try:
        return extract_class_journal(engine, YEAR_NAME, class_name, period)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def quarter(source_url: str) -> ClassJournal:
    return extract(source_url, "5А", "Q1")


@pytest.fixture(scope="module")
def year(source_url: str) -> ClassJournal:
    return extract(source_url, "5А", None)


@pytest.fixture(scope="module")
def awkward(year: ClassJournal) -> ClassJournal:
    return with_awkward_text(year)


@pytest.fixture(params=["quarter", "year", "awkward", "halves"])
def snapshot(request: pytest.FixtureRequest, source_url: str) -> ClassJournal:
    if request.param == "halves":
        return extract(source_url, "10Б", "H2")
    return request.getfixturevalue(request.param)


def test_the_snapshots_cover_what_the_formats_must_keep(year: ClassJournal, awkward: ClassJournal) -> None:
    """Guard for the round-trip tests below: the data really holds the awkward cases."""
    assert any(x.substitute_teacher_id is not None for x in year.lessons)
    assert any(x.substitute_teacher_id is None for x in year.lessons)
    assert any(x.status is LessonStatus.MISSED for x in year.lessons)
    assert any(e.joined is None for e in year.enrolments) and any(e.left is not None for e in year.enrolments)
    assert any(a.reason is None for a in year.absences)
    assert {a.reason for a in year.absences} >= set(AbsenceReason)
    assert {f.value for f in year.final_marks} >= {"н/а", "зач"}
    assert any(len(x.topic) == 10_000 for x in awkward.lessons)
    assert any(x.topic == "" for x in awkward.lessons)


# --- CSV -------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def table_rows(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    """Rows of one CSV file as dicts keyed by the CSVW column names from csv-metadata.json."""
    metadata = json.loads(files[CSV_METADATA_NAME])
    table = next(t for t in metadata["tables"] if t["url"] == name)
    names = [c["name"] for c in table["tableSchema"]["columns"]]
    header, *rows = read_csv(files[name])
    assert len(header) == len(names)
    return [dict(zip(names, row, strict=True)) for row in rows]


def shown(text: str) -> str:
    """What the CSV shows for a text cell: the text, control characters as U+FFFD (journal/text.py),
    with the injection guard applied."""
    text = visible(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def test_csv_parses_back_to_the_snapshot(snapshot: ClassJournal) -> None:
    files = journal_csv_files(snapshot)
    j = snapshot
    counts = journal_row_counts(j)
    for name, count in counts.items():
        assert len(table_rows(files, name)) == count, name

    (about,) = table_rows(files, "class.csv")
    assert about["class_name"] == j.school_class.name
    assert about["period_code"] == (j.period.code if j.period else "")
    assert about["span_start"] == j.start.isoformat()

    students = table_rows(files, "students.csv")
    assert [(int(r["student_id"]), r["full_name"]) for r in students] == [
        (s.id, s.full_name) for s in j.students
    ]
    assert [r["birth_date"] for r in students] == [
        s.birth_date.isoformat() if s.birth_date else "" for s in j.students
    ]

    lessons = table_rows(files, "lessons.csv")
    assert [
        (
            int(r["lesson_id"]),
            r["date"],
            int(r["number"]),
            r["topic"],
            r["homework"],
            r["substitute_teacher_id"],
            r["status"],
        )
        for r in lessons
    ] == [
        (
            x.id,
            x.date.isoformat(),
            x.number,
            shown(x.topic),
            shown(x.homework),
            str(x.substitute_teacher_id or ""),
            "проведён" if x.status is LessonStatus.HELD else "не проведён",
        )
        for x in j.lessons
    ]
    for row, lesson in zip(lessons, j.lessons, strict=True):
        course = j.course_by_id[lesson.course_id]
        assert row["subject_name"] == j.subject_by_id[course.subject_id].name
        assert row["teacher_name"] == j.teacher_by_id[lesson.teacher_id].full_name

    marks = table_rows(files, "marks.csv")
    assert [(int(r["mark_id"]), int(r["student_id"]), r["value"], r["work_kind"]) for r in marks] == [
        (m.id, m.student_id, shown(m.value), shown(m.work_kind)) for m in j.marks
    ]
    for row, mark in zip(marks, j.marks, strict=True):
        lesson = j.lesson_by_id[mark.lesson_id]
        assert row["date"] == lesson.date.isoformat()
        assert row["student_name"] == j.student_by_id[mark.student_id].full_name

    absences = table_rows(files, "attendance.csv")
    assert [(int(r["lesson_id"]), int(r["student_id"]), r["reason"]) for r in absences] == [
        (a.lesson_id, a.student_id, ABSENCE_REASON_TITLES[a.reason] if a.reason else "") for a in j.absences
    ]

    finals = table_rows(files, "final_marks.csv")
    assert [(int(r["student_id"]), int(r["subject_id"]), r["period"], r["value"]) for r in finals] == [
        (f.student_id, f.subject_id, f.period, f.value) for f in j.final_marks
    ]
    assert all(r["period_name"] for r in finals)  # every code is named: «I четверть», «годовая»…

    enrolments = table_rows(files, "enrolments.csv")
    assert [(r["joined"], r["left"]) for r in enrolments] == [
        (e.joined.isoformat() if e.joined else "", e.left.isoformat() if e.left else "") for e in j.enrolments
    ]
    guardians = table_rows(files, "guardians.csv")
    assert [(int(r["student_id"]), r["phone"]) for r in guardians] == [
        (g.student_id, shown(g.phone)) for g in j.guardians
    ]


def test_csv_is_rfc4180(awkward: ClassJournal) -> None:
    """CRLF after every record, quotes only where needed and doubled, line breaks kept inside quotes."""
    files = journal_csv_files(awkward)
    lessons = files["lessons.csv"]
    assert not lessons.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM (see the module docstring)
    assert lessons.endswith(b"\r\n")
    text = lessons.decode("utf-8")
    assert '"строка 1\nстрока 2\r\nстрока 3"' in text
    assert '"Тема =1, ""не формула"""' in text
    assert ",  пробелы по краям  ," in text  # no quotes needed, spaces kept
    assert ",Тема 10. Урок по курсу 515," in text  # plain text is not quoted
    long_row = next(r for r in read_csv(lessons) if LONG_TOPIC in r)
    assert long_row[7] == LONG_TOPIC
    # Every record ends with CRLF: outside quoted fields there is no bare LF.
    outside_quotes = re.sub(r'"(?:[^"]|"")*"', "", text)
    assert "\n" not in outside_quotes.replace("\r\n", "")
    assert outside_quotes.count("\r\n") == len(awkward.lessons) + 1

    address = table_rows(files, "class.csv")[0]["school_address"]
    assert address == awkward.school.address


def test_csv_injection_guard_applies_to_text_cells_only(awkward: ClassJournal) -> None:
    files = journal_csv_files(awkward)
    topics = [r["topic"] for r in table_rows(files, "lessons.csv")]
    homework = [r["homework"] for r in table_rows(files, "lessons.csv")]
    assert topics[0] == "'" + '=HYPERLINK("http://example.com","ёлка")'
    assert topics[6] == "'\tотступ"
    assert homework[0] == "'+ упр. 5"
    assert homework[3] == "'-1 балл за опоздание"
    assert homework[4] == "'@учитель"
    assert homework[6] == "'\rвозврат каретки"
    assert topics[7] == 'Тема =1, "не формула"'  # «=» inside the text is harmless
    marks = table_rows(files, "marks.csv")
    assert marks[0]["work_kind"] == "'=1+1"
    assert marks[6]["value"] == "'-"
    assert table_rows(files, "guardians.csv")[0]["phone"] == "'+7 900 000-00-01"
    assert table_rows(files, "enrolments.csv")[0]["left_note"] == "'=выбыл"
    # No cell of any CSV starts a formula, whatever the column.
    for name, data in files.items():
        if name.endswith(".csv"):
            for row in read_csv(data)[1:]:
                assert not any(cell.startswith(FORMULA_STARTS) for cell in row), (name, row)
    # The XML keeps the original text.
    back = read_journal_xml(journal_xml(awkward))
    assert back.lessons[0].topic.startswith("=HYPERLINK")
    assert back.marks[0].work_kind == "=1+1"


DATATYPES = {"string", "integer", "decimal", "date"}


def test_csv_metadata_describes_every_file_and_column(snapshot: ClassJournal) -> None:
    """A small CSVW check: files, headers = titles, datatypes, required cells, keys and references."""
    files = journal_csv_files(snapshot)
    metadata = json.loads(files[CSV_METADATA_NAME])
    assert metadata["@context"][0] == "http://www.w3.org/ns/csvw"
    assert {"@language": "ru"} in metadata["@context"]
    assert snapshot.school_class.name in metadata["dc:title"]
    assert metadata["dialect"]["lineTerminators"] == ["\r\n"] and metadata["dialect"]["trim"] is False
    tables = {t["url"]: t for t in metadata["tables"]}
    assert set(tables) == {name for name in files if name.endswith(".csv")}
    assert set(tables) >= {
        "students.csv",
        "subjects.csv",
        "lessons.csv",
        "marks.csv",
        "attendance.csv",
        "final_marks.csv",
        "enrolments.csv",
        "guardians.csv",
        "teachers.csv",
        "courses.csv",
    }

    values: dict[tuple[str, str], list[str]] = {}
    for url, table in tables.items():
        assert CYRILLIC.search(table["dc:title"]) and CYRILLIC.search(table["dc:description"])
        columns = table["tableSchema"]["columns"]
        header, *rows = read_csv(files[url])
        assert header == [c["titles"] for c in columns], url
        assert len({c["name"] for c in columns}) == len(columns), url
        for index, column in enumerate(columns):
            assert column["datatype"] in DATATYPES and CYRILLIC.search(column["titles"])
            cells = [row[index] for row in rows]
            values[(url, column["name"])] = cells
            for cell in cells:
                if cell == "":
                    assert not column["required"], (url, column["name"])
                elif column["datatype"] == "integer":
                    assert str(int(cell)) == cell
                elif column["datatype"] == "date":
                    dt.date.fromisoformat(cell)
                elif column["datatype"] == "decimal":
                    float(cell)
        key = table["tableSchema"].get("primaryKey")
        if key:
            tuples = list(zip(*(values[(url, name)] for name in key), strict=True))
            assert len(set(tuples)) == len(tuples), url
    for url, table in tables.items():
        for fk in table["tableSchema"].get("foreignKeys", []):
            target = (fk["reference"]["resource"], fk["reference"]["columnReference"])
            assert target[0] in tables
            assert set(values[(url, fk["columnReference"])]) - {""} <= set(values[target]), (url, fk)


def journal_row_counts(j: ClassJournal) -> dict[str, int]:
    """Rows each CSV file must have, counted from the snapshot itself."""
    return {
        "class.csv": 1,
        "periods.csv": len(j.periods),
        "holidays.csv": len(j.holidays),
        "teachers.csv": len(j.teachers),
        "students.csv": len(j.students),
        "enrolments.csv": len(j.enrolments),
        "guardians.csv": len(j.guardians),
        "subjects.csv": len(j.subjects),
        "courses.csv": len(j.courses),
        "course_members.csv": len(j.course_members),
        "lessons.csv": len(j.lessons),
        "marks.csv": len(j.marks),
        "attendance.csv": len(j.absences),
        "final_marks.csv": len(j.final_marks),
    }


def csvw_rows(metadata: Path) -> dict[str, list[dict[str, object]]]:
    """Every table a CSVW metadata file describes, read by the reference client (the `csvw` library,
    not ours) in strict mode: a header that does not match the titles, a cell that is not of its
    datatype, an empty required cell, a repeated primary key or a dangling foreign key is an error."""
    group = TableGroup.from_file(metadata)
    tables = {table.url.string: list(table.iterdicts(strict=True)) for table in group.tables}
    assert all(table.check_primary_key() for table in group.tables), metadata
    assert group.check_referential_integrity(strict=True), metadata
    return tables


def write_files(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir()
    for name, data in files.items():
        folder.joinpath(name).write_bytes(data)
    return folder / CSV_METADATA_NAME


def test_csvw_library_reads_every_table_strictly(snapshot: ClassJournal, tmp_path: Path) -> None:
    """R5: the W3C CSVW reference client reads our CSV with our metadata, types and keys included."""
    tables = csvw_rows(write_files(tmp_path / "csv", journal_csv_files(snapshot)))
    assert {name: len(rows) for name, rows in tables.items()} == journal_row_counts(snapshot)
    lessons = tables["lessons.csv"]
    assert [(r["lesson_id"], r["date"].date(), r["number"]) for r in lessons] == [
        (x.id, x.date, x.number) for x in snapshot.lessons
    ]
    # Text comes through exactly (line breaks, spaces at the edges, the formula guard); empty is null.
    assert [(r["topic"] or "", r["homework"] or "") for r in lessons] == [
        (shown(x.topic), shown(x.homework)) for x in snapshot.lessons
    ]
    assert [(r["student_id"], r["value"] or "") for r in tables["marks.csv"]] == [
        (m.student_id, shown(m.value)) for m in snapshot.marks
    ]
    # The optional teacher columns have no declared foreign key (see csv_export), but still resolve.
    teachers = {r["teacher_id"] for r in tables["teachers.csv"]}
    assert {r["substitute_teacher_id"] for r in lessons} - {None} <= teachers
    assert {r["class_teacher_id"] for r in tables["class.csv"]} - {None} <= teachers


def test_csvw_library_refuses_what_it_should(year: ClassJournal, tmp_path: Path) -> None:
    """Guard for the test above: the client really is strict about titles, types and references."""
    files = journal_csv_files(year)
    metadata = json.loads(files[CSV_METADATA_NAME])
    for table in metadata["tables"]:
        for column in table["tableSchema"]["columns"]:
            column["titles"] = {"ru": column["titles"]}  # a language map: csvw does not match it
    as_map = {**files, CSV_METADATA_NAME: json.dumps(metadata, ensure_ascii=False).encode()}
    with pytest.raises(ValueError, match="missing required columns"):
        csvw_rows(write_files(tmp_path / "language-map", as_map))

    first = str(year.lessons[0].id).encode()
    not_a_number = {
        **files,
        "lessons.csv": files["lessons.csv"].replace(b"\r\n" + first + b",", b"\r\nX,", 1),
    }
    with pytest.raises(ValueError, match=r"lessons\.csv:2:1 Код урока: invalid"):
        csvw_rows(write_files(tmp_path / "not-a-number", not_a_number))

    header, _, rest = files["marks.csv"].partition(b"\r\n")
    dangling = {
        **files,
        "marks.csv": header + b"\r\n" + re.sub(rb"^(\d+,[^,]*,\d+,)\d+", rb"\g<1>999999", rest),
    }
    assert dangling["marks.csv"] != files["marks.csv"]
    with pytest.raises(ValueError, match="999999"):
        csvw_rows(write_files(tmp_path / "dangling", dangling))


def test_foreign_keys_are_declared_on_required_columns_only() -> None:
    """Strict csvw refuses an empty referencing cell, so an optional column carries no foreign key."""
    for table in TABLES:
        required = {c.name for c in table.columns if c.required}
        for fk in table.foreign_keys:
            assert fk.column in required, (table.url, fk.column)
        assert set(table.primary_key) <= {c.name for c in table.columns}, table.url


def test_csv_output_is_deterministic(year: ClassJournal, source_url: str) -> None:
    first = journal_csv_files(year)
    again = journal_csv_files(extract(source_url, "5А", None))
    assert first == again
    assert list(first) == list(again)
    meta = first[CSV_METADATA_NAME]
    assert (
        meta == (json.dumps(json.loads(meta), ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()
    )


# --- XML -------------------------------------------------------------------------------------


def test_xml_validates_against_the_shipped_xsd(snapshot: ClassJournal) -> None:
    data = journal_xml(snapshot)
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert validate_journal_xml(data) == []
    # The same check with nothing of ours: the XSD file as shipped, plain lxml.
    schema = etree.XMLSchema(etree.parse(str(JOURNAL_XSD_PATH)))
    root = etree.fromstring(data)
    assert schema.validate(etree.ElementTree(root)), schema.error_log
    assert root.tag == f"{{{JOURNAL_NS}}}journal"
    assert JOURNAL_NS.endswith(":1")  # versioned: a new format gets a new namespace


def test_xml_is_byte_identical_and_stable_through_a_round_trip(year: ClassJournal, source_url: str) -> None:
    data = journal_xml(year)
    assert journal_xml(extract(source_url, "5А", None)) == data
    assert journal_xml(read_journal_xml(data)) == data


def test_xml_round_trip_gives_an_equal_snapshot(snapshot: ClassJournal) -> None:
    assert read_journal_xml(journal_xml(snapshot)) == snapshot


def test_xml_keeps_text_that_xml_cannot_carry(awkward: ClassJournal) -> None:
    """Control characters and a lone surrogate go in as Base64 and come back exact."""
    odd = "\x00\x1f\ud800\ufffe"
    snapshot = replace(awkward, lessons=(replace(awkward.lessons[0], homework=odd), *awkward.lessons[1:]))
    data = journal_xml(snapshot)
    assert b'encoding="base64"' in data
    back = read_journal_xml(data)
    assert back.lessons[0].homework == odd
    assert back.lessons[5].topic == awkward.lessons[5].topic  # the \x0b topic
    assert back == snapshot


def test_invalid_marks_are_archived_as_they_are(awkward: ClassJournal) -> None:
    data = journal_xml(awkward)
    assert validate_journal_xml(data) == []
    assert [m.value for m in read_journal_xml(data).marks[:8]] == [
        "н/а",
        "осв",
        "зач",
        "незач",
        "6",
        "",
        "-",
        "4+",
    ]


def line_of(data: bytes, needle: bytes) -> int:
    return data[: data.index(needle)].count(b"\n") + 1


def test_a_missing_element_is_reported_in_russian_with_its_line(quarter: ClassJournal) -> None:
    data = journal_xml(quarter)
    director = f"<director>{quarter.school.director}</director>".encode()
    broken = data.replace(director, b"")
    (error,) = validate_journal_xml(broken)
    assert error.startswith(f"строка {line_of(data, b'<school ')}: ")
    assert "director" in error and "не хватает" in error
    assert "Element" not in error and "expected" not in error
    with pytest.raises(JournalXmlError, match=r"^archive/5А/journal\.xml, строка 3: .*director"):
        read_journal_xml(broken, "archive/5А/journal.xml")


def test_a_wrong_date_is_reported_in_russian_with_its_line(quarter: ClassJournal) -> None:
    data = journal_xml(quarter)
    lesson = quarter.lessons[3]
    needle = f'<lesson id="{lesson.id}" course="{lesson.course_id}" date="{lesson.date.isoformat()}"'.encode()
    broken = data.replace(needle, needle.replace(lesson.date.isoformat().encode(), b"2024-02-30"))
    errors = validate_journal_xml(broken)
    assert errors and errors[0] == (
        f"строка {line_of(data, needle)}: атрибут «date» элемента «lesson» (Урок): «2024-02-30» — "
        "недопустимое значение, нужно: дата ГГГГ-ММ-ДД"
    )
    with pytest.raises(JournalXmlError, match=rf"^journal\.xml, строка {line_of(data, needle)}: "):
        read_journal_xml(broken)


def test_broken_references_duplicates_and_junk_are_refused(quarter: ClassJournal) -> None:
    data = journal_xml(quarter)
    mark = quarter.marks[0]
    needle = f'<mark id="{mark.id}" lesson="{mark.lesson_id}"'.encode()
    dangling = data.replace(needle, f'<mark id="{mark.id}" lesson="999999"'.encode())
    (error,) = validate_journal_xml(dangling)
    assert error.startswith(f"строка {line_of(data, needle)}: ") and "«999999»" in error and "урок" in error

    second = quarter.marks[1]
    duplicate = data.replace(f'<mark id="{second.id}" '.encode(), f'<mark id="{mark.id}" '.encode())
    assert any("повторяется" in e for e in validate_journal_xml(duplicate))

    assert validate_journal_xml(data.replace(b"</school>", b"", 1))[0].startswith("строка ")
    assert "правильно построенным" in validate_journal_xml(b"<journal")[0]
    entity = data.replace(b"<journal ", b'<!DOCTYPE journal [<!ENTITY x "y">]>\n<journal ', 1)
    assert "DOCTYPE" in validate_journal_xml(entity)[0]
    other_version = data.replace(JOURNAL_NS.encode(), JOURNAL_NS[:-1].encode() + b"2")
    assert "не журнал этого формата" in validate_journal_xml(other_version)[0]


def test_a_snapshot_that_cannot_give_a_valid_file_is_refused_by_name(quarter: ClassJournal) -> None:
    orphan = replace(quarter, teachers=quarter.teachers[1:])
    with pytest.raises(JournalXmlError, match=r"^класс 5А: XML журнала не соответствует схеме journal\.xsd"):
        journal_xml(orphan)


def test_xsd_documents_every_element_in_russian() -> None:
    xsd = etree.parse(str(JOURNAL_XSD_PATH))
    elements = list(xsd.iter(f"{XS}element"))
    assert len(elements) > 50
    for element in elements:
        doc = element.findtext(f"{XS}annotation/{XS}documentation")
        assert doc and CYRILLIC.search(doc), element.get("name")
    assert xsd.getroot().get("targetNamespace") == JOURNAL_NS


@pytest.mark.parametrize(
    ("type_name", "enum"),
    [
        ("PeriodScheme", PeriodScheme),
        ("Assessment", Assessment),
        ("LessonStatus", LessonStatus),
        ("AbsenceReason", AbsenceReason),
    ],
)
def test_xsd_enumerations_match_the_model(type_name: str, enum: type) -> None:
    xsd = etree.parse(str(JOURNAL_XSD_PATH))
    (simple,) = xsd.xpath(f"//xs:simpleType[@name='{type_name}']", namespaces={"xs": XS[1:-1]})
    values = [e.get("value") for e in simple.iter(f"{XS}enumeration")]
    assert values == [member.value for member in enum]


# --- Import into a database (R10) --------------------------------------------------------


def reimported(journal: ClassJournal, url: str, period: str | None) -> ClassJournal:
    """archive → import → archive: journal.xml read back, stored in an empty journal, extracted."""
    back = read_journal_xml(journal_xml(journal))
    engine = open_source(url, create=True)
    try:
        create_schema(engine)
        write_school_year(engine, school_year_of(back))
        return extract_class_journal(engine, YEAR_NAME, journal.school_class.name, period)
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["quarter", "year", "awkward"])
def test_archive_import_archive_gives_identical_data(
    name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    journal: ClassJournal = request.getfixturevalue(name)
    period = journal.period.code if journal.period else None
    again = reimported(journal, f"sqlite:///{tmp_path / 'imported.sqlite'}", period)
    assert again == journal
    assert journal_xml(again) == journal_xml(journal)
    assert journal_csv_files(again) == journal_csv_files(journal)


def test_import_into_postgresql_gives_identical_data(awkward: ClassJournal, postgres_url: str) -> None:
    assert reimported(awkward, postgres_url, None) == awkward


@pytest.fixture
def mark_for_a_departed_student(tmp_path: Path) -> Iterator[ClassJournal]:
    """Q2 of 5А with a mark for the student who left in Q1: the mark names someone not in the snapshot."""
    data = make_school_year()
    lesson = next(x for x in data.lessons if x.course_id == 511 and x.date == dt.date(2024, 11, 5))
    extra = Mark(99_999, lesson.id, STUDENT_LEFT, "5", "ответ на уроке")
    yield extract(stored(tmp_path, replace(data, marks=(*data.marks, extra)), "source.sqlite"), "5А", "Q2")


def test_a_mark_for_a_student_outside_the_snapshot_survives_archive_and_import(
    mark_for_a_departed_student: ClassJournal, tmp_path: Path
) -> None:
    journal = mark_for_a_departed_student
    assert STUDENT_LEFT not in journal.student_by_id
    assert any(m.student_id == STUDENT_LEFT for m in journal.marks)
    assert validate_journal_xml(journal_xml(journal)) == []
    again = reimported(journal, f"sqlite:///{tmp_path / 'imported.sqlite'}", "Q2")
    assert again == journal
    row = next(r for r in table_rows(journal_csv_files(journal), "marks.csv") if r["mark_id"] == "99999")
    assert (row["student_id"], row["student_name"]) == (str(STUDENT_LEFT), "")


def test_the_demo_class_archives_and_imports_without_loss(tmp_path: Path) -> None:
    """The demo (with its rule violations seeded on purpose) through both formats and back (R5, R10)."""
    url = stored(tmp_path, generate_demo_school(size="class").data, "demo.sqlite")
    engine = open_source(url)
    try:
        class_name = select_class_names(engine, YEAR_NAME, None)[0]
    finally:
        engine.dispose()
    first_period = extract(url, class_name, None).periods[0].code
    for period in (first_period, None):
        journal = extract(url, class_name, period)
        data = journal_xml(journal)
        assert validate_journal_xml(data) == []
        assert read_journal_xml(data) == journal
        assert len(table_rows(journal_csv_files(journal), "marks.csv")) == len(journal.marks)
        imported = f"sqlite:///{tmp_path / f'imported-{period}.sqlite'}"
        assert reimported(journal, imported, period) == journal
