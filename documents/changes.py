"""What changed in the marks between two versions of a class's journal (R9).

Marks are never silently corrected: when a period is archived again and its marks
differ, the new bundle names the version it supersedes and lists every mark added,
changed or removed, with student, subject and lesson date (CHANGES.txt, and a
one-line summary in bag-info.txt). A mark is recognised by (student id, lesson id,
mark id); it has changed when its value or kind of work differs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from journal.model import ClassJournal, Mark, person_sort_key
from journal.russian import format_date_short


class ChangeKind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class MarkChange:
    kind: ChangeKind
    student_id: int
    lesson_id: int
    mark_id: int
    student: str  # full name
    subject: str
    lesson_date: dt.date
    old_value: str | None  # None when added
    new_value: str | None  # None when removed
    old_work_kind: str | None
    new_work_kind: str | None


MarkKey = tuple[int, int, int]


def diff_marks(old: ClassJournal, new: ClassJournal) -> list[MarkChange]:
    """Marks added, changed and removed from `old` to `new`, in journal order.

    Order: lesson date, subject (curriculum order), lesson number, student
    (Russian alphabetical order), mark id — the same for the same two journals.
    A removed mark is described from `old`, any other from `new`.
    """
    old_marks = {_key(m): m for m in old.marks}
    new_marks = {_key(m): m for m in new.marks}
    found: list[tuple[tuple, MarkChange]] = []
    for key in sorted(old_marks.keys() | new_marks.keys()):
        before, after = old_marks.get(key), new_marks.get(key)
        if before and after and (before.value, before.work_kind) == (after.value, after.work_kind):
            continue
        kind = (
            ChangeKind.ADDED
            if before is None
            else ChangeKind.REMOVED
            if after is None
            else ChangeKind.CHANGED
        )
        journal, mark = (old, before) if after is None else (new, after)
        order, change = _describe(journal, mark, kind, before, after)
        found.append((order, change))
    return [change for _, change in sorted(found, key=lambda pair: pair[0])]


def _key(mark: Mark) -> MarkKey:
    return (mark.student_id, mark.lesson_id, mark.id)


def _describe(
    journal: ClassJournal, mark: Mark, kind: ChangeKind, before: Mark | None, after: Mark | None
) -> tuple[tuple, MarkChange]:
    where = f"{journal.school_class.name}, {journal.span_name}"
    lesson = journal.lesson_by_id.get(mark.lesson_id)
    student = journal.student_by_id.get(mark.student_id)
    if lesson is None or student is None:
        missing = f"урока {mark.lesson_id}" if lesson is None else f"ученика {mark.student_id}"
        raise ValueError(f"Журнал {where}: отметка {mark.id} ссылается на отсутствующего {missing}")
    subject = journal.subject_by_id[journal.course_by_id[lesson.course_id].subject_id]
    change = MarkChange(
        kind=kind,
        student_id=mark.student_id,
        lesson_id=mark.lesson_id,
        mark_id=mark.id,
        student=student.full_name,
        subject=subject.name,
        lesson_date=lesson.date,
        old_value=before.value if before else None,
        new_value=after.value if after else None,
        old_work_kind=before.work_kind if before else None,
        new_work_kind=after.work_kind if after else None,
    )
    order = (lesson.date, subject.ordinal, subject.name, lesson.number, person_sort_key(student), mark.id)
    return order, change


def summarize_changes(changes: Sequence[MarkChange]) -> str:
    """One line for bag-info.txt `Changes`: «отметок добавлено: 1, изменено: 2, удалено: 0»."""
    counts = {kind: sum(1 for c in changes if c.kind is kind) for kind in ChangeKind}
    return (
        f"отметок добавлено: {counts[ChangeKind.ADDED]}, изменено: {counts[ChangeKind.CHANGED]}, "
        f"удалено: {counts[ChangeKind.REMOVED]}"
    )


def format_changes(changes: Sequence[MarkChange], supersedes: str = "") -> str:
    """CHANGES.txt in Russian: a heading, the counts, then one line per changed mark."""
    heading = f"Изменения по сравнению с версией {supersedes}" if supersedes else "Изменения отметок"
    lines = [heading, summarize_changes(changes).capitalize() + ".", ""]
    if not changes:
        lines.append("Отметки не изменились; новая версия отличается другими данными журнала.")
    lines += [_change_line(change) for change in changes]
    return "\n".join(lines) + "\n"


def _change_line(change: MarkChange) -> str:
    where = f"{format_date_short(change.lesson_date)}, {change.subject}, {change.student}"
    if change.kind is ChangeKind.ADDED:
        return f"{where}: добавлена отметка {change.new_value} ({change.new_work_kind})"
    if change.kind is ChangeKind.REMOVED:
        return f"{where}: удалена отметка {change.old_value} ({change.old_work_kind})"
    if change.old_value == change.new_value:
        kinds = f"«{change.old_work_kind}» изменён на «{change.new_work_kind}»"
        return f"{where}: у отметки {change.new_value} вид работы {kinds}"
    if change.old_work_kind != change.new_work_kind:
        work = f"вид работы: {change.old_work_kind} → {change.new_work_kind}"
    else:
        work = str(change.new_work_kind)
    return f"{where}: отметка {change.old_value} изменена на {change.new_value} ({work})"
