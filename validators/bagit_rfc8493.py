"""Full BagIt validation by RFC 8493 (and 0.93–0.97 by their drafts), written here, not delegated (R5, R7).

An auditor years from now asks one question of each stored bundle: is it the bag
that was sealed, whole and unchanged? `validate_bag` answers it for one bag and
names every failed file with the reason, in Russian, citing the RFC section
(`Problem.rule`). It reads the bag through a `BagSource`, so the same check runs
on a bag folder (`DirectorySource`) and on a bundle in a storage target, local or
S3 (`TargetSource`), streaming each file once — nothing is unpacked or copied.

What is checked (RFC 8493 sections in brackets):

* bagit.txt [§2.1.1]: present, UTF-8 without BOM, exactly the two lines
  `BagIt-Version: M.N` and `Tag-File-Character-Encoding: ENCODING`; version 1.0,
  or a draft version 0.93–0.97 (a warning) checked by its own rules where they
  differ (`BAGIT_VERSIONS`): manifest and fetch.txt paths are taken as written —
  the drafts percent-encode nothing, so `%` is no error and `%25` is three
  characters — md5sum's binary-mode `*` and a `./` before a path are allowed;
  bag-info.txt is package-info.txt until 0.95 (Packing-Date, Package-Size); 0.93
  and 0.94 have no tag manifests; label spacing is not held to 1.0's; MD5/SHA-1
  alone earns no warning. bagit-python writes 0.97 with CR and LF as %0D and %0A:
  such a path is decoded when only the decoded name is in the bag (a warning).
  An encoding Python knows (not UTF-8: a warning, the RFC says SHOULD).
* data/ [§2.1.2] exists and is a folder.
* Payload manifests `manifest-<algorithm>.txt` [§2.1.3]: at least one; lines
  `checksum<whitespace>filepath` (one or more spaces or tabs), read by the grammar
  every reader shares (storage.bagformat.manifest_lines); CR, LF and % in paths
  percent-encoded (%0D, %0A, %25 are decoded; any other % is an error, as the RFC
  says % MUST be encoded);
  entries only under data/ and never a folder. Algorithms md5, sha1, sha224,
  sha256, sha384, sha512 [§2.4]; any other cannot be verified, which is an error
  (§3: every checksum must be verified); only md5/sha1 is a warning (§2.4 asks
  for SHA-256 and SHA-512).
* Tag manifests `tagmanifest-<algorithm>.txt` [§2.2.1]: optional; their entries
  must exist and match, must not be payload files or tag manifests; tag files
  they leave out are a warning (SHOULD list the remaining tag files), as is an
  algorithm no payload manifest uses (SHOULD use the same algorithms).
* bag-info.txt [§2.2.2]: optional; `Label: value` lines with continuation lines;
  Payload-Oxum `octets.streamcount` equals the payload on disk (an error when
  not, or when malformed); Bagging-Date is YYYY-MM-DD and reserved single labels
  are not repeated (warnings: SHOULD).
* fetch.txt [§2.2.3]: entries `url length filepath` parsed and reported as
  warnings, never fetched; an entry missing locally makes the bag incomplete
  (an error, §3); entries must be payload files listed in every payload manifest.
* Completeness and validity [§3]: every payload file in every payload manifest,
  every manifest entry present, every checksum of payload and tag files verified.
* Paths [§5.1]: `..`, absolute paths (`/…`, `C:…`, `\\…`) and `~` are refused
  wherever they appear (manifests, fetch.txt) and never opened; backslashes and
  empty or `.` segments are errors too (§2.1.3: `/` is the separator).
* Size: tag files are streamed in CHUNK_SIZE pieces, never read whole; a manifest
  or fetch.txt past MAX_MANIFEST_LINES lines or MAX_MANIFEST_BYTES bytes is refused
  (an error naming it and the limit) and its entries are not used, so memory stays
  bounded whatever a bag declares (benchmarks/manifest_memory.py).
* A file that cannot be read, whatever the source raises (an S3 stream fails with
  botocore's own errors), is a problem naming it [§3]; the rest is still checked.
* Symbolic links and special files in the bag are errors [§5.1]: a link can point
  outside the bag, so it is reported, never followed. Empty folders are ignored.

Decisions where the RFC leaves room:

* A path listed twice in one manifest with different checksums is an error (one
  of them cannot verify, §3); with the same checksum it is a warning — nothing
  is ambiguous, though bagit-python refuses such a 1.0 bag.
* Tag files (manifests, bag-info.txt, fetch.txt) are decoded with the bag's
  Tag-File-Character-Encoding; lines may end in LF, CR or CRLF; a BOM at the start
  is skipped (for UTF-8 with a warning: it is not needed there). bagit.txt is
  always UTF-8.
* Lines of bag-info.txt longer than 79 characters are not reported: the RFC only
  recommends the limit, and a digest value cannot be folded.

Speed: every file is read once, in 1 MiB chunks, and all its algorithms are fed
from the same read. For a large file with two or more algorithms the extra
algorithms run in their own threads on the same chunks (hashlib releases the GIL
on large buffers), so SHA-256 and SHA-512 together take about as long as SHA-512
alone. `max_rate_mb_s` caps the read rate (10^6 bytes per second) by sleeping,
so a fixity audit can run beside the school's daily work.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import json as json_module
import os
import queue
import re
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal, Protocol

from journal.russian import count_words
from storage.bagformat import (
    BAG_INFO_FILE,
    BAGIT_FILE,
    LINE_BREAK,
    PAYLOAD_DIR,
    decode_filepath,
    manifest_lines,
    split_tag_lines,
)
from storage.layout import PLAIN_PATH
from storage.target import Target

FETCH_FILE = "fetch.txt"
PAYLOAD_PREFIX = PAYLOAD_DIR + "/"
CHUNK_SIZE = 1 << 20
THREADED_MIN_SIZE = 4 * CHUNK_SIZE
"""Files at least this big with two or more algorithms are hashed in parallel threads."""
QUEUE_CHUNKS = 8

SUPPORTED_ALGORITHMS = ("sha512", "sha256", "sha384", "sha224", "sha1", "md5")
"""Manifest algorithms this validator computes, strongest first (RFC 8493 §2.4 names: lower case, no dash)."""
WEAK_ALGORITHMS = frozenset({"md5", "sha1"})
ALGORITHM_TITLES = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
}
_RELATIVE_COST = {"md5": 2, "sha1": 1, "sha224": 1, "sha256": 1, "sha384": 3, "sha512": 3}
"""Per-byte cost with SHA extensions; the cheapest algorithm runs in the reading thread."""

PACKAGE_INFO_FILE = "package-info.txt"
"""bag-info.txt's name in BagIt 0.93–0.95."""


@dataclass(frozen=True, slots=True)
class BagItVersion:
    """What one version of the BagIt specification asks, where the versions differ.

    Every version has bagit.txt with `BagIt-Version` and `Tag-File-Character-Encoding`,
    data/, payload manifests `checksum filepath` (spaces or tabs between), fetch.txt
    `url length filepath` and other tag files; only these rules differ.
    """

    number: str  # as bagit.txt declares it: "0.95"
    specification: str  # where its rules are written
    bag_info_file: str  # the file of reserved labels: package-info.txt until 0.95
    date_label: str  # the reserved date label: Packing-Date until 0.95
    size_label: str  # the reserved size label: Package-Size until 0.95
    tag_manifests: bool  # tagmanifest-<algorithm>.txt is defined (from 0.95)
    percent_encoded_filepaths: bool  # %, CR, LF in filepaths percent-encoded (1.0 only)

    @property
    def is_draft(self) -> bool:
        return self.number != "1.0"


def _draft(number: str, drafts: str, *, old_names: bool, tag_manifests: bool = True) -> BagItVersion:
    return BagItVersion(
        number=number,
        specification=f"draft-kunze-bagit-{drafts}",
        bag_info_file=PACKAGE_INFO_FILE if old_names else BAG_INFO_FILE,
        date_label="Packing-Date" if old_names else "Bagging-Date",
        size_label="Package-Size" if old_names else "Bag-Size",
        tag_manifests=tag_manifests,
        percent_encoded_filepaths=False,
    )


BAGIT_VERSIONS = {
    version.number: version
    for version in (
        _draft("0.93", "00", old_names=True, tag_manifests=False),
        _draft("0.94", "01", old_names=True, tag_manifests=False),
        _draft("0.95", "02", old_names=True),
        _draft("0.96", "03…04", old_names=False),
        _draft("0.97", "05…14", old_names=False),
        BagItVersion(
            number="1.0",
            specification="RFC 8493",
            bag_info_file=BAG_INFO_FILE,
            date_label="Bagging-Date",
            size_label="Bag-Size",
            tag_manifests=True,
            percent_encoded_filepaths=True,
        ),
    )
}
"""The BagIt versions checked, each by its own rules: the drafts 0.93–0.97 and RFC 8493 (1.0)."""
SUPPORTED_VERSIONS = tuple(BAGIT_VERSIONS)


def single_labels(version: BagItVersion) -> tuple[str, ...]:
    """Reserved labels that SHOULD NOT be repeated (RFC 8493 §2.2.2), as the version names them."""
    return (version.date_label, version.size_label, "Payload-Oxum", "Bag-Group-Identifier", "Bag-Count")


MAX_MANIFEST_LINES = 250_000
"""A manifest (or fetch.txt) with more non-blank lines is refused, unread past the limit: its entries
are kept while compared, and at the limit, every entry naming a missing file, one check peaks at
about 210 MB (benchmarks/manifest_memory.py; docs/verify-and-audit.md)."""
MAX_MANIFEST_BYTES = 100_000_000
"""A manifest (or fetch.txt) larger than this (10^8 bytes, ~400 bytes a line) is refused without reading."""
SMALL_TAG_FILE = 1 << 20
"""Tag files up to this size are kept after reading, so their checksums need no second read."""

_MANIFEST_NAME = re.compile(r"(tag)?manifest-(.+)\.txt")
_BAGIT_PYTHON_BREAK = re.compile(r"%0D|%0A")
"""CR and LF as bagit-python writes them in every version (upper case only, as it also reads them)."""
_VERSION_LINE = re.compile(r"BagIt-Version: ([0-9]+\.[0-9]+)")
_ENCODING_LINE = re.compile(r"Tag-File-Character-Encoding: (\S+)")
_FETCH_LINE = re.compile(r"(\S+)[ \t]+(\S+)[ \t]+(.+)")
_DRIVE = re.compile(r"[A-Za-z]:")
_OXUM = re.compile(r"([0-9]+)\.([0-9]+)")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def rule(section: str) -> str:
    """The citation put in `Problem.rule`: rule("2.1.3") → "RFC 8493 §2.1.3"."""
    return f"RFC 8493 §{section}"


# --- Results --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: the file at fault ("" for the bag as a whole), the RFC section, a Russian message."""

    path: str
    rule: str
    message: str  # names the file and the reason


@dataclass(frozen=True, slots=True)
class BagReport:
    """The verdict on one bag: valid (complete, every checksum verified) or not, and why."""

    bag: str  # the source's name: a folder, or "target:key"
    valid: bool
    problems: tuple[Problem, ...]  # each makes the bag invalid
    warnings: tuple[Problem, ...]  # what the RFC calls SHOULD; the bag may still be valid
    files_checked: int  # files read and hashed
    bytes_hashed: int
    seconds: float


# --- Where the bag is read from ---------------------------------------------------

EntryKind = Literal["file", "directory", "symlink", "special"]


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One thing in the bag: a POSIX path relative to its root, what it is and (for files) its size."""

    path: str
    kind: EntryKind
    size: int = 0


class BagSource(Protocol):
    """A bag to read without copying it: list what is in it, open a file for streaming reads."""

    name: str

    def list_entries(self) -> list[SourceEntry]:
        """Everything in the bag, sorted by path; symbolic links listed, never followed."""
        ...

    def open(self, relpath: str) -> BinaryIO:
        """Open a regular file listed by list_entries for reading."""
        ...


@dataclass(frozen=True)
class DirectorySource:
    """A bag folder on disk."""

    root: Path
    name: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        if not self.name:
            object.__setattr__(self, "name", str(self.root))

    def list_entries(self) -> list[SourceEntry]:
        if not self.root.is_dir() or self.root.is_symlink():
            raise FileNotFoundError("папка пакета не найдена")
        entries = []
        for folder, dirs, names in os.walk(self.root, onerror=_raise):
            for name in dirs + names:
                path = Path(folder, name)
                info = path.lstat()
                relpath = path.relative_to(self.root).as_posix()
                if stat.S_ISLNK(info.st_mode):
                    entries.append(SourceEntry(relpath, "symlink"))
                elif stat.S_ISDIR(info.st_mode):
                    entries.append(SourceEntry(relpath, "directory"))
                elif stat.S_ISREG(info.st_mode):
                    entries.append(SourceEntry(relpath, "file", info.st_size))
                else:
                    entries.append(SourceEntry(relpath, "special"))
        return sorted(entries, key=lambda entry: entry.path)

    def open(self, relpath: str) -> BinaryIO:
        # O_NOFOLLOW: a file swapped for a link after listing is still not followed.
        fd = os.open(self.root.joinpath(*relpath.split("/")), os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb", buffering=0)


def _raise(error: OSError) -> None:
    raise error


@dataclass(frozen=True)
class TargetSource:
    """A bundle on a storage target (filesystem or S3), read in place through the Target interface.

    A target stores files only: folders are implied by file paths, and a target never
    hands out symbolic links (the filesystem target skips them when listing).
    """

    target: Target
    key: str

    @property
    def name(self) -> str:
        return f"{self.target.name}:{self.key}"

    def list_entries(self) -> list[SourceEntry]:
        stats = self.target.stat_files(self.key)
        files = list(stats)
        entries = [SourceEntry(path, "file", info.size) for path, info in stats.items()]
        folders = {path.rsplit("/", 1)[0] for path in files if "/" in path}
        folders |= {folder.rsplit("/", i)[0] for folder in folders for i in range(folder.count("/") + 1)}
        entries += [SourceEntry(folder, "directory") for folder in folders]
        return sorted(entries, key=lambda entry: entry.path)

    def open(self, relpath: str) -> BinaryIO:
        return self.target.open_file(self.key, relpath)


# --- Hashing -----------------------------------------------------------------------


class Throttle:
    """Keeps reading at or below a rate by sleeping; no limit when `rate_mb_s` is None.

    `clock` and `sleep` are the time it runs on (tests pass a fake one instead of waiting).
    """

    def __init__(
        self,
        rate_mb_s: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if rate_mb_s is not None and rate_mb_s <= 0:
            raise ValueError(f"Скорость чтения должна быть больше нуля, а задано {rate_mb_s} МБ/с")
        self.bytes_per_second = None if rate_mb_s is None else rate_mb_s * 1_000_000
        self.clock, self.sleep = clock, sleep
        self.started = clock()
        self.consumed = 0

    def read(self, size: int) -> None:
        """Account for `size` bytes just read; sleep until the average rate is back under the cap."""
        if self.bytes_per_second is None:
            return
        self.consumed += size
        ahead = self.consumed / self.bytes_per_second - (self.clock() - self.started)
        if ahead > 0:
            self.sleep(ahead)


def hash_stream(
    stream: BinaryIO, algorithms: Sequence[str], throttle: Throttle | None = None, size_hint: int = 0
) -> tuple[dict[str, str], int]:
    """({algorithm: hex digest}, bytes read) of a stream, read once in CHUNK_SIZE chunks.

    With two or more algorithms and a stream of at least THREADED_MIN_SIZE bytes
    (`size_hint`), every algorithm but the cheapest runs in its own thread over the
    same chunks, so the digests are computed side by side on separate cores.
    """
    throttle = throttle or Throttle(None)
    ordered = sorted(dict.fromkeys(algorithms), key=lambda a: (_RELATIVE_COST.get(a, 9), a))
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in ordered}
    total = 0
    if len(hashers) < 2 or size_hint < THREADED_MIN_SIZE:
        readinto = getattr(stream, "readinto", None)
        if readinto is not None:  # into this thread's one buffer: no fresh 1 MiB allocation per read
            buffer = _read_buffer()
            while count := readinto(buffer):
                chunk = buffer[:count] if count < len(buffer) else buffer
                for hasher in hashers.values():
                    hasher.update(chunk)
                total += count
                throttle.read(count)
            return {a: h.hexdigest() for a, h in hashers.items()}, total
        while chunk := stream.read(CHUNK_SIZE):
            for hasher in hashers.values():
                hasher.update(chunk)
            total += len(chunk)
            throttle.read(len(chunk))
        return {a: h.hexdigest() for a, h in hashers.items()}, total

    first, *others = hashers.values()
    queues: list[queue.Queue[bytes | None]] = [queue.Queue(QUEUE_CHUNKS) for _ in others]
    workers = [
        threading.Thread(target=_feed, args=(hasher, chunks), daemon=True)
        for hasher, chunks in zip(others, queues, strict=True)
    ]
    for worker in workers:
        worker.start()
    try:
        while chunk := stream.read(CHUNK_SIZE):
            for chunks in queues:
                chunks.put(chunk)
            first.update(chunk)
            total += len(chunk)
            throttle.read(len(chunk))
    finally:
        for chunks in queues:
            chunks.put(None)
        for worker in workers:
            worker.join()
    return {a: h.hexdigest() for a, h in hashers.items()}, total


_THREAD = threading.local()


def _read_buffer() -> memoryview:
    """This thread's CHUNK_SIZE buffer for hash_stream's reads (hashed before the next read)."""
    buffer: memoryview | None = getattr(_THREAD, "buffer", None)
    if buffer is None or len(buffer) != CHUNK_SIZE:
        buffer = _THREAD.buffer = memoryview(bytearray(CHUNK_SIZE))
    return buffer


def _feed(hasher: hashlib._Hash, chunks: queue.Queue[bytes | None]) -> None:
    while (chunk := chunks.get()) is not None:
        hasher.update(chunk)


# --- Validation ----------------------------------------------------------------------


@dataclass
class _Manifest:
    name: str
    algorithm: str
    is_tag: bool
    entries: dict[str, str] = field(default_factory=dict)  # path → lower-case hex digest
    lines: dict[str, int] = field(default_factory=dict)  # path → line number


@dataclass
class _FetchEntry:
    url: str
    length: int | None
    path: str
    line: int


def validate_bag(
    source: BagSource,
    *,
    max_rate_mb_s: float | None = None,
    supported_algorithms: Sequence[str] = SUPPORTED_ALGORITHMS,
    max_manifest_lines: int = MAX_MANIFEST_LINES,
    max_manifest_bytes: int = MAX_MANIFEST_BYTES,
) -> BagReport:
    """Validate one bag by RFC 8493: every failed file with its reason, and what the RFC calls SHOULD.

    `supported_algorithms` are those this run may compute; a manifest in any other
    cannot be verified and is reported as an error. A manifest or fetch.txt with more
    than `max_manifest_lines` entries or `max_manifest_bytes` bytes is refused (an error
    naming it and the limit), so memory stays bounded whatever a bag declares. Never
    raises for a bad bag: an unreadable bag or file is itself a problem in the report.
    """
    started = time.perf_counter()
    limits = (max_manifest_lines, max_manifest_bytes)
    validation = _Validation(source, Throttle(max_rate_mb_s), tuple(supported_algorithms), *limits)
    validation.run()
    problems = tuple(sorted(validation.problems, key=lambda problem: problem.path))
    warnings = tuple(sorted(validation.warnings, key=lambda problem: problem.path))
    return BagReport(
        bag=source.name,
        valid=not problems,
        problems=problems,
        warnings=warnings,
        files_checked=validation.files_checked,
        bytes_hashed=validation.bytes_hashed,
        seconds=time.perf_counter() - started,
    )


class _Validation:
    """The state of one validation; each method checks one RFC element and records findings."""

    def __init__(
        self,
        source: BagSource,
        throttle: Throttle,
        supported: tuple[str, ...],
        max_manifest_lines: int = MAX_MANIFEST_LINES,
        max_manifest_bytes: int = MAX_MANIFEST_BYTES,
    ) -> None:
        self.source = source
        self.throttle = throttle
        self.supported = supported
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.files: dict[str, int] = {}  # regular files → size
        self.folders: set[str] = set()
        self.encoding = "utf-8"  # Python's codec name
        self.encoding_title = "UTF-8"  # as bagit.txt spells it, for messages
        self.version = BAGIT_VERSIONS["1.0"]
        self.read_bytes: dict[str, bytes] = {}  # small tag files already read, hashed from memory
        self.unread: set[str] = set()  # tag files whose reading stopped at a problem
        self.max_manifest_lines = max_manifest_lines
        self.max_manifest_bytes = max_manifest_bytes
        self.manifests: list[_Manifest] = []
        self.fetch: list[_FetchEntry] = []
        self.files_checked = 0
        self.bytes_hashed = 0

    def error(self, path: str, section: str, message: str) -> None:
        self.problems.append(Problem(path, rule(section), message))

    def warn(self, path: str, section: str, message: str) -> None:
        self.warnings.append(Problem(path, rule(section), message))

    def run(self) -> None:
        try:
            entries = self.source.list_entries()
        except Exception as error:  # any failure to read is a finding (module docstring)
            self.error("", "2", f"Пакет {self.source.name} не читается: {_reason(error)}")
            return
        for entry in entries:
            if entry.kind == "file":
                self.files[entry.path] = entry.size
            elif entry.kind == "directory":
                self.folders.add(entry.path)
            elif entry.kind == "symlink":
                self.error(
                    entry.path,
                    "5.1",
                    f"{entry.path}: символическая ссылка; ссылки в пакете не допускаются — "
                    "они могут вести за пределы пакета",
                )
            else:
                self.error(entry.path, "5.1", f"{entry.path}: не обычный файл (устройство, канал или сокет)")
        self.check_bag_declaration()
        self.check_payload_directory()
        self.read_manifests()
        bag_info = self.read_bag_info()
        self.read_fetch()
        self.check_completeness()
        self.check_payload_oxum(bag_info)
        self.check_checksums()

    # --- reading tag files ---

    def read(self, relpath: str) -> bytes | None:
        try:
            with self.source.open(relpath) as stream:
                data = stream.read()
        except Exception as error:  # any failure to read is a finding (module docstring)
            self.error(relpath, "3", f"{relpath}: файл не читается: {_reason(error)}")
            return None
        self.read_bytes[relpath] = data
        self.throttle.read(len(data))
        return data

    def read_tag_lines(self, relpath: str, section: str, max_lines: int | None = None) -> Iterator[str]:
        """The lines of a tag file decoded with Tag-File-Character-Encoding, streamed; problems reported.

        Read in chunks and never held whole (manifests of big bags run to millions of
        lines); only a file up to SMALL_TAG_FILE is kept for hashing. A file larger than
        max_manifest_bytes, or with more than `max_lines` non-blank lines, is refused:
        the error names it and the limit, and no line past the limit is yielded.
        """
        limit = self.max_manifest_bytes
        self.unread.add(relpath)  # until the last line is read
        if self.files.get(relpath, 0) > limit:
            self.error(relpath, section, f"{relpath}: {_too_big(self.files[relpath], limit)}")
            return
        try:
            with self.source.open(relpath) as stream:
                yield from self._decoded_lines(relpath, section, stream, limit, max_lines)
        except Exception as error:  # any failure to read is a finding (module docstring)
            self.error(relpath, "3", f"{relpath}: файл не читается: {_reason(error)}")

    def _decoded_lines(
        self, relpath: str, section: str, stream: BinaryIO, limit: int, max_lines: int | None
    ) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)()
        kept: list[bytes] | None = [] if self.files.get(relpath, 0) <= SMALL_TAG_FILE else None
        pending, consumed, count, first = "", 0, 0, True
        while True:
            chunk = stream.read(CHUNK_SIZE)
            self.throttle.read(len(chunk))
            if consumed + len(chunk) > limit:
                self.error(relpath, section, f"{relpath}: {_too_big(None, limit)}")
                return
            try:
                buffered = len(decoder.getstate()[0])
                text = pending + decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                where = consumed - buffered + error.start
                reason = f"не читается в кодировке {self.encoding_title} (байт {where})"
                self.error(relpath, section, f"{relpath}: {reason}")
                return
            consumed += len(chunk)
            if kept is not None:
                kept.append(chunk)
            if first and text:
                first = False
                if text.startswith("\ufeff"):
                    text = text[1:]
                    if self.encoding == "utf-8":
                        self.warn(
                            relpath,
                            "2.1.1",
                            f"{relpath}: начинается с метки порядка байтов (BOM), в UTF-8 она не нужна",
                        )
            if chunk:  # the last line may go on in the next chunk, and a final CR may be half a CRLF
                held = "\r" if text.endswith("\r") else ""
                *lines, pending = LINE_BREAK.split(text.removesuffix(held) if held else text)
                pending += held
            else:
                lines = split_tag_lines(text)
            for line in lines:
                if max_lines is not None and line.strip():
                    count += 1
                    if count > max_lines:
                        self.error(
                            relpath,
                            section,
                            f"{relpath}: больше {_figure(max_lines)} строк — список такой длины не "
                            f"проверяется (предел {_figure(max_lines)} строк, docs/verify-and-audit.md)",
                        )
                        return
                yield line
            if not chunk:
                break
        self.unread.discard(relpath)
        if kept is not None:
            self.read_bytes[relpath] = b"".join(kept)

    # --- §2.1.1 bagit.txt ---

    def check_bag_declaration(self) -> None:
        if BAGIT_FILE not in self.files:
            self.error(BAGIT_FILE, "2.1.1", f"{BAGIT_FILE}: файл отсутствует — без него папка не пакет BagIt")
            return
        if self.files[BAGIT_FILE] > SMALL_TAG_FILE:  # two short lines: a bigger file is not read at all
            self.error(
                BAGIT_FILE,
                "2.1.1",
                f"{BAGIT_FILE}: {_figure(self.files[BAGIT_FILE])} байт, а должно быть две короткие строки",
            )
            return
        data = self.read(BAGIT_FILE)
        if data is None:
            return
        if data.startswith(codecs.BOM_UTF8):
            self.error(BAGIT_FILE, "2.1.1", f"{BAGIT_FILE}: начинается с метки порядка байтов (BOM)")
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            self.error(BAGIT_FILE, "2.1.1", f"{BAGIT_FILE}: не в кодировке UTF-8 (байт {error.start})")
            return
        lines = split_tag_lines(text)
        if len(lines) != 2:
            self.error(
                BAGIT_FILE,
                "2.1.1",
                f"{BAGIT_FILE}: должно быть ровно две строки, «BagIt-Version: M.N» и "
                f"«Tag-File-Character-Encoding: КОДИРОВКА», а их {len(lines)}",
            )
        version = _VERSION_LINE.fullmatch(lines[0]) if lines else None
        encoding = _ENCODING_LINE.fullmatch(lines[1]) if len(lines) > 1 else None
        if lines and not version:
            self.error(
                BAGIT_FILE,
                "2.1.1",
                f"{BAGIT_FILE}, строка 1: ожидалось «BagIt-Version: M.N», а записано «{lines[0]}»",
            )
        if len(lines) > 1 and not encoding:
            self.error(
                BAGIT_FILE,
                "2.1.1",
                f"{BAGIT_FILE}, строка 2: ожидалось «Tag-File-Character-Encoding: КОДИРОВКА», "
                f"а записано «{lines[1]}»",
            )
        if version:
            declared = BAGIT_VERSIONS.get(version.group(1))
            if declared is None:
                self.error(
                    BAGIT_FILE,
                    "2.1.1",
                    f"{BAGIT_FILE}: версия BagIt {version.group(1)} не поддерживается "
                    f"(проверяются версии {', '.join(SUPPORTED_VERSIONS)})",
                )
            else:
                self.version = declared
            if declared is not None and declared.is_draft:
                self.warn(BAGIT_FILE, "2.1.1", f"{BAGIT_FILE}: {_draft_rules(declared)}")
        if encoding:
            name = encoding.group(1)
            try:
                self.encoding = codecs.lookup(name).name
                self.encoding_title = name
            except LookupError:
                self.error(
                    BAGIT_FILE, "2.1.1", f"{BAGIT_FILE}: кодировка служебных файлов «{name}» неизвестна"
                )
                return
            if self.encoding != "utf-8":
                self.warn(
                    BAGIT_FILE,
                    "2.1.1",
                    f"{BAGIT_FILE}: служебные файлы в кодировке {name}; RFC 8493 рекомендует UTF-8",
                )

    # --- §2.1.2 data/ ---

    def check_payload_directory(self) -> None:
        if PAYLOAD_DIR in self.files:
            self.error(
                PAYLOAD_DIR, "2.1.2", f"{PAYLOAD_DIR}: это файл, а должна быть папка с содержимым пакета"
            )
        elif PAYLOAD_DIR not in self.folders and not any(p.startswith(PAYLOAD_PREFIX) for p in self.files):
            self.error(PAYLOAD_PREFIX, "2.1.2", f"{PAYLOAD_PREFIX}: папки с содержимым пакета нет")

    # --- §2.1.3, §2.2.1 manifests ---

    def read_manifests(self) -> None:
        for name in sorted(self.files):
            match = _MANIFEST_NAME.fullmatch(name)
            if not match:
                continue
            is_tag, algorithm = bool(match.group(1)), match.group(2)
            section = "2.2.1" if is_tag else "2.1.3"
            if is_tag and not self.version.tag_manifests:
                self.warn(
                    name,
                    "2.2.1",
                    f"{name}: в BagIt {self.version.number} манифестов служебных файлов нет "
                    f"({self.version.specification}); файл не проверяется",
                )
                continue
            if algorithm not in self.supported or algorithm not in hashlib.algorithms_available:
                self.error(
                    name,
                    "2.4",
                    f"{name}: алгоритм «{algorithm}» не поддерживается, "
                    f"суммы этого манифеста проверить нельзя (поддерживаются: {', '.join(self.supported)})",
                )
                continue
            lines = self.read_tag_lines(name, section, self.max_manifest_lines)
            manifest = self.parse_manifest(name, algorithm, is_tag, lines)
            if name not in self.unread:  # a manifest read in part checks nothing
                self.manifests.append(manifest)

        payload_names = {
            name: match.group(2)
            for name in self.files
            if (match := _MANIFEST_NAME.fullmatch(name)) and not match.group(1)
        }
        if not payload_names:
            self.error("", "2.1.3", "Пакет: нет ни одного манифеста содержимого (manifest-<алгоритм>.txt)")
        algorithms = set(payload_names.values())
        if algorithms and algorithms <= WEAK_ALGORITHMS and not self.version.is_draft:
            titles = " и ".join(ALGORITHM_TITLES[a] for a in sorted(algorithms))
            self.warn(
                min(payload_names),
                "2.4",
                f"{', '.join(sorted(payload_names))}: содержимое защищено только "
                f"{'алгоритмом' if len(algorithms) == 1 else 'алгоритмами'} {titles}; RFC 8493 требует "
                "поддержки SHA-256 и SHA-512 — добавьте манифест manifest-sha512.txt",
            )
        for manifest in self.manifests:
            if manifest.is_tag and algorithms and manifest.algorithm not in algorithms:
                self.warn(
                    manifest.name,
                    "2.2.1",
                    f"{manifest.name}: алгоритм {ALGORITHM_TITLES[manifest.algorithm]} не используется "
                    "ни одним манифестом содержимого",
                )

    def parse_manifest(self, name: str, algorithm: str, is_tag: bool, lines: Iterable[str]) -> _Manifest:
        manifest = _Manifest(name, algorithm, is_tag)
        section = "2.2.1" if is_tag else "2.1.3"
        for number, line, entry in manifest_lines(lines):  # the one grammar (storage.bagformat)
            if entry is None:
                self.error(
                    name, section, f"{name}, строка {number}: не строка «контрольная сумма путь»: «{line}»"
                )
                continue
            path = self.filepath(name, number, entry.raw_filepath, section)
            if path is None:
                continue
            if not is_tag and not path.startswith(PAYLOAD_PREFIX):
                self.error(
                    name,
                    "2.1.3",
                    f"{name}, строка {number}: {path} — не файл из папки {PAYLOAD_PREFIX}; манифест "
                    "содержимого называет только файлы содержимого",
                )
                continue
            if is_tag and path.startswith(PAYLOAD_PREFIX):
                self.error(
                    name,
                    "2.2.1",
                    f"{name}, строка {number}: файл содержимого {path} "
                    "не должен быть в манифесте служебных файлов",
                )
                continue
            if is_tag and _is_tag_manifest(path):
                self.error(
                    name,
                    "2.2.1",
                    f"{name}, строка {number}: манифест служебных файлов не должен перечислять "
                    f"манифесты служебных файлов ({path})",
                )
                continue
            digest = entry.checksum
            if path in manifest.entries:
                first = manifest.lines[path]
                if manifest.entries[path] != digest:
                    self.error(
                        name,
                        section,
                        f"{name}, строки {first} и {number}: файл {path} указан дважды с разными суммами",
                    )
                    manifest.entries[path] = ""  # can never verify
                else:
                    self.warn(
                        name,
                        section,
                        f"{name}, строки {first} и {number}: файл {path} указан дважды (суммы совпадают)",
                    )
                continue
            manifest.entries[path] = digest
            manifest.lines[path] = number
        return manifest

    def filepath(self, name: str, number: int, raw: str, section: str) -> str | None:
        """A manifest's or fetch.txt's filepath decoded (§2.1.3), or None if it is unsafe (reported)."""
        if self.version.percent_encoded_filepaths and _PLAIN_PATH.fullmatch(raw):
            return raw  # the usual case: nothing to decode, and safe (see _unsafe_path)
        where = f"{name}, строка {number}: «{raw}»"
        if self.version.percent_encoded_filepaths:
            path, stray = decode_filepath(raw)
            if stray:
                self.error(name, "2.1.3", f"{where}: знак «%» не закодирован как «%25»")
            if raw.startswith("*"):
                self.error(
                    name,
                    "2.1.3",
                    f"{where}: «*» перед путём (двоичный режим md5sum) в BagIt 1.0 не допускается — "
                    "путь начинается прямо после пробелов",
                )
                return None
        else:  # the drafts encode nothing: the path as written, "*" (md5sum -b) and "./" before it allowed
            path = raw.removeprefix("*").removeprefix("./")
            if path not in self.files and _BAGIT_PYTHON_BREAK.search(path):
                decoded = _BAGIT_PYTHON_BREAK.sub(lambda m: "\r" if m.group(0) == "%0D" else "\n", path)
                if decoded in self.files:
                    self.warn(
                        name,
                        "2.1.3",
                        f"{where}: «%0D»/«%0A» в пути прочитаны как перевод строки, как их пишет "
                        f"bagit-python; в BagIt {self.version.number} пути не кодируются",
                    )
                    path = decoded
        reason = _unsafe_path(path)
        if reason:
            self.error(name, "5.1" if reason[1] else section, f"{where}: {reason[0]}")
            return None
        return path

    # --- §2.2.2 bag-info.txt ---

    def read_bag_info(self) -> list[tuple[str, str, int]]:
        """bag-info.txt (package-info.txt until 0.95) as (label, value, line) with folded lines joined."""
        name = self.version.bag_info_file
        other = ({BAG_INFO_FILE, PACKAGE_INFO_FILE} - {name}).pop()
        if other in self.files and name not in self.files:
            self.warn(
                other,
                "2.2.2",
                f"{other}: в BagIt {self.version.number} сведения о пакете пишутся в {name} "
                f"({self.version.specification}); {other} — прочий служебный файл, его метки не проверяются",
            )
        if name not in self.files:
            return []
        fields: list[tuple[str, str, int]] = []
        strict = not self.version.is_draft
        for number, line in enumerate(self.read_tag_lines(name, "2.2.2"), start=1):
            if not line.strip():
                continue
            if line[0] in " \t":
                if not fields:
                    self.error(
                        name, "2.2.2", f"{name}, строка {number}: продолжение значения без метки: «{line}»"
                    )
                    continue
                label, value, first = fields[-1]
                fields[-1] = (label, (value + " " + line.strip(" \t")).strip(" \t"), first)
                continue
            label, colon, value = line.partition(":")
            if not colon or not label.strip():
                self.error(name, "2.2.2", f"{name}, строка {number}: не строка «Метка: значение»: «{line}»")
                continue
            if strict and (label != label.strip(" \t") or (value and value[0] not in " \t")):
                self.error(
                    name,
                    "2.2.2",
                    f"{name}, строка {number}: в BagIt 1.0 метка пишется без пробелов по краям, "
                    f"а после двоеточия — один пробел: «{line}»",
                )
            fields.append((label.strip(" \t"), value.strip(" \t"), number))
        if name in self.unread:
            return []

        lowered = [label.lower() for label, _, _ in fields]
        for single in single_labels(self.version):
            found = [f for f, label in zip(fields, lowered, strict=True) if label == single.lower()]
            if len(found) > 1:
                self.warn(
                    name,
                    "2.2.2",
                    f"{name}, строки {', '.join(str(f[2]) for f in found)}: метка {single} повторяется",
                )
        for label, value, number in fields:
            if label.lower() == self.version.date_label.lower() and not _is_date(value):
                self.warn(
                    name,
                    "2.2.2",
                    f"{name}, строка {number}: {self.version.date_label} «{value}» не в виде ГГГГ-ММ-ДД",
                )
        return fields

    def check_payload_oxum(self, fields: list[tuple[str, str, int]]) -> None:
        oxums = [(value, number) for label, value, number in fields if label.lower() == "payload-oxum"]
        if not oxums:
            return
        value, number = oxums[0]
        name = self.version.bag_info_file
        match = _OXUM.fullmatch(value)
        if not match:
            where = f"{name}, строка {number}"
            self.error(name, "2.2.2", f"{where}: Payload-Oxum «{value}» не в виде «байты.файлы»")
            return
        if any(entry.path not in self.files for entry in self.fetch):
            return  # an incomplete bag is reported as such; its size cannot match yet
        sizes = [size for path, size in self.files.items() if path.startswith(PAYLOAD_PREFIX)]
        octets, streams = int(match.group(1)), int(match.group(2))
        if (octets, streams) != (sum(sizes), len(sizes)):
            self.error(
                name,
                "2.2.2",
                f"{name}: Payload-Oxum {value} ({_bytes_in_files(octets, streams)}), "
                f"а в папке {PAYLOAD_PREFIX} {_bytes_in_files(sum(sizes), len(sizes))}",
            )

    # --- §2.2.3 fetch.txt ---

    def read_fetch(self) -> None:
        if FETCH_FILE not in self.files:
            return
        lines = self.read_tag_lines(FETCH_FILE, "2.2.3", self.max_manifest_lines)
        payload = [m for m in self.manifests if not m.is_tag]
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            match = _FETCH_LINE.fullmatch(line)
            length = match.group(2) if match else ""
            if not match or not (length == "-" or length.isdigit()):
                self.error(
                    FETCH_FILE,
                    "2.2.3",
                    f"{FETCH_FILE}, строка {number}: не строка «URL длина путь»: «{line}»",
                )
                continue
            url = match.group(1)
            path = self.filepath(FETCH_FILE, number, match.group(3), "2.2.3")
            if path is None:
                continue
            where = f"{FETCH_FILE}, строка {number}"
            parsed = urllib.parse.urlsplit(url)
            if not parsed.scheme or not (parsed.netloc or parsed.scheme == "file"):
                self.error(FETCH_FILE, "2.2.3", f"{where}: «{url}» — не адрес URL")
            if not path.startswith(PAYLOAD_PREFIX):
                self.error(
                    FETCH_FILE,
                    "2.2.3",
                    f"{where}: {path} — служебный файл, по fetch.txt загружается только содержимое",
                )
                continue
            missing_from = [m.name for m in payload if path not in m.entries]
            if missing_from:
                self.error(FETCH_FILE, "2.2.3", f"{where}: файла {path} нет в {', '.join(missing_from)}")
            self.warn(
                FETCH_FILE,
                "2.2.3",
                f"{where}: {path} должен загружаться с {url}; при проверке файлы не загружаются",
            )
            self.fetch.append(_FetchEntry(url, None if length == "-" else int(length), path, number))

    # --- §3 complete ---

    def check_completeness(self) -> None:
        payload = [m for m in self.manifests if not m.is_tag]
        tag = [m for m in self.manifests if m.is_tag]
        fetched = {entry.path: entry for entry in self.fetch}
        for path in sorted(self.files):
            if path.startswith(PAYLOAD_PREFIX):
                missing_from = [m.name for m in payload if path not in m.entries]
                if missing_from:
                    self.error(path, "3", f"{path}: файла нет в {', '.join(missing_from)}")
            elif tag and not _is_tag_manifest(path):
                missing_from = [m.name for m in tag if path not in m.entries]
                if missing_from:
                    self.warn(path, "2.2.1", f"{path}: служебного файла нет в {', '.join(missing_from)}")
            entry = fetched.get(path)
            if entry and entry.length is not None and entry.length != self.files[path]:
                self.error(
                    path,
                    "2.2.3",
                    f"{path}: размер {count_words(self.files[path], 'байт', 'байта', 'байт')}, "
                    f"а в {FETCH_FILE} (строка {entry.line}) указано {entry.length}",
                )

        listed = sorted({path for manifest in self.manifests for path in manifest.entries})
        for path in listed:
            if path in self.files:
                continue
            names = ", ".join(m.name for m in self.manifests if path in m.entries)
            if path in fetched:
                self.error(
                    path,
                    "3",
                    f"{path}: файл указан в {FETCH_FILE} (строка {fetched[path].line}), но в пакете его нет "
                    "— пакет неполный",
                )
            elif path in self.folders:
                self.error(
                    path, "2.1.3", f"{path}: это папка, а манифест ({names}) может называть только файлы"
                )
            else:
                self.error(path, "3", f"{path}: файл отсутствует, хотя указан в {names}")

    # --- §3 valid ---

    def check_checksums(self) -> None:
        wanted: dict[str, list[_Manifest]] = {}
        for manifest in self.manifests:
            for path in manifest.entries:
                if path in self.files:
                    wanted.setdefault(path, []).append(manifest)
        for path in sorted(wanted):
            manifests = wanted[path]
            algorithms = sorted({m.algorithm for m in manifests})
            try:
                if path in self.read_bytes:
                    digests = {a: hashlib.new(a, self.read_bytes[path]).hexdigest() for a in algorithms}
                    size = len(self.read_bytes[path])
                else:
                    with self.source.open(path) as stream:
                        digests, size = hash_stream(stream, algorithms, self.throttle, self.files[path])
            except Exception as error:  # any failure to read is a finding (module docstring)
                self.error(path, "3", f"{path}: файл не читается: {_reason(error)}")
                continue
            self.files_checked += 1
            self.bytes_hashed += size
            for manifest in manifests:
                if manifest.entries[path] != digests[manifest.algorithm]:
                    self.error(
                        path,
                        "3",
                        f"{path}: контрольная сумма {ALGORITHM_TITLES[manifest.algorithm]} "
                        f"не совпадает с {manifest.name}",
                    )


_PLAIN_PATH = re.compile(PLAIN_PATH)


def _unsafe_path(path: str) -> tuple[str, bool] | None:
    """Why a bag-relative path is refused, and whether it would escape the bag (§5.1); None if fine."""
    if _PLAIN_PATH.fullmatch(path):  # the usual case: nothing below can refuse it
        return None
    if not path:
        return "путь пустой", False
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        return "абсолютный путь, а нужен путь внутри пакета", True
    if path.startswith("~"):
        return "путь с «~» в начале ведёт в домашнюю папку, а нужен путь внутри пакета", True
    parts = path.split("/")
    if ".." in parts or ".." in path.split("\\"):
        return "путь с «..» может вести за пределы пакета", True
    if "\\" in path:
        return "обратная косая черта в пути; разделитель в путях BagIt — «/»", False
    if "\x00" in path:
        return "нулевой символ в пути", False
    if any(part in ("", ".") for part in parts):
        return "пустая часть пути или «.»; путь должен называть файл прямо", False
    return None


def _is_tag_manifest(path: str) -> bool:
    match = _MANIFEST_NAME.fullmatch(path)
    return bool(match and match.group(1))


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _draft_rules(version: BagItVersion) -> str:
    """The warning on a bag of a draft version: which rules it was checked by."""
    rules = ["пути в манифестах и fetch.txt без процентного кодирования, «*» и «./» перед путём допускаются"]
    if version.bag_info_file != BAG_INFO_FILE:
        labels = f"{version.date_label}, {version.size_label}"
        rules.append(f"сведения о пакете в {version.bag_info_file} ({labels})")
    if not version.tag_manifests:
        rules.append("манифестов служебных файлов нет")
    return (
        f"версия BagIt {version.number} ({version.specification}, до RFC 8493); пакет проверен по её "
        f"правилам: {'; '.join(rules)}"
    )


def _figure(n: int) -> str:
    """A count as Russian text writes it: 250 000."""
    return f"{n:,}".replace(",", " ")


def _too_big(size: int | None, limit: int) -> str:
    """Why a tag file is refused for its size: `size` when the listing told it, None when reading did."""
    stated = f"{_figure(size)} байт" if size is not None else f"больше {_figure(limit)} байт"
    return (
        f"{stated} — файл такого размера не проверяется "
        f"(предел {_figure(limit)} байт, docs/verify-and-audit.md)"
    )


def _bytes_in_files(octets: int, streams: int) -> str:
    files = count_words(streams, "файле", "файлах", "файлах")
    return f"{count_words(octets, 'байт', 'байта', 'байт')} в {files}"


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


# --- Many bags, and the report ------------------------------------------------------------


def validate_bags(sources: Iterable[BagSource], *, max_rate_mb_s: float | None = None) -> Iterator[BagReport]:
    """validate_bag for each source in turn; one bag at a time, so the rate cap holds for the whole run."""
    for source in sources:
        yield validate_bag(source, max_rate_mb_s=max_rate_mb_s)


def format_report(reports: Sequence[BagReport], *, json: bool = False) -> str:
    """The reports as text for people (Russian, «VALID»/«INVALID» per bag) or as JSON for programs.

    JSON keys are English and stable; messages stay Russian. Text lists every
    problem and warning under its bag, each with the RFC section, then a summary.
    """
    if json:
        document = {
            "bags": [
                {
                    "bag": report.bag,
                    "status": "VALID" if report.valid else "INVALID",
                    "valid": report.valid,
                    "files_checked": report.files_checked,
                    "bytes_hashed": report.bytes_hashed,
                    "seconds": round(report.seconds, 3),
                    "problems": [_problem_json(p) for p in report.problems],
                    "warnings": [_problem_json(p) for p in report.warnings],
                }
                for report in reports
            ],
            "summary": {
                "bags": len(reports),
                "valid": sum(report.valid for report in reports),
                "invalid": sum(not report.valid for report in reports),
            },
        }
        return json_module.dumps(document, ensure_ascii=False, indent=2) + "\n"

    lines = []
    for report in reports:
        lines.append(
            f"{'VALID' if report.valid else 'INVALID'}  {report.bag}  "
            f"({count_words(report.files_checked, 'файл', 'файла', 'файлов')}, "
            f"{_megabytes(report.bytes_hashed)})"
        )
        lines += [f"  ошибка: {p.message} [{p.rule}]" for p in report.problems]
        lines += [f"  предупреждение: {p.message} [{p.rule}]" for p in report.warnings]
    invalid = sum(not report.valid for report in reports)
    lines.append(
        f"Проверено пакетов: {len(reports)}; исправных: {len(reports) - invalid}; с ошибками: {invalid}"
    )
    return "\n".join(lines) + "\n"


def _problem_json(problem: Problem) -> dict[str, str]:
    return {"path": problem.path, "rule": problem.rule, "message": problem.message}


def _megabytes(octets: int) -> str:
    return f"{octets / 1_000_000:.1f} МБ".replace(".", ",")
