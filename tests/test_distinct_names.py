"""Two classes never share a bundle id (R9): «5А/..» and «5А» both give `5a` in ids and folders.

A class whose name maps to the same id as another class's of the year is refused before
anything is built, with a message naming both classes; the other classes go on.
"""

from __future__ import annotations

from pathlib import Path

from journal.source import open_source
from pipeline.archive import ArchiveStatus, archive_period_class, check_distinct_class_id
from pipeline.errors import USER_ERRORS, ClassNameClash
from tests.homes import make_demo_home

YEAR = "2024/2025"


def test_two_classes_with_one_id_are_refused_naming_both(tmp_path: Path) -> None:
    settings = make_demo_home(tmp_path / "home")
    engine = open_source(settings.source_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO school_class (year_id, id, name, grade, letter, class_teacher_id, period_scheme)"
            " SELECT year_id, id + 1000, '5А/..', grade, letter, class_teacher_id, period_scheme"
            " FROM school_class WHERE name = '5А'"
        )
    engine.dispose()

    result = archive_period_class(settings, YEAR, "5А", "Q1")
    assert result.status == ArchiveStatus.FAILED, result
    assert "«5А», «5А/..»" in result.message and "«5a»" in result.message
    assert "ClassNameClash" not in result.message
    assert all(not target.list_bundles() for target in settings.targets())


def test_the_rule_itself() -> None:
    check_distinct_class_id("5А", ["5А", "5Б", "10А"])
    for clash in (["5А", "5A"], ["5А", "5а"], ["5А", "5А/.."]):
        try:
            check_distinct_class_id("5А", clash)
        except ClassNameClash as error:
            assert f"«{clash[1]}»" in str(error)
        else:
            raise AssertionError(clash)
    assert ClassNameClash in USER_ERRORS
