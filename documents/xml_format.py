"""The open XML format of an archived class journal: write, validate, read back (R5, R10).

One `journal.xml` holds one `ClassJournal` snapshot with every field of the model
and the source system's ids, in the versioned namespace `JOURNAL_NS`, described
by `templates/journal.xsd` (shipped inside every bundle, so an auditor can check
the file with `xmllint --schema` and nothing of ours). Reading it back gives an
equal snapshot, and `school_year_of` turns that into a `SchoolYear` that a journal
source can store: archive → import → archive gives identical data (R10).

Choices, and why:

* Free text (names, topics, notes, mark values) is element content, never an
  attribute, so whitespace and line breaks survive exactly. Text that XML 1.0
  cannot carry at all (control characters such as U+000B pasted from a word
  processor) is written as Base64 of its UTF-8 with `encoding="base64"`: the
  archive keeps the data as it was instead of refusing it or dropping characters.
* Ids, numbers, dates and enumeration codes are attributes; an absent optional
  attribute is `None` (no birth date, no substitute, reason not given, enrolment
  open at a year edge), an empty element is the empty string.
* Marks are text with a length limit only: a wrong mark is archived as it was
  and reported by the validators, never refused or fixed here (R9).
* Element order is the snapshot's order, so reading gives equal tuples. Output is
  UTF-8 with an XML declaration, indented, one record per line (a table to the eye,
  and exact line numbers in errors), and the same bytes every time.
* A mark or absence may name a student who is not in `students` (the extraction
  keeps such records for the validators), so those two references are not keyrefs
  in the XSD; every other reference is.
* Every file is validated against the XSD when it is written and before it is
  read, so an invalid file is never stored and never imported.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TypeVar

from lxml import etree

from journal.model import (
    Absence,
    AbsenceReason,
    AcademicYear,
    Assessment,
    ClassJournal,
    Course,
    CourseMember,
    Enrolment,
    FinalMark,
    Guardian,
    Holiday,
    Lesson,
    LessonStatus,
    Mark,
    PeriodScheme,
    ReportingPeriod,
    School,
    SchoolClass,
    SchoolYear,
    Student,
    Subject,
    Teacher,
)

JOURNAL_NS = "urn:journal-archive:class-journal:1"
"""The format's namespace; its last part is the format version (a new version gets a new namespace)."""

JOURNAL_XML_NAME = "journal.xml"
JOURNAL_XSD_NAME = "journal.xsd"
JOURNAL_XSD_PATH = Path(__file__).resolve().parent.parent / "templates" / JOURNAL_XSD_NAME
XML_ATTACHMENT_DESCRIPTIONS = {
    JOURNAL_XML_NAME: "Все данные журнала в XML (схема — journal.xsd): из этого файла журнал "
    "восстанавливается полностью.",
    JOURNAL_XSD_NAME: "XML-схема (XSD) файла journal.xml.",
}
"""How a PDF that carries journal.xml and its XSD describes them (the journal and the summary alike)."""
"""The schema of the format; bundles ship a copy of it next to journal.xml."""

_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_XSD_NS = "http://www.w3.org/2001/XMLSchema"
_XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_BASE64 = "base64"

_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE/U+FFFF)."""


class JournalXmlError(ValueError):
    """A journal XML that cannot be written or read, worded for the administrator (one line)."""


def _q(tag: str) -> str:
    return f"{{{JOURNAL_NS}}}{tag}"


# --- Writing ------------------------------------------------------------------


def journal_xml(journal: ClassJournal, *, validate: bool = True) -> bytes:
    """The snapshot as `journal.xml`: UTF-8, one record per line, byte-identical for equal snapshots.

    The result is validated against the XSD; a snapshot that would not give a
    valid file (a reference to a teacher who is not in the snapshot, a period
    that is not among its periods) raises JournalXmlError naming the class.
    `validate=False` only for comparing fingerprints (pipeline.archive.already_archived).
    """
    try:
        root = _journal_element(journal)
    except ValueError as error:  # lxml refuses a string it cannot store in an attribute
        raise JournalXmlError(
            f"класс {journal.school_class.name}: не удалось записать XML: {error}"
        ) from error
    _lay_out(root)
    data = _XML_DECLARATION + etree.tostring(root, encoding="UTF-8") + b"\n"
    errors = validate_journal_xml(data) if validate else []
    if errors:
        more = f" (и ещё ошибок: {len(errors) - 1})" if len(errors) > 1 else ""
        raise JournalXmlError(
            f"класс {journal.school_class.name}: XML журнала не соответствует схеме {JOURNAL_XSD_NAME}: "
            f"{errors[0]}{more}"
        )
    return data


def _journal_element(j: ClassJournal) -> etree._Element:
    root = etree.Element(_q("journal"), nsmap={None: JOURNAL_NS, "xsi": _XSI_NS})
    root.set(f"{{{_XSI_NS}}}schemaLocation", f"{JOURNAL_NS} {JOURNAL_XSD_NAME}")
    if j.period is not None:
        root.set("periodScheme", j.period.scheme.value)
        root.set("period", j.period.code)

    school = _sub(root, "school", id=j.school.id)
    _text(school, "name", j.school.name)
    _text(school, "shortName", j.school.short_name)
    _text(school, "address", j.school.address)
    _text(school, "director", j.school.director)

    year = _sub(root, "academicYear", id=j.year.id, start=j.year.start, end=j.year.end)
    _text(year, "name", j.year.name)

    c = j.school_class
    school_class = _sub(
        root,
        "class",
        id=c.id,
        grade=c.grade,
        classTeacher=c.class_teacher_id,
        periodScheme=c.period_scheme.value,
    )
    _text(school_class, "name", c.name)
    _text(school_class, "letter", c.letter)

    periods = _sub(root, "periods")
    for p in j.periods:
        period = _sub(
            periods, "period", scheme=p.scheme.value, code=p.code, ordinal=p.ordinal, start=p.start, end=p.end
        )
        _text(period, "name", p.name)

    holidays = _sub(root, "holidays")
    for h in j.holidays:
        _text(_sub(holidays, "holiday", start=h.start, end=h.end), "name", h.name)

    teachers = _sub(root, "teachers")
    for t in j.teachers:
        _person(_sub(teachers, "teacher", id=t.id), t)

    students = _sub(root, "students")
    for s in j.students:
        _person(_sub(students, "student", id=s.id, birthDate=s.birth_date), s)

    enrolments = _sub(root, "enrolments")
    for e in j.enrolments:
        enrolment = _sub(
            enrolments,
            "enrolment",
            student=e.student_id,
            **{"class": e.class_id},
            joined=e.joined,
            left=e.left,
        )
        _text(enrolment, "joinedNote", e.joined_note)
        _text(enrolment, "leftNote", e.left_note)

    guardians = _sub(root, "guardians")
    for g in j.guardians:
        guardian = _sub(guardians, "guardian", student=g.student_id)
        _person(guardian, g)
        _text(guardian, "relation", g.relation)
        _text(guardian, "phone", g.phone)

    subjects = _sub(root, "subjects")
    for s in j.subjects:
        subject = _sub(subjects, "subject", id=s.id, ordinal=s.ordinal)
        _text(subject, "name", s.name)
        _text(subject, "shortName", s.short_name)

    courses = _sub(root, "courses")
    for co in j.courses:
        course = _sub(
            courses,
            "course",
            id=co.id,
            **{"class": co.class_id},
            subject=co.subject_id,
            teacher=co.teacher_id,
            hoursPerWeek=decimal_text(co.hours_per_week),
            assessment=co.assessment.value,
        )
        _text(course, "subgroup", co.subgroup)

    members = _sub(root, "courseMembers")
    for m in j.course_members:
        _sub(members, "member", course=m.course_id, student=m.student_id)

    lessons = _sub(root, "lessons")
    for le in j.lessons:
        lesson = _sub(
            lessons,
            "lesson",
            id=le.id,
            course=le.course_id,
            date=le.date,
            number=le.number,
            teacher=le.teacher_id,
            substitute=le.substitute_teacher_id,
            status=le.status.value,
        )
        _text(lesson, "topic", le.topic)
        _text(lesson, "homework", le.homework)

    marks = _sub(root, "marks")
    for mk in j.marks:
        mark = _sub(marks, "mark", id=mk.id, lesson=mk.lesson_id, student=mk.student_id)
        _text(mark, "value", mk.value)
        _text(mark, "workKind", mk.work_kind)

    absences = _sub(root, "absences")
    for a in j.absences:
        _sub(
            absences, "absence", lesson=a.lesson_id, student=a.student_id, reason=a.reason and a.reason.value
        )

    finals = _sub(root, "finalMarks")
    for f in j.final_marks:
        _text(
            _sub(finals, "finalMark", student=f.student_id, subject=f.subject_id, period=f.period),
            "value",
            f.value,
        )
    return root


_LIST_SECTIONS = frozenset(
    {
        "periods",
        "holidays",
        "teachers",
        "students",
        "enrolments",
        "guardians",
        "subjects",
        "courses",
        "courseMembers",
        "lessons",
        "marks",
        "absences",
        "finalMarks",
    }
)


def _lay_out(root: etree._Element) -> None:
    """Indent sections and put each record on one line, its text fields inline.

    One line per record keeps a class's year well under 65,535 lines, beyond which
    libxml2 stops counting lines exactly, and reads like a table.
    """
    sections = list(root)
    root.text = "\n  "
    for i, section in enumerate(sections):
        section.tail = "\n  " if i + 1 < len(sections) else "\n"
        records = list(section)
        if etree.QName(section).localname in _LIST_SECTIONS and records:
            section.text = "\n    "
            for k, record in enumerate(records):
                record.tail = "\n    " if k + 1 < len(records) else "\n  "


def _sub(parent: etree._Element, tag: str, **attributes: object) -> etree._Element:
    """A child element; None attributes are left out (that is how the format says «none»)."""
    element = etree.SubElement(parent, _q(tag))
    for name, value in attributes.items():
        if value is None:
            continue
        element.set(name, value.isoformat() if isinstance(value, dt.date) else str(value))
    return element


def written_text(value: str) -> tuple[str, bool]:
    """The text as journal.xml writes it, and whether it is Base64: the XSD's maxLength counts
    these characters (Base64 of UTF-8 when the value has characters XML 1.0 cannot carry)."""
    if _NOT_XML_CHAR.search(value):
        return base64.b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii"), True
    return value, False


def _text(parent: etree._Element, tag: str, value: str) -> None:
    element = etree.SubElement(parent, _q(tag))
    element.text, encoded = written_text(value)
    if encoded:
        element.set("encoding", _BASE64)


def _person(element: etree._Element, person: Teacher | Student | Guardian) -> None:
    _text(element, "lastName", person.last_name)
    _text(element, "firstName", person.first_name)
    _text(element, "patronymic", person.patronymic)


def decimal_text(value: float) -> str:
    """The float as the shortest decimal that reads back to it, always with a point: 2.0, 0.5, 1.25.

    Used for hours per week in XML and CSV alike (xs:decimal / CSVW decimal: no exponent).
    """
    text = f"{Decimal(repr(float(value))):f}"
    return text if "." in text else f"{text}.0"


# --- Validation -----------------------------------------------------------------


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(JOURNAL_XSD_PATH)))


def _parser() -> etree.XMLParser:
    """A parser that never reads anything but the given bytes (no DTD, entities or network)."""
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _parse(data: bytes) -> tuple[etree._ElementTree | None, list[str]]:
    try:
        tree = etree.ElementTree(etree.fromstring(data, _parser()))
    except etree.XMLSyntaxError as error:
        line = error.lineno or 1
        return None, [f"строка {line}: файл не является правильно построенным XML ({error.msg})"]
    if tree.docinfo.doctype:
        return None, ["строка 1: объявление DOCTYPE в журнале не допускается"]
    return tree, []


def validate_journal_xml(data: bytes, xsd: bytes | None = None) -> list[str]:
    """Everything wrong with a journal XML against the XSD, in Russian with line numbers; [] if valid.

    `xsd` is another schema to check against (a bundle's own journal.xsd, which an
    auditor years later checks with); by default the schema this program writes.
    """
    tree, errors = _parse(data)
    if tree is None:
        return errors
    if xsd is None:
        schema = _schema()
    else:
        try:
            schema = etree.XMLSchema(etree.fromstring(xsd, _parser()))
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as error:
            return [f"{JOURNAL_XSD_NAME}: схема не читается ({error})"]
    if schema.validate(tree):
        return []
    return [f"строка {_line(entry, tree)}: {_russian_message(entry.message)}" for entry in schema.error_log]


_LINE_CAP = 65535
"""libxml2 reports schema errors at line 65,535 for anything at or after that line."""


def _line(entry: etree._LogEntry, tree: etree._ElementTree) -> str:
    """The error's line; past libxml2's cap, the line of the element the message names and quotes."""
    if entry.line < _LINE_CAP:
        return str(entry.line)
    named = re.match(r"Element '(\{[^}]*\}[^']+)'", entry.message)
    quoted = set(re.findall(r"'([^']*)'", entry.message[named.end() if named else 0 :]))
    for element in tree.iter(named[1] if named else _q("journal")):
        if (element.sourceline or 0) < _LINE_CAP:
            continue
        if not quoted or quoted & {*element.attrib.values(), element.text or ""}:
            return str(element.sourceline)
    return f"{_LINE_CAP} или дальше"


# libxml2 words its schema errors in English; the common ones are translated here,
# anything else keeps the original text after a Russian lead-in.
_NAME = r"'(?:\{[^}]*\})?(?P<el>[^']+)'"
_ATTR = rf"Element {_NAME}, attribute '(?P<attr>[^']+)'"
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), template)
    for pattern, template in (
        (
            rf"^Element {_NAME}: This element is not expected\. Expected is (?:one of )?\( (?P<exp>.*) \)\.$",
            "элемент {el} здесь не ожидается; ожидается {exp}",
        ),
        (rf"^Element {_NAME}: This element is not expected\.$", "элемент {el} здесь не ожидается"),
        (
            rf"^Element {_NAME}: Missing child element\(s\)\. Expected is (?:one of )?\( (?P<exp>.*) \)\.$",
            "в элементе {el} не хватает вложенного элемента; ожидается {exp}",
        ),
        (
            rf"^{_ATTR}: '(?P<value>.*)' is not a valid value of the (?:local )?(?:atomic|union) type "
            r"'(?P<type>[^']*)'\.$",
            "атрибут «{attr}» элемента {el}: «{value}» — недопустимое значение, нужно: {type}",
        ),
        (
            rf"^Element {_NAME}: '(?P<value>.*)' is not a valid value of the "
            r"(?:local )?(?:atomic|union) type '(?P<type>[^']*)'\.$",
            "элемент {el}: «{value}» — недопустимое значение, нужно: {type}",
        ),
        (
            rf"^{_ATTR}: \[facet '(?P<facet>[^']+)'\] (?P<detail>.*)$",
            "атрибут «{attr}» элемента {el}: {detail}",
        ),
        (
            rf"^Element {_NAME}: \[facet '(?P<facet>[^']+)'\] (?P<detail>.*)$",
            "элемент {el}: {detail}",
        ),
        (
            rf"^Element {_NAME}: The attribute '(?P<attr>[^']+)' is required but missing\.$",
            "у элемента {el} нет обязательного атрибута «{attr}»",
        ),
        (
            rf"^{_ATTR}: The attribute '[^']+' is not allowed\.$",
            "атрибут «{attr}» в элементе {el} не допускается",
        ),
        (
            rf"^Element {_NAME}: No match found for key-sequence \[(?P<keys>.*)\] of keyref "
            r"'(?:\{[^}]*\})?(?P<name>[^']+)'\.$",
            "элемент {el} ссылается на запись {keys}, которой нет в файле ({name})",
        ),
        (
            rf"^Element {_NAME}: Duplicate key-sequence \[(?P<keys>.*)\] in (?:key|unique) "
            r"identity-constraint '(?:\{[^}]*\})?(?P<name>[^']+)'\.$",
            "элемент {el}: значение {keys} повторяется ({name})",
        ),
        (
            rf"^Element {_NAME}: No matching global declaration available for the validation root\.$",
            f"корневой элемент {{el}} — не журнал этого формата (ожидается «journal» "
            f"в пространстве имён {JOURNAL_NS})",
        ),
        (
            rf"^Element {_NAME}: Character content other than whitespace is not allowed because the content "
            r"type is 'element-only'\.$",
            "элемент {el} не должен содержать текст",
        ),
        (
            rf"^Element {_NAME}: Element content is not allowed",
            "элемент {el} не должен содержать вложенных элементов",
        ),
    )
)

_TYPE_TITLES = {
    "Id": "идентификатор (целое число)",
    "Integer": "целое число",
    "xs:long": "целое число",
    "xs:integer": "целое число",
    "Date": "дата ГГГГ-ММ-ДД",
    "xs:date": "дата ГГГГ-ММ-ДД",
    "Hours": "десятичное число с точкой",
    "xs:decimal": "десятичное число",
    "Code": "код длиной от 1 до 100 символов",
    "PeriodScheme": "quarters, trimesters или halves",
    "Assessment": "marks, credit или none",
    "LessonStatus": "held или missed",
    "AbsenceReason": "valid, illness или invalid",
    "TextEncoding": "base64",
}


def _russian_message(message: str) -> str:
    for pattern, template in _MESSAGES:
        found = pattern.match(message)
        if found:
            parts = found.groupdict()
            parts["el"] = _element_title(parts["el"])
            if "exp" in parts:
                parts["exp"] = ", ".join(
                    _element_title(name) for name in re.findall(r"(?:\{[^}]*\})?([\w-]+)", parts["exp"])
                )
            if "type" in parts:
                local = re.sub(r"^\{[^}]*\}", "", parts["type"])
                parts["type"] = _TYPE_TITLES.get(local, local)
            if "detail" in parts:
                parts["detail"] = _facet_detail(parts["detail"])
            if "keys" in parts:
                parts["keys"] = ", ".join(f"«{key}»" for key in re.findall(r"'([^']*)'", parts["keys"]))
            if "name" in parts:
                parts["name"] = _schema_docs().get(parts["name"], parts["name"]).rstrip(".")
            return template.format(**parts)
    return f"ошибка проверки по схеме {JOURNAL_XSD_NAME}: {re.sub(r'{[^}]*}', '', message)}"


_FACETS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"^The value '(.*)' is not an element of the set \{(.*)\}\.$"),
        lambda m: f"«{m[1]}» — недопустимое значение; допустимы: {m[2].replace(chr(39), '')}",
    ),
    (
        re.compile(r"^The value '(.*)' is not accepted by the pattern '.*'\.$"),
        lambda m: f"«{m[1]}» — неверная запись",
    ),
    (
        re.compile(
            r"^The value has a length of '(\d+)'; this exceeds the allowed maximum length of '(\d+)'\.$"
        ),
        lambda m: f"длина значения {m[1]} больше допустимой ({m[2]})",
    ),
    (
        re.compile(
            r"^The value has a length of '(\d+)'; this underruns the allowed minimum length of '(\d+)'\.$"
        ),
        lambda m: f"длина значения {m[1]} меньше допустимой ({m[2]})",
    ),
)


def _facet_detail(detail: str) -> str:
    """A facet violation (enumeration, pattern, length) in Russian; others as libxml2 words them."""
    for pattern, russian in _FACETS:
        found = pattern.match(detail)
        if found:
            return russian(found)
    return f"значение не подходит ({detail})"


def _element_title(name: str) -> str:
    """«lesson» (Урок) — the element's name with its Russian documentation when the name is unambiguous."""
    doc = _schema_docs().get(f"element:{name}")
    if not doc:
        return f"«{name}»"
    short = re.split(r" \(|\. ", doc, maxsplit=1)[0].rstrip(".")
    return f"«{name}» ({short})"


@cache
def _schema_docs() -> dict[str, str]:
    """Russian documentation from the XSD: identity constraints by name, elements declared once by name."""
    xsd = etree.parse(str(JOURNAL_XSD_PATH))
    docs: dict[str, str] = {}
    element_docs: dict[str, list[str]] = {}
    for node in xsd.iter(f"{{{_XSD_NS}}}*"):
        name = node.get("name")
        doc = node.findtext(f"{{{_XSD_NS}}}annotation/{{{_XSD_NS}}}documentation")
        if not name or not doc:
            continue
        text = " ".join(doc.split())
        local = etree.QName(node).localname
        if local in ("key", "keyref", "unique"):
            docs[name] = text
        elif local == "element":
            element_docs.setdefault(name, []).append(text)
    for name, texts in element_docs.items():
        if len(texts) == 1:
            docs[f"element:{name}"] = texts[0]
    return docs


# --- Reading ------------------------------------------------------------------------


class _ReadError(Exception):
    def __init__(self, element: etree._Element, message: str) -> None:
        super().__init__(f"строка {element.sourceline}: {message}")


def read_journal_xml(data: bytes, name: str = JOURNAL_XML_NAME) -> ClassJournal:
    """The snapshot stored in a journal XML; the file is validated against the XSD first.

    Raises JournalXmlError «<name>, строка N: …» for a malformed or invalid file.
    """
    tree, errors = _parse(data)
    if tree is not None:
        errors = validate_journal_xml(data)
    if errors:
        more = f" (и ещё ошибок: {len(errors) - 1})" if len(errors) > 1 else ""
        raise JournalXmlError(f"{name}, {errors[0]}{more}")
    assert tree is not None
    try:
        return _read_journal(tree.getroot())
    except _ReadError as error:
        raise JournalXmlError(f"{name}, {error}") from None


def _read_journal(root: etree._Element) -> ClassJournal:
    sections = {etree.QName(child).localname: child for child in root if isinstance(child.tag, str)}

    school_el = sections["school"]
    school_text = _texts(school_el)
    school = School(
        id=_int(school_el, "id"),
        name=school_text["name"],
        short_name=school_text["shortName"],
        address=school_text["address"],
        director=school_text["director"],
    )

    year_el = sections["academicYear"]
    year = AcademicYear(
        id=_int(year_el, "id"),
        name=_texts(year_el)["name"],
        start=_date(year_el, "start"),
        end=_date(year_el, "end"),
    )

    class_el = sections["class"]
    class_text = _texts(class_el)
    school_class = SchoolClass(
        id=_int(class_el, "id"),
        name=class_text["name"],
        grade=_int(class_el, "grade"),
        letter=class_text["letter"],
        class_teacher_id=_optional(class_el, "classTeacher", _int),
        period_scheme=PeriodScheme(class_el.get("periodScheme")),
    )

    periods = tuple(
        ReportingPeriod(
            scheme=PeriodScheme(el.get("scheme")),
            code=el.get("code"),
            ordinal=_int(el, "ordinal"),
            name=_texts(el)["name"],
            start=_date(el, "start"),
            end=_date(el, "end"),
        )
        for el in _items(sections["periods"])
    )
    period = None
    if root.get("period") is not None:
        key = (PeriodScheme(root.get("periodScheme")), root.get("period"))
        period = next((p for p in periods if (p.scheme, p.code) == key), None)
        if period is None:  # the XSD's keyref already ensures this; a missing scheme is the only way here
            raise _ReadError(root, "период журнала указан без деления года (атрибут periodScheme)")

    holidays = tuple(
        Holiday(name=_texts(el)["name"], start=_date(el, "start"), end=_date(el, "end"))
        for el in _items(sections["holidays"])
    )
    teachers = tuple(Teacher(**_person_fields(el), id=_int(el, "id")) for el in _items(sections["teachers"]))
    students = tuple(
        Student(**_person_fields(el), id=_int(el, "id"), birth_date=_optional(el, "birthDate", _date))
        for el in _items(sections["students"])
    )
    enrolments = tuple(
        Enrolment(
            student_id=_int(el, "student"),
            class_id=_int(el, "class"),
            joined=_optional(el, "joined", _date),
            left=_optional(el, "left", _date),
            joined_note=(texts := _texts(el))["joinedNote"],
            left_note=texts["leftNote"],
        )
        for el in _items(sections["enrolments"])
    )
    guardians = tuple(
        Guardian(
            **_person_fields(el),
            student_id=_int(el, "student"),
            relation=(texts := _texts(el))["relation"],
            phone=texts["phone"],
        )
        for el in _items(sections["guardians"])
    )
    subjects = tuple(
        Subject(
            id=_int(el, "id"),
            name=(texts := _texts(el))["name"],
            short_name=texts["shortName"],
            ordinal=_int(el, "ordinal"),
        )
        for el in _items(sections["subjects"])
    )
    courses = tuple(
        Course(
            id=_int(el, "id"),
            class_id=_int(el, "class"),
            subject_id=_int(el, "subject"),
            subgroup=_texts(el)["subgroup"],
            teacher_id=_int(el, "teacher"),
            hours_per_week=float(el.get("hoursPerWeek")),
            assessment=Assessment(el.get("assessment")),
        )
        for el in _items(sections["courses"])
    )
    course_members = tuple(
        CourseMember(course_id=_int(el, "course"), student_id=_int(el, "student"))
        for el in _items(sections["courseMembers"])
    )
    lessons = tuple(
        Lesson(
            id=_int(el, "id"),
            course_id=_int(el, "course"),
            date=_date(el, "date"),
            number=_int(el, "number"),
            topic=(texts := _texts(el))["topic"],
            homework=texts["homework"],
            teacher_id=_int(el, "teacher"),
            substitute_teacher_id=_optional(el, "substitute", _int),
            status=LessonStatus(el.get("status")),
        )
        for el in _items(sections["lessons"])
    )
    marks = tuple(
        Mark(
            id=_int(el, "id"),
            lesson_id=_int(el, "lesson"),
            student_id=_int(el, "student"),
            value=(texts := _texts(el))["value"],
            work_kind=texts["workKind"],
        )
        for el in _items(sections["marks"])
    )
    absences = tuple(
        Absence(
            lesson_id=_int(el, "lesson"),
            student_id=_int(el, "student"),
            reason=_optional(el, "reason", lambda e, a: AbsenceReason(e.get(a))),
        )
        for el in _items(sections["absences"])
    )
    final_marks = tuple(
        FinalMark(
            student_id=_int(el, "student"),
            subject_id=_int(el, "subject"),
            period=el.get("period"),
            value=_texts(el)["value"],
        )
        for el in _items(sections["finalMarks"])
    )
    return ClassJournal(
        school=school,
        year=year,
        school_class=school_class,
        period=period,
        periods=periods,
        holidays=holidays,
        teachers=teachers,
        students=students,
        enrolments=enrolments,
        guardians=guardians,
        subjects=subjects,
        courses=courses,
        course_members=course_members,
        lessons=lessons,
        marks=marks,
        absences=absences,
        final_marks=final_marks,
    )


def _items(section: etree._Element) -> Iterator[etree._Element]:
    return (child for child in section if isinstance(child.tag, str))


def _texts(element: etree._Element) -> dict[str, str]:
    """A record's text children by local name (in this format every child of a record is text)."""
    return {etree.QName(child).localname: _read_text(child) for child in _items(element)}


def _read_text(element: etree._Element) -> str:
    text = element.text or ""
    if element.get("encoding") != _BASE64:
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "surrogatepass")
    except (binascii.Error, UnicodeDecodeError):
        raise _ReadError(
            element, f"текст в Base64 в элементе «{etree.QName(element).localname}» повреждён"
        ) from None


def _person_fields(element: etree._Element) -> dict[str, str]:
    texts = _texts(element)
    return {
        "last_name": texts["lastName"],
        "first_name": texts["firstName"],
        "patronymic": texts["patronymic"],
    }


def _int(element: etree._Element, attribute: str) -> int:
    return int(element.get(attribute))


def _date(element: etree._Element, attribute: str) -> dt.date:
    value = element.get(attribute)
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _ReadError(
            element,
            f"атрибут «{attribute}» элемента «{etree.QName(element).localname}»: нет такой даты «{value}»",
        ) from None


_T = TypeVar("_T")


def _optional(
    element: etree._Element, attribute: str, read: Callable[[etree._Element, str], _T]
) -> _T | None:
    return None if element.get(attribute) is None else read(element, attribute)


# --- Import into a journal source ----------------------------------------------------


def school_year_of(journal: ClassJournal) -> SchoolYear:
    """The one-class `SchoolYear` holding exactly the snapshot's data (R10).

    Written to an empty journal database and extracted again for the same class and
    span, it gives a snapshot equal to `journal`: that is what makes an archived
    journal.xml importable. One addition is needed: a mark or absence may name a
    student who is not in the snapshot (recorded for someone not enrolled then; the
    validators report it), and a database needs a student row for it. Such a student
    is added with the id alone and empty names, since the archive knows nothing else;
    with no enrolment, they stay out of the extracted snapshot's students.
    """
    known = {s.id for s in journal.students}
    referenced = {m.student_id for m in journal.marks} | {a.student_id for a in journal.absences}
    unnamed = tuple(Student("", "", "", id=student_id) for student_id in sorted(referenced - known))
    return SchoolYear(
        school=journal.school,
        year=journal.year,
        periods=journal.periods,
        holidays=journal.holidays,
        teachers=journal.teachers,
        classes=(journal.school_class,),
        students=journal.students + unnamed,
        enrolments=journal.enrolments,
        guardians=journal.guardians,
        subjects=journal.subjects,
        courses=journal.courses,
        course_members=journal.course_members,
        lessons=journal.lessons,
        marks=journal.marks,
        absences=journal.absences,
        final_marks=journal.final_marks,
    )
