"""Our own RFC 8493 validator (validators/bagit_rfc8493.py) on our own test bags, valid and invalid (R7).

Each bag is built here by a few small helpers, then one thing is broken; the report
must call the bag INVALID, name the file at fault and cite the RFC section. Valid
bags are cross-checked with bagit-python where it implements the same rule.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from pathlib import Path

import bagit
import boto3
import pytest

import validators.bagit_rfc8493 as rfc8493
from storage.s3 import S3Target
from tests.bundles import folder_target, sample_key, write_sample_bag
from tests.s3server import S3Server
from validators.bagit_rfc8493 import (
    CHUNK_SIZE,
    THREADED_MIN_SIZE,
    BagReport,
    DirectorySource,
    TargetSource,
    Throttle,
    format_report,
    hash_stream,
    validate_bag,
)

PAYLOAD = {
    "data/journal.pdf": b"%PDF-1.7\n% a journal\n",
    "data/csv/marks.csv": "ученик,отметка\nЁжиков Пётр,5\n".encode(),
    "data/Журнал 5А.xml": '<journal класс="5А"/>\n'.encode(),
}
INFO = "Source-Organization: Школа № 7\nBagging-Date: 2024-10-25\nPayload-Oxum: {oxum}\n"


# --- building test bags ------------------------------------------------------------------


def encode_path(path: str) -> str:
    """RFC 8493 §2.1.3: only %, CR and LF are percent-encoded in manifest paths."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def make_bag(
    root: Path,
    payload: dict[str, bytes] | None = None,
    *,
    algorithms: tuple[str, ...] = ("sha256", "sha512"),
    tag_algorithms: tuple[str, ...] = ("sha256", "sha512"),
    info: str | None = INFO,
    encoding: str = "UTF-8",
    newline: str = "\n",
    version: str = "1.0",
    tags: dict[str, bytes] | None = None,
) -> Path:
    """A complete, valid bag at root/bag: payload (paths start with data/), manifests, bag-info, tags."""
    bag = root / "bag"
    payload = PAYLOAD if payload is None else payload
    (bag / "data").mkdir(parents=True)
    for path, data in payload.items():
        write(bag, path, data)
    write(
        bag,
        "bagit.txt",
        f"BagIt-Version: {version}\nTag-File-Character-Encoding: {encoding}\n",
        newline=newline,
    )
    for algorithm in algorithms:
        lines = [
            f"{hashlib.new(algorithm, payload[p]).hexdigest()}  {encode_path(p)}" for p in sorted(payload)
        ]
        write_text(bag, f"manifest-{algorithm}.txt", lines, encoding, newline)
    if info is not None:
        oxum = f"{sum(len(d) for d in payload.values())}.{len(payload)}"
        write_text(bag, "bag-info.txt", info.format(oxum=oxum).splitlines(), encoding, newline)
    for path, data in (tags or {}).items():
        write(bag, path, data)
    write_tagmanifests(bag, tag_algorithms, encoding, newline)
    return bag


def write(bag: Path, relpath: str, data: bytes | str, newline: str = "\n") -> None:
    path = bag.joinpath(*relpath.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.replace("\n", newline).encode() if isinstance(data, str) else data)


def write_text(
    bag: Path, relpath: str, lines: list[str], encoding: str = "UTF-8", newline: str = "\n"
) -> None:
    write(bag, relpath, "".join(line + newline for line in lines).encode(encoding))


def write_tagmanifests(
    bag: Path,
    algorithms: tuple[str, ...] = ("sha256", "sha512"),
    encoding: str = "UTF-8",
    newline: str = "\n",
) -> None:
    """(Re)write the tag manifests over every file outside data/, as after a legitimate tag change."""
    for old in bag.glob("tagmanifest-*.txt"):
        old.unlink()
    tag_files = sorted(
        path.relative_to(bag).as_posix()
        for path in bag.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and not path.relative_to(bag).as_posix().startswith("data/")
    )
    for algorithm in algorithms:
        lines = [f"{hashlib.new(algorithm, (bag / p).read_bytes()).hexdigest()}  {p}" for p in tag_files]
        write_text(bag, f"tagmanifest-{algorithm}.txt", lines, encoding, newline)


def edit_manifest(bag: Path, name: str, lines: list[str], *, retag: bool = True) -> None:
    write_text(bag, name, lines)
    if retag:
        write_tagmanifests(bag)


def manifest_lines(bag: Path, name: str) -> list[str]:
    return (bag / name).read_text(encoding="utf-8").splitlines()


def check(bag: Path) -> BagReport:
    return validate_bag(DirectorySource(bag))


def assert_valid(report: BagReport, *, warnings: int = 0) -> None:
    assert report.valid, format_report([report])
    assert len(report.warnings) == warnings, format_report([report])


def assert_problem(report: BagReport, path: str, section: str, *words: str) -> None:
    """INVALID, with a problem on `path` citing `section` whose message names the path and has `words`."""
    assert not report.valid
    found = [p for p in report.problems if p.path == path and p.rule == f"RFC 8493 §{section}"]
    assert any(all(w in p.message for w in words) for p in found), format_report([report])
    assert all(p.message.startswith(path) or not path for p in found)


def assert_warning(report: BagReport, path: str, section: str, *words: str) -> None:
    found = [p for p in report.warnings if p.path == path and p.rule == f"RFC 8493 §{section}"]
    assert any(all(w in p.message for w in words) for p in found), format_report([report])


def bagit_python_validates(bag: Path) -> None:
    bagit.Bag(str(bag)).validate()


# --- valid bags ---------------------------------------------------------------------------


def test_a_complete_bag_is_valid_with_no_warnings(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    report = check(bag)
    assert_valid(report)
    assert report.files_checked == 3 + 4  # payload; bagit.txt, bag-info.txt, 2 manifests; none twice
    assert report.bytes_hashed == sum(len(d) for d in PAYLOAD.values()) + sum(
        (bag / name).stat().st_size
        for name in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sha512.txt")
    )
    bagit_python_validates(bag)


def test_bags_written_by_write_bag_are_valid_without_warnings(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path, changes="Изменения\n")
    assert_valid(check(bag))
    target = folder_target("primary", tmp_path / "primary")
    target.put_bundle(sample_key(bag), bag)
    report = validate_bag(TargetSource(target, sample_key(bag)))
    assert_valid(report)
    assert report.bag == f"primary:{sample_key(bag)}"


@pytest.mark.parametrize("newline", ["\n", "\r", "\r\n"], ids=["LF", "CR", "CRLF"])
def test_tag_file_lines_may_end_in_lf_cr_or_crlf(tmp_path: Path, newline: str) -> None:
    bag = make_bag(tmp_path, newline=newline)
    assert_valid(check(bag))
    bagit_python_validates(bag)


def test_tag_files_in_the_declared_encoding_are_read_in_it(tmp_path: Path) -> None:
    """A UTF-16 bag: manifests with Cyrillic names and bag-info.txt decode; only the SHOULD warns."""
    bag = make_bag(tmp_path, encoding="UTF-16")
    assert (bag / "manifest-sha256.txt").read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "bagit.txt", "2.1.1", "UTF-16", "UTF-8")
    bagit_python_validates(bag)


def test_a_utf8_byte_order_mark_in_a_manifest_is_skipped_with_a_warning(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "manifest-sha256.txt").write_bytes(b"\xef\xbb\xbf" + (bag / "manifest-sha256.txt").read_bytes())
    write_tagmanifests(bag)
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "manifest-sha256.txt", "2.1.1", "BOM")


def test_cr_lf_and_percent_in_names_are_percent_decoded(tmp_path: Path) -> None:
    """Not cross-checked: bagit-python writes and reads % unencoded, against §2.1.3."""
    payload = {
        "data/100%.txt": b"a",
        "data/two\nlines.txt": b"b",
        "data/cr\rname.txt": b"c",
        "data/%41": b"d",
    }
    bag = make_bag(tmp_path, payload)
    assert "data/100%25.txt" in (bag / "manifest-sha256.txt").read_text()
    assert "data/%2541" in (bag / "manifest-sha256.txt").read_text()
    assert_valid(check(bag))


def test_bag_info_continuation_lines_are_unfolded(tmp_path: Path) -> None:
    info = "External-Description: Электронный журнал\n  5А класса,\n\tI четверть\nPayload-Oxum:\n {oxum}\n"
    bag = make_bag(tmp_path, info=info)
    assert_valid(check(bag))
    bagit_python_validates(bag)


def test_empty_folders_and_other_tag_files_are_fine(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, tags={"README.txt": "Пакет\n".encode(), "meta/mets.xml": b"<mets/>\n"})
    (bag / "data" / "empty").mkdir()
    (bag / "notes").mkdir()
    assert_valid(check(bag))
    bagit_python_validates(bag)


def test_bag_info_and_tag_manifests_are_optional(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, info=None, tag_algorithms=())
    assert not (bag / "bag-info.txt").exists() and not list(bag.glob("tagmanifest-*"))
    assert_valid(check(bag))
    bagit_python_validates(bag)


def test_an_empty_payload_is_valid(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, {})
    assert_valid(check(bag))
    bagit_python_validates(bag)


def test_a_0_97_bag_of_1_0_style_paths_is_valid_with_one_warning(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, version="0.97")
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "bagit.txt", "2.1.1", "0.97")


def test_a_0_97_bag_is_checked_by_the_0_97_rules(tmp_path: Path) -> None:
    """Issue 14: 0.97 (draft-kunze-bagit-14) percent-encodes nothing and allows "./" before a path;
    the 1.0-only rules (an unencoded % is an error, %25 is %, "." segments) must not refuse it."""
    payload = {"data/100%.txt": b"a", "data/%41.txt": b"b", "data/plain.txt": b"c"}
    bag = make_bag(tmp_path, payload, version="0.97")
    for algorithm in ("sha256", "sha512"):  # as a 0.97 tool writes them: literal paths, some with ./
        lines = [
            f"{hashlib.new(algorithm, payload[p]).hexdigest()}  {'./' if p.endswith('1.txt') else ''}{p}"
            for p in sorted(payload)
        ]
        edit_manifest(bag, f"manifest-{algorithm}.txt", lines)
    assert "  ./data/%41.txt" in (bag / "manifest-sha256.txt").read_text()
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "bagit.txt", "2.1.1", "0.97")

    one_0 = make_bag(tmp_path / "1.0", payload)  # the same manifests under 1.0 are refused
    for name in ("manifest-sha256.txt", "manifest-sha512.txt"):
        write(one_0, name, (bag / name).read_bytes())
    write_tagmanifests(one_0)
    report = check(one_0)
    assert not report.valid
    assert_problem(report, "manifest-sha256.txt", "2.1.3", "«%» не закодирован")
    assert_problem(report, "manifest-sha256.txt", "2.1.3", "«.»")


def test_a_0_97_manifest_means_what_it_writes(tmp_path: Path) -> None:
    """In 0.97 %25 is three characters, not %: a 1.0-encoded path names a file the bag lacks."""
    bag = make_bag(tmp_path, {"data/100%.txt": b"a"}, version="0.97")  # make_bag encodes as 1.0
    assert "data/100%25.txt" in (bag / "manifest-sha256.txt").read_text()
    report = check(bag)
    assert not report.valid
    assert_problem(report, "data/100%25.txt", "3", "файл отсутствует")
    assert_problem(report, "data/100%.txt", "3", "нет в manifest-sha256.txt")


def test_md5_only_manifests_are_valid_with_a_warning(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, algorithms=("md5",), tag_algorithms=("md5",))
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "manifest-md5.txt", "2.4", "MD5", "SHA-512")
    bagit_python_validates(bag)


def test_sha1_payload_with_sha256_tag_manifest_warns_about_algorithms(tmp_path: Path) -> None:
    report = check(make_bag(tmp_path, algorithms=("sha1",), tag_algorithms=("sha256",)))
    assert_valid(report, warnings=2)
    assert_warning(report, "tagmanifest-sha256.txt", "2.2.1", "SHA-256")


def test_an_identical_duplicate_entry_is_a_warning(tmp_path: Path) -> None:
    """Our decision (see the module): nothing is ambiguous, so a warning; bagit-python refuses the bag."""
    bag = make_bag(tmp_path)
    lines = manifest_lines(bag, "manifest-sha256.txt")
    edit_manifest(bag, "manifest-sha256.txt", [*lines, lines[0]])
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "manifest-sha256.txt", "2.1.3", "строки 1 и 4", "дважды", "совпадают")


def test_fetch_txt_entries_are_reported_never_fetched(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    size = len(PAYLOAD["data/journal.pdf"])
    report_bag_tags(bag, {"fetch.txt": f"https://archive.example/journal.pdf {size} data/journal.pdf\n"})
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "fetch.txt", "2.2.3", "data/journal.pdf", "https://archive.example/journal.pdf")


def report_bag_tags(bag: Path, tags: dict[str, str]) -> None:
    for path, text in tags.items():
        write(bag, path, text)
    write_tagmanifests(bag)


# --- hashing, throttle, report ------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 5 * CHUNK_SIZE + 7])
def test_hash_stream_gives_hashlib_digests_threaded_or_not(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    algorithms = ["sha512", "sha256", "md5"]
    digests, read = hash_stream(io.BytesIO(data), algorithms, size_hint=size)
    assert read == size
    assert digests == {a: hashlib.new(a, data).hexdigest() for a in algorithms}


class FakeTime:
    """A clock that moves only when someone sleeps on it: throttling measured without waiting."""

    def __init__(self) -> None:
        self.now = 0.0
        self.naps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.naps.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("size", [2_000_000, THREADED_MIN_SIZE + 7])
def test_max_rate_keeps_reading_under_the_cap(size: int) -> None:
    """--max-rate: after every chunk, reading waits until the average is back at the cap, no longer."""
    fake = FakeTime()
    data = os.urandom(size)
    throttle = Throttle(8, clock=fake.clock, sleep=fake.sleep)
    digests, read = hash_stream(io.BytesIO(data), ["sha256", "sha512"], throttle, size_hint=size)
    assert (read, digests["sha256"]) == (size, hashlib.sha256(data).hexdigest())
    assert fake.now == pytest.approx(size / 8e6)
    assert len(fake.naps) == -(-size // CHUNK_SIZE)  # one wait per chunk: the clock never moved by itself

    unlimited = FakeTime()
    hash_stream(io.BytesIO(data), ["sha256"], Throttle(None, clock=unlimited.clock, sleep=unlimited.sleep))
    assert unlimited.naps == []
    with pytest.raises(ValueError, match="больше нуля"):
        Throttle(0)


def test_a_throttled_validation_reports_like_an_unthrottled_one(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, {"data/big.bin": os.urandom(300_000)})
    report = validate_bag(DirectorySource(bag), max_rate_mb_s=50)
    assert report.valid
    assert (report.files_checked, report.bytes_hashed) == (check(bag).files_checked, check(bag).bytes_hashed)


def test_format_report_text_and_json(tmp_path: Path) -> None:
    good = check(make_bag(tmp_path / "a"))
    bad_bag = make_bag(tmp_path / "b")
    (bad_bag / "data" / "journal.pdf").write_bytes(b"changed")
    bad = check(bad_bag)
    text = format_report([good, bad])
    assert text.splitlines()[0].startswith(f"VALID  {good.bag}  (7 файлов")
    assert f"INVALID  {bad.bag}" in text
    mismatch = "data/journal.pdf: контрольная сумма SHA-256 не совпадает с manifest-sha256.txt"
    assert f"  ошибка: {mismatch} [RFC 8493 §3]" in text
    assert text.rstrip().endswith("Проверено пакетов: 2; исправных: 1; с ошибками: 1")
    document = json.loads(format_report([good, bad], json=True))
    assert [b["status"] for b in document["bags"]] == ["VALID", "INVALID"]
    assert list(document["bags"][1]) == [
        "bag", "status", "valid", "files_checked", "bytes_hashed", "seconds", "problems", "warnings"
    ]  # fmt: skip
    declared = sum(len(data) for data in PAYLOAD.values())
    found = declared - len(PAYLOAD["data/journal.pdf"]) + len(b"changed")
    oxum = (
        f"bag-info.txt: Payload-Oxum {declared}.3 ({declared} байт в 3 файлах), "
        f"а в папке data/ {found} байт в 3 файлах"
    )
    assert f"  ошибка: {oxum} [RFC 8493 §2.2.2]" in text
    assert document["bags"][1]["problems"] == [
        {"path": "bag-info.txt", "rule": "RFC 8493 §2.2.2", "message": oxum},
        {"path": "data/journal.pdf", "rule": "RFC 8493 §3", "message": mismatch},
        {"path": "data/journal.pdf", "rule": "RFC 8493 §3", "message": mismatch.replace("256", "512")},
    ]
    assert document["summary"] == {"bags": 2, "valid": 1, "invalid": 1}


# --- invalid: payload changed ----------------------------------------------------------------


def test_a_corrupted_payload_file_is_named_for_each_algorithm(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    path = bag / "data" / "Журнал 5А.xml"
    path.write_bytes(path.read_bytes().replace(b"5", b"6"))  # same size: Payload-Oxum still matches
    report = check(bag)
    assert_problem(report, "data/Журнал 5А.xml", "3", "SHA-256", "manifest-sha256.txt")
    assert_problem(report, "data/Журнал 5А.xml", "3", "SHA-512", "manifest-sha512.txt")
    assert len(report.problems) == 2
    with pytest.raises(bagit.BagValidationError):
        bagit_python_validates(bag)


def test_a_deleted_payload_file_is_named(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "data" / "csv" / "marks.csv").unlink()
    report = check(bag)
    assert_problem(
        report, "data/csv/marks.csv", "3", "отсутствует", "manifest-sha256.txt, manifest-sha512.txt"
    )
    assert_problem(report, "bag-info.txt", "2.2.2", "Payload-Oxum")


def test_an_added_payload_file_is_named(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, info=None)
    write(bag, "data/extra.txt", b"new")
    report = check(bag)
    assert_problem(report, "data/extra.txt", "3", "manifest-sha256.txt, manifest-sha512.txt")
    assert len(report.problems) == 1


def test_a_renamed_payload_file_is_named_under_both_names(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "data" / "journal.pdf").rename(bag / "data" / "journal-old.pdf")
    report = check(bag)
    assert_problem(report, "data/journal.pdf", "3", "отсутствует")
    assert_problem(report, "data/journal-old.pdf", "3", "нет в manifest-sha256.txt")


def test_a_file_missing_from_one_payload_manifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    edit_manifest(bag, "manifest-sha512.txt", manifest_lines(bag, "manifest-sha512.txt")[1:])
    report = check(bag)
    assert_problem(report, "data/csv/marks.csv", "3", "нет в manifest-sha512.txt")
    assert len(report.problems) == 1


def test_a_changed_tag_file_fails_its_tag_manifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    with (bag / "bag-info.txt").open("a", encoding="utf-8") as info:
        info.write("Contact-Name: Ёлкина Т. В.\n")
    report = check(bag)
    assert_problem(report, "bag-info.txt", "3", "SHA-256", "tagmanifest-sha256.txt")


def test_a_tag_file_listed_but_missing(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, tags={"README.txt": b"x\n"})
    (bag / "README.txt").unlink()
    assert_problem(check(bag), "README.txt", "3", "отсутствует", "tagmanifest-sha256.txt")


def test_a_tag_file_left_out_of_the_tag_manifests_is_a_warning(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    write(bag, "README.txt", b"x\n")
    report = check(bag)
    assert_valid(report, warnings=1)
    assert_warning(report, "README.txt", "2.2.1", "tagmanifest-sha256.txt, tagmanifest-sha512.txt")


def test_a_symlink_is_refused_and_not_followed(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_bytes(PAYLOAD["data/journal.pdf"])
    (bag / "data" / "journal.pdf").unlink()
    (bag / "data" / "journal.pdf").symlink_to(outside)
    report = check(bag)
    assert_problem(report, "data/journal.pdf", "5.1", "символическая ссылка")
    assert_problem(report, "data/journal.pdf", "3", "отсутствует")


def test_a_manifest_entry_naming_a_folder(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    lines = manifest_lines(bag, "manifest-sha256.txt")
    edit_manifest(bag, "manifest-sha256.txt", [*lines, f"{'0' * 64}  data/csv"])
    assert_problem(check(bag), "data/csv", "2.1.3", "папка")


# --- invalid: manifests ------------------------------------------------------------------------


def test_conflicting_duplicate_entries_are_an_error(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    lines = manifest_lines(bag, "manifest-sha256.txt")
    edit_manifest(bag, "manifest-sha256.txt", [*lines, f"{'a' * 64}  {lines[0].split('  ')[1]}"])
    report = check(bag)
    assert_problem(report, "manifest-sha256.txt", "2.1.3", "строки 1 и 4", "разными суммами")
    with pytest.raises(bagit.BagError):
        bagit_python_validates(bag)


def test_no_payload_manifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, algorithms=())
    assert_problem(check(bag), "", "2.1.3", "манифеста содержимого")


def test_an_unsupported_algorithm_cannot_be_verified(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    write(bag, "manifest-blake3.txt", b"00  data/journal.pdf\n")
    write_tagmanifests(bag)
    assert_problem(check(bag), "manifest-blake3.txt", "2.4", "blake3", "не поддерживается")


def test_a_malformed_manifest_line(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    edit_manifest(
        bag, "manifest-sha256.txt", [*manifest_lines(bag, "manifest-sha256.txt"), "not-hex  data/x"]
    )
    assert_problem(check(bag), "manifest-sha256.txt", "2.1.3", "строка 4", "not-hex")


def test_a_manifest_not_in_the_declared_encoding(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    write(bag, "manifest-sha256.txt", ("0" * 64 + "  data/Журнал.xml\n").encode("cp1251"))
    write_tagmanifests(bag)
    assert_problem(check(bag), "manifest-sha256.txt", "2.1.3", "UTF-8")


def test_a_payload_manifest_listing_a_tag_file(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    digest = hashlib.sha256((bag / "bagit.txt").read_bytes()).hexdigest()
    edit_manifest(
        bag, "manifest-sha256.txt", [*manifest_lines(bag, "manifest-sha256.txt"), f"{digest}  bagit.txt"]
    )
    assert_problem(check(bag), "manifest-sha256.txt", "2.1.3", "bagit.txt", "data/")


def test_a_tag_manifest_listing_a_payload_file_or_a_tag_manifest(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    lines = manifest_lines(bag, "tagmanifest-sha256.txt")
    payload_line = manifest_lines(bag, "manifest-sha256.txt")[0]
    extra = [payload_line, f"{'0' * 64}  tagmanifest-sha512.txt"]
    write_text(bag, "tagmanifest-sha256.txt", lines + extra)
    report = check(bag)
    assert_problem(report, "tagmanifest-sha256.txt", "2.2.1", "data/csv/marks.csv", "файл содержимого")
    assert_problem(report, "tagmanifest-sha256.txt", "2.2.1", "tagmanifest-sha512.txt")


@pytest.mark.parametrize(
    ("path", "section", "words"),
    [
        ("../secret.txt", "5.1", "«..»"),
        ("data/../../secret.txt", "5.1", "«..»"),
        ("/etc/hostname", "5.1", "абсолютный"),
        ("C:/secret.txt", "5.1", "абсолютный"),
        ("~/secret.txt", "5.1", "«~»"),
        ("data\\journal.pdf", "2.1.3", "обратная косая"),
        ("data//journal.pdf", "2.1.3", "пустая часть"),
        ("data/./journal.pdf", "2.1.3", "«.»"),
    ],
)
def test_paths_that_escape_the_bag_are_refused_unread(
    tmp_path: Path, path: str, section: str, words: str
) -> None:
    bag = make_bag(tmp_path)
    secret = b"outside the bag\n"
    (tmp_path / "secret.txt").write_bytes(secret)
    line = f"{hashlib.sha256(secret).hexdigest()}  {path}"
    edit_manifest(bag, "manifest-sha256.txt", [*manifest_lines(bag, "manifest-sha256.txt"), line])
    report = check(bag)
    assert_problem(report, "manifest-sha256.txt", section, "строка 4", words)
    assert report.files_checked == 7  # nothing outside was opened
    assert len(report.problems) == 1


def test_an_unencoded_percent_sign_is_an_error(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, {"data/100%.txt": b"a"})
    lines = [line.replace("%25", "%") for line in manifest_lines(bag, "manifest-sha256.txt")]
    edit_manifest(bag, "manifest-sha256.txt", lines)
    report = check(bag)
    assert_problem(report, "manifest-sha256.txt", "2.1.3", "%25")
    assert len(report.problems) == 1  # the literal path still resolves and verifies


# --- invalid: bagit.txt, data/ --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bagit_txt", "words"),
    [
        (None, ("отсутствует",)),
        (b"\xef\xbb\xbfBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n", ("BOM",)),
        (b"BagIt-Version: 1.0\n", ("ровно две строки", "1")),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\nExtra: 1\n", ("ровно две строки", "3")),
        (b"Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\n", ("строка 1", "BagIt-Version: M.N")),
        (b"BagIt-Version: 2.0\nTag-File-Character-Encoding: UTF-8\n", ("2.0", "не поддерживается")),
        (b"BagIt-Version: one\nTag-File-Character-Encoding: UTF-8\n", ("строка 1",)),
        (b"BagIt-Version: 1.0\nTag-File-Character-Encoding: KOI-9\n", ("KOI-9", "неизвестна")),
        ("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".encode("utf-16"), ("UTF-8",)),
    ],
    ids=[
        "missing",
        "bom",
        "one-line",
        "three-lines",
        "order",
        "version-2",
        "bad-version",
        "encoding",
        "utf16",
    ],
)
def test_bag_declaration_rules(tmp_path: Path, bagit_txt: bytes | None, words: tuple[str, ...]) -> None:
    bag = make_bag(tmp_path, tag_algorithms=())
    if bagit_txt is None:
        (bag / "bagit.txt").unlink()
    else:
        (bag / "bagit.txt").write_bytes(bagit_txt)
    assert_problem(check(bag), "bagit.txt", "2.1.1", *words)


def test_no_payload_directory(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, {}, info=None)
    (bag / "data").rmdir()
    assert_problem(check(bag), "data/", "2.1.2", "нет")
    (bag / "data").write_bytes(b"")
    assert_problem(check(bag), "data", "2.1.2", "файл")


def test_a_missing_bag_folder_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    report = check(tmp_path / "nowhere")
    assert not report.valid and report.problems[0].path == ""
    assert "не читается" in report.problems[0].message


# --- bag-info.txt ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("info", "valid", "words"),
    [
        (INFO.replace("{oxum}", "1.3"), False, ("Payload-Oxum 1.3", "1 байт в 3 файлах", "в папке data/")),
        (INFO.replace("{oxum}", "many"), False, ("«many»", "байты.файлы")),
        (INFO.replace("2024-10-25", "25.10.2024"), True, ("Bagging-Date", "ГГГГ-ММ-ДД")),
        (INFO + "Payload-Oxum: {oxum}\n", True, ("строки 3, 4", "Payload-Oxum", "повторяется")),
        (INFO + "no colon here\n", False, ("строка 4", "Метка: значение")),
        (" continued first\n" + INFO, False, ("строка 1", "без метки")),
        (INFO + "Label:value\n", False, ("строка 4", "пробел")),
    ],
    ids=[
        "oxum-mismatch",
        "oxum-malformed",
        "bagging-date",
        "oxum-repeated",
        "no-colon",
        "lone-continuation",
        "no-space",
    ],
)
def test_bag_info_rules(tmp_path: Path, info: str, valid: bool, words: tuple[str, ...]) -> None:
    report = check(make_bag(tmp_path, info=info))
    if valid:
        assert_valid(report, warnings=1)
        assert_warning(report, "bag-info.txt", "2.2.2", *words)
    else:
        assert_problem(report, "bag-info.txt", "2.2.2", *words)


# --- fetch.txt ------------------------------------------------------------------------------------------


def test_a_fetch_entry_missing_locally_makes_the_bag_incomplete(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    (bag / "data" / "journal.pdf").unlink()
    report_bag_tags(bag, {"fetch.txt": "https://archive.example/j.pdf - data/journal.pdf\n"})
    report = check(bag)
    assert_problem(report, "data/journal.pdf", "3", "fetch.txt", "неполный")
    assert len(report.problems) == 1  # not also "missing" or a Payload-Oxum mismatch
    assert_warning(report, "fetch.txt", "2.2.3", "https://archive.example/j.pdf")


@pytest.mark.parametrize(
    ("line", "path", "words"),
    [
        ("https://a.example/x 3 bag-info.txt", "fetch.txt", ("служебный файл",)),
        (
            "https://a.example/x 3 data/unlisted.txt",
            "fetch.txt",
            ("data/unlisted.txt", "manifest-sha256.txt"),
        ),
        ("not-a-url 3 data/journal.pdf", "fetch.txt", ("не адрес URL",)),
        ("https://a.example/x three data/journal.pdf", "fetch.txt", ("URL длина путь",)),
        ("https://a.example/x 999 data/journal.pdf", "data/journal.pdf", ("999",)),
        ("https://a.example/x 3 ../etc/passwd", "fetch.txt", ("«..»",)),
    ],
    ids=["tag-file", "unlisted", "bad-url", "bad-length", "wrong-length", "escape"],
)
def test_fetch_rules(tmp_path: Path, line: str, path: str, words: tuple[str, ...]) -> None:
    bag = make_bag(tmp_path)
    report_bag_tags(bag, {"fetch.txt": line + "\n"})
    report = check(bag)
    section = "5.1" if "«..»" in words else "2.2.3"
    assert_problem(report, path, section, *words)


# --- storage targets ---------------------------------------------------------------------------------------


def test_a_corrupted_file_on_a_target_is_named_with_the_target(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path)
    target = folder_target("reserve", tmp_path / "reserve")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    stored = tmp_path / "reserve" / key / "data" / "journal.xml"
    stored.chmod(0o644)
    stored.write_bytes(stored.read_bytes().replace(b"5", b"6"))
    report = validate_bag(TargetSource(target, key))
    assert_problem(report, "data/journal.xml", "3", "SHA-256")
    assert f"INVALID  reserve:{key}" in format_report([report])
    missing = validate_bag(TargetSource(target, key.replace("v1", "v9")))
    assert not missing.valid and "не найден" in missing.problems[0].message


def test_a_bag_in_an_s3_bucket_is_validated_in_place(tmp_path: Path, s3_server: S3Server) -> None:
    """Streamed from the bucket, nothing copied; a forged current version is caught and named."""
    bag = write_sample_bag(tmp_path)
    target = S3Target(
        "cloud",
        f"rfc8493-{secrets.token_hex(6)}",
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )
    key = sample_key(bag)
    target.put_bundle(key, bag)
    assert_valid(validate_bag(TargetSource(target, key)))
    client = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
    )
    client.put_object(Bucket=target.bucket, Key=f"{key}/data/journal.pdf", Body=b"%PDF forged")
    report = validate_bag(TargetSource(target, key))
    assert_problem(report, "data/journal.pdf", "3", "SHA-512", "manifest-sha512.txt")
    assert_problem(report, "bag-info.txt", "2.2.2", "Payload-Oxum")
    assert report.bag == f"cloud:{key}"


# --- every BagIt version: 0.93–0.97 (draft-kunze-bagit-00…14) and 1.0 (RFC 8493) ---------------

DRAFT_PAYLOAD = {"data/journal.txt": b"5A, I quarter\n", "data/100%25 marks.csv": b"a,5\n"}
DRAFTS = {"0.93": "00", "0.94": "01", "0.95": "02", "0.96": "03…04", "0.97": "05…14"}


def make_draft_bag(root: Path, version: str, *, info_file: str | None = None) -> Path:
    """A valid bag as a tool of that draft wrote it: MD5 manifests, paths as written (no percent-encoding),
    tab separators and md5sum's "*" binary marker, "./" before a path; package-info.txt with
    Packing-Date until 0.95, bag-info.txt with Bagging-Date after; a tag manifest from 0.95 on."""
    old = version in ("0.93", "0.94", "0.95")
    bag = root / f"bag-{version}"
    for path, data in DRAFT_PAYLOAD.items():
        write(bag, path, data)
    write(bag, "bagit.txt", f"BagIt-Version: {version}\nTag-File-Character-Encoding: UTF-8\n")
    journal, marks = (hashlib.md5(DRAFT_PAYLOAD[p]).hexdigest() for p in sorted(DRAFT_PAYLOAD)[::-1])
    write_text(bag, "manifest-md5.txt", [f"{journal} *data/journal.txt", f"{marks}\t./data/100%25 marks.csv"])
    oxum = f"{sum(map(len, DRAFT_PAYLOAD.values()))}.{len(DRAFT_PAYLOAD)}"
    date = "Packing-Date" if old else "Bagging-Date"
    info = ["Source-Organization: Школа № 7", f"{date}: 2009-05-25", f"Payload-Oxum: {oxum}"]
    write_text(bag, info_file or ("package-info.txt" if old else "bag-info.txt"), info)
    if version not in ("0.93", "0.94"):
        write_tagmanifests(bag, ("md5",))
    return bag


def findings(problems: tuple) -> list[tuple[str, str, str]]:
    return [(p.path, p.rule, p.message) for p in problems]


def draft_warning(version: str) -> tuple[str, str, str]:
    rules = "пути в манифестах и fetch.txt без процентного кодирования, «*» и «./» перед путём допускаются"
    if version in ("0.93", "0.94", "0.95"):
        rules += "; сведения о пакете в package-info.txt (Packing-Date, Package-Size)"
    if version in ("0.93", "0.94"):
        rules += "; манифестов служебных файлов нет"
    return (
        "bagit.txt",
        "RFC 8493 §2.1.1",
        f"bagit.txt: версия BagIt {version} (draft-kunze-bagit-{DRAFTS[version]}, до RFC 8493); "
        f"пакет проверен по её правилам: {rules}",
    )


@pytest.mark.parametrize("version", list(DRAFTS))
def test_a_valid_bag_of_each_draft_version_is_valid_with_one_warning(tmp_path: Path, version: str) -> None:
    """Issue 14: auditors receive 0.93–0.97 bags from other archives; each is valid by its own draft."""
    bag = make_draft_bag(tmp_path, version)
    report = check(bag)
    assert report.valid, format_report([report])
    assert findings(report.warnings) == [draft_warning(version)]
    assert report.files_checked == 2 + (3 if version not in ("0.93", "0.94") else 0)  # + tag files listed
    bagit_python_validates(bag)  # the reference reader agrees: package-info.txt, "*", tabs, "./"


def test_a_valid_1_0_bag_has_no_warning_and_1_0_forbids_the_drafts_manifests(tmp_path: Path) -> None:
    bag = make_bag(tmp_path, DRAFT_PAYLOAD)
    assert findings(check(bag).warnings) == []
    drafted = make_draft_bag(tmp_path, "0.96")
    write(drafted, "bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    write_tagmanifests(drafted, ("md5",))
    report = check(drafted)
    md5 = "manifest-md5.txt"
    assert findings(report.problems) == [
        (
            "data/100%25 marks.csv",
            "RFC 8493 §3",
            f"data/100%25 marks.csv: файла нет в {md5}",
        ),
        (
            "data/journal.txt",
            "RFC 8493 §3",
            f"data/journal.txt: файла нет в {md5}",
        ),
        (
            md5,
            "RFC 8493 §2.1.3",
            f"{md5}, строка 1: «*data/journal.txt»: «*» перед путём (двоичный режим md5sum) в BagIt 1.0 "
            "не допускается — путь начинается прямо после пробелов",
        ),
        (
            md5,
            "RFC 8493 §2.1.3",
            f"{md5}, строка 2: «./data/100%25 marks.csv»: пустая часть пути или «.»; "
            "путь должен называть файл прямо",
        ),
    ]


@pytest.mark.parametrize("version", [*DRAFTS, "1.0"])
def test_every_version_forbids_a_changed_payload_file(tmp_path: Path, version: str) -> None:
    bag = make_bag(tmp_path, DRAFT_PAYLOAD) if version == "1.0" else make_draft_bag(tmp_path, version)
    write(bag, "data/journal.txt", b"5A, I QUARTER\n")  # the same size: only the checksums can tell
    algorithms = ["SHA-256", "SHA-512"] if version == "1.0" else ["MD5"]
    manifests = ["manifest-sha256.txt", "manifest-sha512.txt"] if version == "1.0" else ["manifest-md5.txt"]
    assert findings(check(bag).problems) == [
        (
            "data/journal.txt",
            "RFC 8493 §3",
            f"data/journal.txt: контрольная сумма {algorithm} не совпадает с {manifest}",
        )
        for algorithm, manifest in zip(algorithms, manifests, strict=True)
    ]


@pytest.mark.parametrize("version", ["0.93", "0.94", "0.95"])
def test_until_0_95_package_info_txt_holds_the_labels_and_is_checked(tmp_path: Path, version: str) -> None:
    bag = make_draft_bag(tmp_path, version)
    text = (bag / "package-info.txt").read_text().replace("Payload-Oxum: 18.2", "Payload-Oxum: 99.2")
    write(bag, "package-info.txt", text.replace("2009-05-25", "25.05.2009"))
    if version == "0.95":
        write_tagmanifests(bag, ("md5",))
    report = check(bag)
    assert findings(report.problems) == [
        (
            "package-info.txt",
            "RFC 8493 §2.2.2",
            "package-info.txt: Payload-Oxum 99.2 (99 байт в 2 файлах), а в папке data/ 18 байт в 2 файлах",
        )
    ]
    assert (
        "package-info.txt",
        "RFC 8493 §2.2.2",
        "package-info.txt, строка 2: Packing-Date «25.05.2009» не в виде ГГГГ-ММ-ДД",
    ) in findings(report.warnings)


def test_a_0_95_bag_with_bag_info_txt_gets_a_warning_its_labels_are_not_read(tmp_path: Path) -> None:
    bag = make_draft_bag(tmp_path, "0.95", info_file="bag-info.txt")
    text = (bag / "bag-info.txt").read_text().replace("Payload-Oxum: 18.2", "Payload-Oxum: 99.2")
    write(bag, "bag-info.txt", text)
    write_tagmanifests(bag, ("md5",))
    report = check(bag)
    assert report.valid, format_report([report])
    assert findings(report.warnings) == [
        (
            "bag-info.txt",
            "RFC 8493 §2.2.2",
            "bag-info.txt: в BagIt 0.95 сведения о пакете пишутся в package-info.txt "
            "(draft-kunze-bagit-02); bag-info.txt — прочий служебный файл, его метки не проверяются",
        ),
        draft_warning("0.95"),
    ]


def test_tag_manifests_are_checked_from_0_95_and_only_noted_before(tmp_path: Path) -> None:
    for version in ("0.94", "0.95"):
        bag = make_draft_bag(tmp_path, version)
        write_text(bag, "tagmanifest-md5.txt", [f"{'0' * 32}  bagit.txt"])
        report = check(bag)
        if version == "0.94":
            assert report.valid, format_report([report])
            assert (
                "tagmanifest-md5.txt",
                "RFC 8493 §2.2.1",
                "tagmanifest-md5.txt: в BagIt 0.94 манифестов служебных файлов нет (draft-kunze-bagit-01); "
                "файл не проверяется",
            ) in findings(report.warnings)
        else:
            assert findings(report.problems) == [
                (
                    "bagit.txt",
                    "RFC 8493 §3",
                    "bagit.txt: контрольная сумма MD5 не совпадает с tagmanifest-md5.txt",
                )
            ]


@pytest.mark.parametrize("version", ["0.92", "0.98", "1.1", "2.0"])
def test_versions_that_do_not_exist_are_refused(tmp_path: Path, version: str) -> None:
    bag = make_bag(tmp_path, version=version)
    assert findings(check(bag).problems) == [
        (
            "bagit.txt",
            "RFC 8493 §2.1.1",
            f"bagit.txt: версия BagIt {version} не поддерживается "
            "(проверяются версии 0.93, 0.94, 0.95, 0.96, 0.97, 1.0)",
        )
    ]


def test_a_0_97_bag_written_by_bagit_python_with_line_breaks_in_names_is_valid(tmp_path: Path) -> None:
    """Issue 14: bagit-python writes BagIt 0.97 and percent-encodes CR and LF as %0D and %0A anyway
    (its _encode_filename); 0.97 encodes nothing, so such a name is read back as bagit-python means it."""
    folder = tmp_path / "bag"
    write(folder, "two\nlines.txt", b"a")
    write(folder, "cr\rname.txt", b"b")
    write(folder, "plain.txt", b"c")
    bagit.make_bag(str(folder), checksums=["sha256"])
    assert "BagIt-Version: 0.97" in (folder / "bagit.txt").read_text()
    manifest = (folder / "manifest-sha256.txt").read_text()
    assert "data/two%0Alines.txt" in manifest and "data/cr%0Dname.txt" in manifest
    report = check(folder)
    assert report.valid, format_report([report])
    assert report.files_checked == 3 + 3  # payload; bagit.txt, bag-info.txt, the manifest
    lines = {
        p: n
        for n, p in enumerate(sorted(["data/two%0Alines.txt", "data/cr%0Dname.txt", "data/plain.txt"]), 1)
    }
    assert findings(report.warnings) == [
        draft_warning("0.97"),
        *(
            (
                "manifest-sha256.txt",
                "RFC 8493 §2.1.3",
                f"manifest-sha256.txt, строка {lines[raw]}: «{raw}»: «%0D»/«%0A» в пути прочитаны как "
                "перевод строки, как их пишет bagit-python; в BagIt 0.97 пути не кодируются",
            )
            for raw in ("data/cr%0Dname.txt", "data/two%0Alines.txt")
        ),
    ]


def test_a_0_97_name_with_a_literal_percent_0a_is_taken_as_written(tmp_path: Path) -> None:
    bag = make_draft_bag(tmp_path, "0.97")
    write(bag, "data/a%0Ab.txt", b"x")
    lines = (bag / "manifest-md5.txt").read_text().splitlines()
    write_text(bag, "manifest-md5.txt", [*lines, f"{hashlib.md5(b'x').hexdigest()}  data/a%0Ab.txt"])
    write(bag, "bag-info.txt", (bag / "bag-info.txt").read_text().replace("18.2", "19.3"))
    write_tagmanifests(bag, ("md5",))
    report = check(bag)
    assert report.valid, format_report([report])
    assert findings(report.warnings) == [draft_warning("0.97")]


# --- huge manifests ------------------------------------------------------------------------------------


def test_a_manifest_over_the_line_limit_is_refused_naming_it_and_the_limit(tmp_path: Path) -> None:
    """Issue 14: a million-line manifest cost 1.3 GB; a manifest past the limit is refused while
    streaming (no line past it is kept) and its entries are not used, so no flood of findings."""
    bag = make_bag(tmp_path)
    digest = "0" * 64
    edit_manifest(
        bag,
        "manifest-sha256.txt",
        [*manifest_lines(bag, "manifest-sha256.txt"), *(f"{digest}  data/f{i}.txt" for i in range(2_000))],
    )
    report = validate_bag(DirectorySource(bag), max_manifest_lines=1_000)
    assert findings(report.problems) == [
        (
            "manifest-sha256.txt",
            "RFC 8493 §2.1.3",
            "manifest-sha256.txt: больше 1 000 строк — список такой длины не проверяется "
            "(предел 1 000 строк, docs/verify-and-audit.md)",
        )
    ]
    assert validate_bag(
        DirectorySource(bag), max_manifest_lines=3_000
    ).problems  # under it: every entry checked
    assert len(validate_bag(DirectorySource(bag), max_manifest_lines=3_000).problems) == 2_000


def test_a_manifest_over_the_byte_limit_is_refused_unread(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    size = (bag / "manifest-sha512.txt").stat().st_size
    report = validate_bag(DirectorySource(bag), max_manifest_bytes=size - 1)
    assert (
        "manifest-sha512.txt",
        "RFC 8493 §2.1.3",
        f"manifest-sha512.txt: {size} байт — файл такого размера не "
        f"проверяется (предел {size - 1} байт, docs/verify-and-audit.md)",
    ) in findings(report.problems)


@pytest.mark.parametrize(
    ("newline", "encoding"),
    [("\r\n", "UTF-8"), ("\r", "UTF-8"), ("\n", "UTF-16")],
    ids=["CRLF", "CR", "UTF-16"],
)
def test_tag_files_are_streamed_in_chunks_and_lines_cut_by_a_chunk_are_joined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str, encoding: str
) -> None:
    """Manifests are read in CHUNK_SIZE pieces, never whole: with 7-byte chunks every line, a CRLF
    and a two-byte letter are cut somewhere, and the bag still reads exactly as with whole files."""
    bag = make_bag(tmp_path, newline=newline, encoding=encoding)
    whole = check(bag)
    monkeypatch.setattr(rfc8493, "CHUNK_SIZE", 7)
    chunked = check(bag)
    assert chunked.valid and findings(chunked.warnings) == findings(whole.warnings)
    assert (chunked.files_checked, chunked.bytes_hashed) == (whole.files_checked, whole.bytes_hashed)
    write(bag, "data/journal.pdf", b"%PDF-1.7\n% a JOURNAL\n")
    assert findings(check(bag).problems) == [
        ("data/journal.pdf", "RFC 8493 §3", f"data/journal.pdf: контрольная сумма {a} не совпадает с {m}")
        for a, m in (("SHA-256", "manifest-sha256.txt"), ("SHA-512", "manifest-sha512.txt"))
    ]


def test_a_huge_bagit_txt_is_refused_unread(tmp_path: Path) -> None:
    bag = make_bag(tmp_path)
    write(bag, "bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n" + " " * CHUNK_SIZE)
    write_tagmanifests(bag)
    assert (
        "bagit.txt",
        "RFC 8493 §2.1.1",
        "bagit.txt: 1 048 630 байт, а должно быть две короткие строки",
    ) in findings(check(bag).problems)
