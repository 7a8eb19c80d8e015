"""Packing rendered documents into a BagIt 1.0 bag (RFC 8493), byte for byte reproducibly.

A bag is what an auditor checks years later with nothing but `sha256sum -c` or
`bagit.py --validate` (R5, R7). Same documents and same `BagInfo` give the same
bytes in every payload file and the same modification times: every mtime comes from
the data, never the clock. Bagging-Date is the one exception on purpose: it states when
the bag was made, an act, so it is the real date (a date of the data is not a date of an
act); it lives in bag-info.txt, a tag file, and no payload byte depends on it.

README.txt and CHANGES.txt are tag files at the bag root, not payload: they
describe the package (what each file is, how to check it, how this version differs
from the one it supersedes), not the archived record. The payload in data/ is
exactly the journal's documents, so its manifest and Payload-Oxum speak about the
record alone, and the tagmanifests (which a later seal signs) still cover both.

The text formats live in storage/bagformat.py, shared with the storage checks.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import io
import os
import shutil
import tempfile
import textwrap
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from journal.model import data_time
from storage.bagformat import (
    ALGORITHM_TITLES,
    ALGORITHMS,
    BAG_INFO_FILE,
    BAGIT_FILE,
    BAGIT_TXT,
    CHANGES_FILE,
    PAYLOAD_DIR,
    README_FILE,
    BagFormatError,
    Label,
    check_fixity,
    digests_of,
    format_manifest,
    format_tag_fields,
    manifest_name,
    parse_bag_info,
    payload_oxum,
    tagmanifest_name,
)
from storage.layout import LayoutError, check_relpath
from storage.modes import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE

SOFTWARE_NAME = "journal-archive"
FILE_MODE = PRIVATE_FILE_MODE
DIR_MODE = PRIVATE_DIR_MODE
"""A bag being built is the owner's work (A2): 0o600 files, 0o700 folders; a target stores it 0o400/0o500."""


class BagError(Exception):
    """A bag that cannot be written as asked; the message names the bag or file."""


def software_version() -> str:
    """Our version, from the installed package or, in a source checkout, from pyproject.toml."""
    try:
        return importlib.metadata.version(SOFTWARE_NAME)
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"]


def software_agent() -> str:
    return f"{SOFTWARE_NAME} {software_version()}"


@dataclass(frozen=True, slots=True)
class BagInfo:
    """What bag-info.txt says, in the order it says it (RFC 8493 §2.2.2 labels first).

    `bagging_date` is the day the bag is made (RFC 8493: the date the content was
    prepared for transfer), so it is the real date of that act. `data_date` is the last
    day of the data (e.g. the end of the period): the mtime of every file, so that the
    payload of the same data has the same bytes and times whenever it is bagged.
    """

    source_organization: str  # the school's full name
    external_description: str  # «Электронный классный журнал 5А класса, I четверть 2024/2025 …»
    external_identifier: str  # the bundle id, storage.layout.bundle_id
    academic_year: str  # "2024/2025"
    school_class: str  # «5А»
    period_code: str  # "Q1", or the year bundle's span code
    period: str  # «I четверть», «2024/2025 учебный год»
    bundle_kind: str  # storage.retention.BundleKind value
    bundle_version: int
    retention_class: str  # storage.retention.RetentionClass value
    retain_until: dt.date
    source_fingerprint: str  # digest of the extracted snapshot
    bagging_date: dt.date
    data_date: dt.date | None = None  # None: the bagging date
    organization_address: str = ""
    supersedes: str = ""  # the bundle id of the version this one replaces (R9)
    changes: str = ""  # one-line summary of what changed against `supersedes`
    bag_software_agent: str = field(default_factory=software_agent)

    def fields(self, oxum: str) -> list[tuple[str, str]]:
        """bag-info.txt as (label, value) pairs; empty optional values are left out."""
        pairs = [
            (Label.SOURCE_ORGANIZATION, self.source_organization),
            (Label.ORGANIZATION_ADDRESS, self.organization_address),
            (Label.EXTERNAL_DESCRIPTION, self.external_description),
            (Label.EXTERNAL_IDENTIFIER, self.external_identifier),
            (Label.ACADEMIC_YEAR, self.academic_year),
            (Label.SCHOOL_CLASS, self.school_class),
            (Label.PERIOD_CODE, self.period_code),
            (Label.PERIOD, self.period),
            (Label.BUNDLE_KIND, self.bundle_kind),
            (Label.BUNDLE_VERSION, str(self.bundle_version)),
            (Label.SUPERSEDES, self.supersedes),
            (Label.CHANGES, self.changes),
            (Label.RETENTION_CLASS, self.retention_class),
            (Label.RETAIN_UNTIL, self.retain_until.isoformat()),
            (Label.SOURCE_FINGERPRINT, self.source_fingerprint),
            (Label.BAGGING_DATE, self.bagging_date.isoformat()),
            (Label.PAYLOAD_OXUM, oxum),
            (Label.BAG_SOFTWARE_AGENT, self.bag_software_agent),
        ]
        return [(label, value) for label, value in pairs if value]

    @property
    def timestamp(self) -> int:
        """The mtime of every file and folder of the bag: midnight UTC of the data's last day."""
        return int(data_time(self.data_date or self.bagging_date).timestamp())


# --- README.txt ---------------------------------------------------------------

_TAG_FILE_DESCRIPTIONS = (
    (BAGIT_FILE, "Признак пакета BagIt: версия формата и кодировка служебных файлов."),
    (
        BAG_INFO_FILE,
        "Описание пакета: школа, класс, период, вид и версия пакета, какую версию он заменяет "
        "(Supersedes), срок хранения (Retention-Class, Retain-Until), отпечаток исходных данных, "
        "дата упаковки, число байтов и файлов в data/ (Payload-Oxum).",
    ),
    (
        ", ".join(manifest_name(a) for a in ALGORITHMS),
        "Контрольные суммы "
        + " и ".join(ALGORITHM_TITLES[a] for a in ALGORITHMS)
        + " каждого файла из data/.",
    ),
    (
        ", ".join(tagmanifest_name(a) for a in ALGORITHMS),
        "Контрольные суммы служебных файлов: bagit.txt, bag-info.txt, манифестов, README.txt"
        " и CHANGES.txt (если он есть).",
    ),
    (README_FILE, "Этот файл."),
)


def bag_readme(title: str, bundle: str, payload: Mapping[str, str], *, has_changes: bool = False) -> str:
    """The Russian README.txt: what the package is, what each file is, how to check it.

    `payload` maps each file's path inside data/ to what it is («Классный журнал в
    формате PDF/A-3…»); files are listed in path order. `bundle` is the bundle id,
    which is also the bag's folder name, so the check commands can be copied as-is.
    """
    listing = [(f"{PAYLOAD_DIR}/{name}", payload[name]) for name in sorted(payload)]
    listing += list(_TAG_FILE_DESCRIPTIONS)
    if has_changes:
        listing.append((CHANGES_FILE, "Что изменилось по сравнению с предыдущей версией пакета."))
    entries = "\n".join(
        f"{name}\n{textwrap.fill(text, width=78, initial_indent='    ', subsequent_indent='    ')}"
        for name, text in listing
    )
    return f"""\
{title}
Пакет {bundle}

Это архивный пакет в формате BagIt 1.0 (RFC 8493). Документы лежат в папке
data/, остальные файлы описывают пакет и хранят контрольные суммы, по которым
можно убедиться, что ни один файл не изменён и не потерян. Специальные
программы не нужны: PDF открывается любой программой просмотра PDF, файлы CSV,
XML и TXT — любым текстовым редактором (кодировка UTF-8).

Состав пакета

{entries}

Как проверить пакет

В Linux (в Windows — в WSL или Git Bash) откройте терминал в папке, где лежит
пакет, и выполните:

    cd {bundle} && sha256sum -c manifest-sha256.txt
    sha256sum -c tagmanifest-sha256.txt

Первая команда проверяет документы в data/, вторая — служебные файлы, в том
числе этот. Для каждого файла должно быть напечатано «OK»; о расхождении
sha256sum сообщает словом «FAILED» рядом с именем файла. Суммы SHA-512
проверяются так же командой sha512sum с файлами manifest-sha512.txt и
tagmanifest-sha512.txt. В macOS вместо sha256sum — «shasum -a 256 -c».
Полную проверку по стандарту BagIt выполняет программа bagit.py:

    bagit.py --validate {bundle}

Пакет не изменяется после записи. Исправление журнала оформляется новой
версией пакета, которая называет заменяемую версию (метка Supersedes в
bag-info.txt) и перечисляет изменённые отметки (CHANGES.txt).
"""


# --- Writing ------------------------------------------------------------------


def write_bag(
    directory: Path,
    payload: Mapping[str, bytes],
    info: BagInfo,
    readme: str,
    changes: str | None = None,
) -> Path:
    """Write a complete bag at `directory` (which must not exist) and return it.

    `payload` maps paths inside data/ to their bytes. The bag is built in a hidden
    staging folder next to `directory` and renamed into place only when complete,
    so `directory` never holds half a bag. `readme` (see bag_readme) must name
    every payload file; `changes` (see documents.changes.format_changes) becomes
    CHANGES.txt when given.
    """
    directory = Path(directory)
    names = _checked_payload_names(payload)
    missing = [name for name in names if f"{PAYLOAD_DIR}/{name}" not in readme]
    if missing:
        raise BagError(f"{README_FILE} пакета {directory.name} не описывает файл data/{missing[0]}")
    if changes is not None and CHANGES_FILE not in readme:
        raise BagError(f"{README_FILE} пакета {directory.name} не описывает файл {CHANGES_FILE}")
    if directory.exists():
        raise BagError(f"Пакет {directory} уже существует; пакеты не перезаписываются")

    files: dict[str, bytes] = {f"{PAYLOAD_DIR}/{name}": payload[name] for name in names}
    payload_digests = {algorithm: {} for algorithm in ALGORITHMS}
    for path, data in files.items():
        for algorithm, digest in digests_of(io.BytesIO(data)).items():
            payload_digests[algorithm][path] = digest
    oxum = payload_oxum(len(data) for data in files.values())

    tags: dict[str, bytes] = {BAGIT_FILE: BAGIT_TXT.encode("utf-8")}
    tags[BAG_INFO_FILE] = format_tag_fields(info.fields(oxum)).encode("utf-8")
    for algorithm in ALGORITHMS:
        tags[manifest_name(algorithm)] = format_manifest(payload_digests[algorithm])
    tags[README_FILE] = _text_file(readme)
    if changes is not None:
        tags[CHANGES_FILE] = _text_file(changes)
    tag_digests = {algorithm: {} for algorithm in ALGORITHMS}
    for path, data in tags.items():
        for algorithm, digest in digests_of(io.BytesIO(data)).items():
            tag_digests[algorithm][path] = digest
    for algorithm in ALGORITHMS:
        tags[tagmanifest_name(algorithm)] = format_manifest(tag_digests[algorithm])
    files.update(tags)

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.staging-", dir=directory.parent))
    try:
        _write_tree(staging, files, info.timestamp)
        staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.utime(directory, (info.timestamp, info.timestamp))
    return directory


def _checked_payload_names(payload: Mapping[str, bytes]) -> list[str]:
    names = sorted(payload)
    for name in names:
        try:
            check_relpath(name)
        except LayoutError as error:
            raise BagError(str(error)) from error
        if any(c in name for c in "\r\n"):
            raise BagError(f"Недопустимое имя файла в пакете: «{name}»")
    folders = {"/".join(name.split("/")[:i]) for name in names for i in range(1, name.count("/") + 1)}
    clash = sorted(folders & set(names))
    if clash:
        raise BagError(f"Файл data/{clash[0]} совпадает по имени с папкой")
    return names


def _text_file(text: str) -> bytes:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def _write_tree(root: Path, files: Mapping[str, bytes], timestamp: int) -> None:
    """Write files with fixed modes and mtimes; folders get theirs last, deepest first."""
    folders = {root}
    for relpath in sorted(files):
        path = root.joinpath(*relpath.split("/"))
        for parent in reversed(path.relative_to(root).parents[:-1]):
            folders.add(root / parent)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[relpath])
        path.chmod(FILE_MODE)
        os.utime(path, (timestamp, timestamp))
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        folder.chmod(DIR_MODE)
        os.utime(folder, (timestamp, timestamp))


# --- Reading and checking -------------------------------------------------------


def read_bag_info(path: Path) -> dict[str, str]:
    """bag-info.txt of a bag folder (or the file itself) as {label: value}."""
    path = Path(path)
    file = path / BAG_INFO_FILE if path.is_dir() else path
    try:
        return parse_bag_info(file.read_bytes(), str(file))
    except OSError as error:
        raise BagError(f"Не удалось прочитать {file}: {error.strerror}") from error
    except BagFormatError as error:
        raise BagError(str(error)) from error


def bag_files(directory: Path) -> list[str]:
    """All regular files of a bag as sorted POSIX paths relative to it."""
    directory = Path(directory)
    return sorted(
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file() or path.is_symlink()
    )


def verify_bag_against_manifests(directory: Path) -> list[str]:
    """Problems (in Russian, each naming the file) of a bag on disk: missing, extra, checksum mismatch.

    The basic check run after writing; it does not replace a full RFC 8493 validation.
    Symbolic links are reported, never followed.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return [f"{directory}: папка пакета не найдена"]
    files = bag_files(directory)
    links = [path for path in files if (directory / path).is_symlink()]
    regular = [path for path in files if path not in links]
    problems = [f"{path}: символическая ссылка вместо файла" for path in links]
    sizes = {path: (directory / path).stat().st_size for path in regular}
    return problems + check_fixity(regular, lambda relpath: (directory / relpath).open("rb"), sizes)
