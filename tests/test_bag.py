"""BagIt bags (RFC 8493) and mark change lists: reproducible, checkable with standard tools (R5, R7, R9)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import bagit
import pytest

from documents.bag import BagError, bag_files, read_bag_info, verify_bag_against_manifests, write_bag
from documents.changes import ChangeKind, diff_marks, format_changes, summarize_changes
from journal.model import Mark
from storage.bagformat import FOLD_WIDTH, format_tag_fields, parse_tag_fields
from tests.bundles import PAYLOAD, sample_bag_info, sample_journal, write_sample_bag


def snapshot(directory: Path) -> dict[str, tuple[bytes | None, int, int]]:
    """Every file and folder of a tree: bytes (None for folders), mtime in ns, mode."""
    result = {".": (None, directory.stat().st_mtime_ns, directory.stat().st_mode)}
    for path in sorted(directory.rglob("*")):
        info = path.stat()
        result[path.relative_to(directory).as_posix()] = (
            path.read_bytes() if path.is_file() else None,
            info.st_mtime_ns,
            info.st_mode,
        )
    return result


def tar_bytes(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(directory, arcname=directory.name)
    return buffer.getvalue()


def test_bag_written_twice_is_byte_identical_with_same_mtimes(tmp_path: Path) -> None:
    first = write_sample_bag(tmp_path / "one", 2, supersedes="2024-2025-5a-q1-v1", changes="Изменения\n")
    second = write_sample_bag(tmp_path / "two", 2, supersedes="2024-2025-5a-q1-v1", changes="Изменения\n")
    assert snapshot(first) == snapshot(second)
    assert tar_bytes(first) == tar_bytes(second)
    assert sorted(os.listdir(first)) == [
        "CHANGES.txt",
        "README.txt",
        "bag-info.txt",
        "bagit.txt",
        "data",
        "manifest-sha256.txt",
        "manifest-sha512.txt",
        "tagmanifest-sha256.txt",
        "tagmanifest-sha512.txt",
    ]


def test_dates_and_mtimes_come_from_the_data_not_the_clock(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path)
    info = read_bag_info(bag)
    assert info["Bagging-Date"] == "2024-10-25"
    midnight = int(dt.datetime(2024, 10, 25, tzinfo=dt.UTC).timestamp())
    assert {int(mtime // 10**9) for _, mtime, _ in snapshot(bag).values()} == {midnight}
    assert info["Payload-Oxum"] == f"{sum(len(b) for b in PAYLOAD.values())}.{len(PAYLOAD)}"
    assert info["Bag-Software-Agent"].startswith("journal-archive ")
    assert info["Retain-Until"] == "2030-12-31"
    assert info["Retention-Class"] == "quarter"
    assert info["External-Identifier"] == bag.name == "2024-2025-5a-q1-v1"
    assert "Supersedes" not in info


def test_bagit_library_validates_the_bag(tmp_path: Path) -> None:
    bag = bagit.Bag(str(write_sample_bag(tmp_path, changes="Изменения\n")))
    assert bag.validate()
    assert sorted(bag.algorithms) == ["sha256", "sha512"]
    assert bag.info["External-Identifier"] == "2024-2025-5a-q1-v1"


@pytest.mark.parametrize(
    "command", [["sha256sum", "-c", "manifest-sha256.txt"], ["sha512sum", "-c", "tagmanifest-sha512.txt"]]
)
def test_coreutils_check_passes_inside_the_bag(tmp_path: Path, command: list[str]) -> None:
    bag = write_sample_bag(tmp_path)
    result = subprocess.run(command, cwd=bag, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") >= 5


def test_manifests_are_sorted_two_space_lf_utf8(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path)
    manifest = (bag / "manifest-sha256.txt").read_bytes()
    assert b"\r" not in manifest and manifest.endswith(b"\n")
    lines = manifest.decode("utf-8").splitlines()
    assert all(re.fullmatch(r"[0-9a-f]{64}  data/\S+", line) for line in lines)
    paths = [line.split("  ", 1)[1] for line in lines]
    assert paths == sorted(paths) == sorted(f"data/{name}" for name in PAYLOAD)
    tags = [line.split("  ", 1)[1] for line in (bag / "tagmanifest-sha512.txt").read_text().splitlines()]
    assert tags == ["README.txt", "bag-info.txt", "bagit.txt", "manifest-sha256.txt", "manifest-sha512.txt"]
    assert (bag / "bagit.txt").read_bytes() == b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


def test_readme_is_russian_and_tells_how_to_check(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path, changes="Изменения\n")
    readme = (bag / "README.txt").read_text(encoding="utf-8")
    assert "cd 2024-2025-5a-q1-v1 && sha256sum -c manifest-sha256.txt" in readme
    assert "    sha256sum -c tagmanifest-sha256.txt" in readme
    for name in [*(f"data/{n}" for n in PAYLOAD), "bag-info.txt", "CHANGES.txt", "tagmanifest-sha512.txt"]:
        assert f"\n{name}" in readme, name
    assert "Контрольные суммы" in readme


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda bag: (bag / "data/journal.pdf").write_bytes(b"%PDF forged"),
            "data/journal.pdf: контрольная сумма",
        ),
        (lambda bag: (bag / "data/csv/marks.csv").unlink(), "data/csv/marks.csv: файл отсутствует"),
        (lambda bag: (bag / "data/extra.txt").write_text("x"), "data/extra.txt: лишний файл"),
        (
            lambda bag: (bag / "bag-info.txt").write_text("Bagging-Date: 2000-01-01\n"),
            "bag-info.txt: контрольная",
        ),
        (lambda bag: (bag / "tagmanifest-sha256.txt").unlink(), "tagmanifest-sha256.txt: файл отсутствует"),
    ],
)
def test_tampering_is_caught_naming_the_file(tmp_path: Path, tamper, expected: str) -> None:
    bag = write_sample_bag(tmp_path)
    assert verify_bag_against_manifests(bag) == []
    tamper(bag)
    problems = verify_bag_against_manifests(bag)
    assert any(problem.startswith(expected) for problem in problems), problems
    assert not bagit.Bag(str(bag)).is_valid() or expected.startswith("tagmanifest")


def test_long_values_fold_and_read_back_exactly() -> None:
    value = "Муниципальное бюджетное общеобразовательное учреждение «Средняя школа № 7»  с двумя пробелами"
    digest = "sha256:" + "a" * 64 + "b" * 30
    text = format_tag_fields([("Source-Organization", value), ("Source-Fingerprint", digest)])
    lines = text.splitlines()
    assert len(lines) > 2
    assert all(len(line) <= FOLD_WIDTH for line in lines if not line.startswith("Source-Fingerprint"))
    assert f"Source-Fingerprint: {digest}" in lines  # nothing to fold at: kept on one line
    assert parse_tag_fields(text.encode(), "bag-info.txt") == [
        ("Source-Organization", value),
        ("Source-Fingerprint", digest),
    ]


def test_write_bag_refuses_unsafe_names_and_existing_bags(tmp_path: Path) -> None:
    info = sample_bag_info()
    readme = "data/../x data/etc/passwd"
    for name in ["../x", "/etc/passwd", "a//b", "a\\b"]:
        with pytest.raises(BagError):
            write_bag(tmp_path / "bag", {name: b"x"}, info, readme)
    with pytest.raises(BagError, match=r"data/journal\.xml"):
        write_bag(tmp_path / "bag", {"journal.xml": b"x"}, info, "README без списка")
    bag = write_sample_bag(tmp_path)
    with pytest.raises(BagError, match="уже существует"):
        write_sample_bag(tmp_path)
    assert verify_bag_against_manifests(bag) == []
    assert sorted(os.listdir(tmp_path)) == [bag.name]


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def failing_utime(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real_utime(*args, **kwargs)

    real_utime = os.utime
    monkeypatch.setattr(os, "utime", failing_utime)
    with pytest.raises(OSError, match="No space"):
        write_sample_bag(tmp_path)
    assert os.listdir(tmp_path) == []


def test_bag_files_lists_everything_relative(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path)
    assert "data/csv/marks.csv" in bag_files(bag)
    shutil.rmtree(bag / "data")
    assert any("data/journal.pdf: файл отсутствует" in p for p in verify_bag_against_manifests(bag))


# --- diff_marks (R9) -------------------------------------------------------------


def test_diff_marks_finds_exactly_one_changed_mark() -> None:
    old = sample_journal()
    marks = tuple(dataclasses.replace(m, value="5") if m.id == 41 else m for m in old.marks)
    new = dataclasses.replace(old, marks=marks)
    changes = diff_marks(old, new)
    assert len(changes) == 1
    (change,) = changes
    assert change.kind is ChangeKind.CHANGED
    assert (change.student, change.subject, change.lesson_date) == (
        "Ёжиков Пётр Ильич",
        "Математика",
        dt.date(2024, 9, 12),
    )
    assert (change.old_value, change.new_value) == ("4", "5")
    assert diff_marks(old, old) == []


def test_diff_marks_added_removed_changed_in_journal_order() -> None:
    old = sample_journal()
    kept = tuple(m for m in old.marks if m.id != 45)  # removed: 01.10, Иванова
    changed = tuple(
        dataclasses.replace(m, work_kind="самостоятельная работа") if m.id == 43 else m for m in kept
    )
    new = dataclasses.replace(old, marks=(*changed, Mark(46, 31, 11, "3", "ответ на уроке")))
    changes = diff_marks(old, new)
    assert [(c.kind, c.mark_id) for c in changes] == [
        (ChangeKind.CHANGED, 43),  # 12.09, Русский язык (ordinal 1), lesson 1
        (ChangeKind.ADDED, 46),  # 12.09, Математика, Ёжиков
        (ChangeKind.REMOVED, 45),  # 01.10
    ]
    assert diff_marks(old, new) == changes
    assert summarize_changes(changes) == "отметок добавлено: 1, изменено: 1, удалено: 1"
    text = format_changes(changes, supersedes="2024-2025-5a-q1-v1")
    assert text.splitlines()[:2] == [
        "Изменения по сравнению с версией 2024-2025-5a-q1-v1",
        "Отметок добавлено: 1, изменено: 1, удалено: 1.",
    ]
    assert "12.09.2024, Математика, Ёжиков Пётр Ильич: добавлена отметка 3 (ответ на уроке)" in text
    assert "01.10.2024, Математика, Иванова Мария Олеговна: удалена отметка 4 (контрольная работа)" in text
    assert "вид работы «диктант» изменён на «самостоятельная работа»" in text
