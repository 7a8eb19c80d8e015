"""The BagIt text formats (RFC 8493) that every stored bundle carries, in one place.

Storage must check and catalogue a bundle without knowing what is inside it: it
reads `bag-info.txt` and the manifests, never the journal. The writer in
`documents/bag.py` uses the same names and the same formatting from here, so what
is written and what is checked cannot drift apart.

One manifest grammar. Every reader of a manifest — the storage checks here
(`check_fixity`), the bag writer's own check (documents.bag), the seal, retrieval
and the RFC 8493 validator (validators.bagit_rfc8493) — reads its lines with
`manifest_lines`: lines end in LF, CR or CRLF, blank lines are skipped, and a line
is `checksum filepath` with one or more spaces or tabs between them (RFC 8493
§2.1.3), the filepath percent-decoded (%0D, %0A, %25). The writer
(`format_manifest`) is its inverse and always writes `<hex digest>  <path>` (two
spaces), LF-terminated, sorted by path, UTF-8 — also the format `sha256sum -c`
reads, run inside the bag. What only the validator asks of a manifest (safe paths,
payload or tag files, repeated entries as warnings) stays in the validator.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

BAGIT_FILE = "bagit.txt"
BAG_INFO_FILE = "bag-info.txt"
PAYLOAD_DIR = "data"
README_FILE = "README.txt"
CHANGES_FILE = "CHANGES.txt"
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"

ALGORITHMS = ("sha256", "sha512")
"""Every bag gets a manifest and a tagmanifest for each: two independent digests (R7)."""

ALGORITHM_TITLES = {"sha256": "SHA-256", "sha512": "SHA-512"}

SEAL_FILE = "seal.p7s"
UNLISTED_TAG_FILES: tuple[str, ...] = (SEAL_FILE,)
"""Tag files allowed outside the tagmanifests: the detached seal over tagmanifest-sha256.txt
(documents/seal.py) cannot be listed in the file it signs."""
EVIDENCE_DIR = "evidence"
"""The tag folder of a sealed bag's evidence records (documents/evidence.py): timestamps,
certificates and revocation lists added after sealing, only ever added, never listed in the
tagmanifests (which the seal signs); each record lists what it covers in its own file."""


def is_unlisted_tag_file(relpath: str) -> bool:
    """A tag file that is rightly absent from the tagmanifests: the seal and its evidence."""
    return relpath in UNLISTED_TAG_FILES or relpath.startswith(EVIDENCE_DIR + "/")


FOLD_WIDTH = 79
"""RFC 8493 §2.2.2 recommends tag lines of at most 79 characters."""


class Label:
    """bag-info.txt labels: RFC 8493 reserved ones first, then ours."""

    SOURCE_ORGANIZATION = "Source-Organization"
    ORGANIZATION_ADDRESS = "Organization-Address"
    EXTERNAL_DESCRIPTION = "External-Description"
    EXTERNAL_IDENTIFIER = "External-Identifier"  # the bundle id
    BAGGING_DATE = "Bagging-Date"
    PAYLOAD_OXUM = "Payload-Oxum"
    BAG_SOFTWARE_AGENT = "Bag-Software-Agent"
    SCHOOL = "School"  # the school's folder name in bundle keys
    ACADEMIC_YEAR = "Academic-Year"
    SCHOOL_CLASS = "School-Class"
    PERIOD_CODE = "Period-Code"
    PERIOD = "Period"
    BUNDLE_KIND = "Bundle-Kind"
    BUNDLE_VERSION = "Bundle-Version"
    SUPERSEDES = "Supersedes"
    CHANGES = "Changes"
    RETENTION_CLASS = "Retention-Class"
    RETAIN_UNTIL = "Retain-Until"
    SOURCE_FINGERPRINT = "Source-Fingerprint"


class BagFormatError(ValueError):
    """A tag file or manifest that cannot be read; the message names the file."""


def manifest_name(algorithm: str) -> str:
    return f"manifest-{algorithm}.txt"


def tagmanifest_name(algorithm: str) -> str:
    return f"tagmanifest-{algorithm}.txt"


def is_payload(relpath: str) -> bool:
    return relpath.startswith(PAYLOAD_DIR + "/")


# --- Manifests ---------------------------------------------------------------


def format_manifest(digests: Mapping[str, str]) -> bytes:
    """Manifest bytes from {path: hex digest}: sorted by path, two spaces, LF, UTF-8."""
    return "".join(f"{digests[path]}  {encode_filepath(path)}\n" for path in sorted(digests)).encode("utf-8")


LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""Tag file lines end in LF, CR or CRLF (RFC 8493 §2.1.3, §2.2.2)."""
_MANIFEST_LINE = re.compile(r"([0-9A-Fa-f]+)[ \t]+(.+)")
"""`checksum filepath`: a hex digest, one or more spaces or tabs, the (percent-encoded) filepath."""
_PERCENT = re.compile(r"%(0[DdAa]|25)?")


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One line of a manifest, read by the one grammar every reader shares."""

    checksum: str  # lower-case hex
    filepath: str  # decoded: %0D, %0A, %25 stand for CR, LF, %
    raw_filepath: str  # as written in the manifest
    stray_percent: bool  # a "%" not starting %0D, %0A or %25: RFC 8493 says % MUST be encoded


def split_tag_lines(text: str) -> list[str]:
    """The lines of a decoded tag file, without their line breaks (LF, CR or CRLF)."""
    lines = LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def encode_filepath(path: str) -> str:
    """A filepath as a manifest writes it: %, CR and LF percent-encoded (RFC 8493 §2.1.3)."""
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def decode_filepath(raw: str) -> tuple[str, bool]:
    """(filepath, whether a stray "%" was left as it is) of a manifest's or fetch.txt's filepath."""
    if "%" not in raw:
        return raw, False
    stray = False

    def decode(match: re.Match[str]) -> str:
        nonlocal stray
        if match.group(1) is None:
            stray = True
            return "%"
        return chr(int(match.group(1), 16))

    return _PERCENT.sub(decode, raw), stray


def parse_manifest_line(line: str) -> ManifestEntry | None:
    """One manifest line (without its line break), or None when it is not `checksum filepath`."""
    match = _MANIFEST_LINE.fullmatch(line)
    if not match:
        return None
    digest, raw = match.groups()
    path, stray = decode_filepath(raw)
    return ManifestEntry(digest.lower(), path, raw, stray)


def manifest_lines(lines: Iterable[str]) -> Iterator[tuple[int, str, ManifestEntry | None]]:
    """(line number from 1, line, entry or None if the line is malformed) of every non-blank line."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield number, line, parse_manifest_line(line)


def parse_manifest(data: bytes, name: str) -> dict[str, str]:
    """{path: lower-case hex digest} from a manifest's bytes; BagFormatError names the file and line."""
    entries: dict[str, str] = {}
    for number, line, entry in manifest_lines(split_tag_lines(_decode(data, name))):
        if entry is None:
            raise BagFormatError(f"{name}, строка {number}: не строка контрольной суммы: «{line}»")
        if entry.stray_percent:
            raise BagFormatError(f"{name}, строка {number}: знак «%» не закодирован как «%25»: «{line}»")
        if entry.filepath in entries:
            raise BagFormatError(f"{name}, строка {number}: файл {entry.filepath} указан дважды")
        entries[entry.filepath] = entry.checksum
    return entries


def digests_of(stream: BinaryIO, algorithms: Iterable[str] = ALGORITHMS) -> dict[str, str]:
    """Hex digests of a stream for each algorithm, reading it once in 1 MiB chunks."""
    hashers = {algorithm: hashlib.new(algorithm) for algorithm in algorithms}
    while chunk := stream.read(1 << 20):
        for hasher in hashers.values():
            hasher.update(chunk)
    return {algorithm: hasher.hexdigest() for algorithm, hasher in hashers.items()}


# --- Tag files (bagit.txt, bag-info.txt) -------------------------------------


def format_tag_fields(fields: Sequence[tuple[str, str]]) -> str:
    """`Label: value` lines, LF-terminated; values longer than a line are folded.

    Folding follows RFC 8493 §2.2.2 in the RFC 5322 way: a line break is inserted
    before a space, so the continuation line starts with that space and unfolding
    (dropping the line break) restores the value exactly. A value without spaces
    (a digest) stays on one line, however long.
    """
    lines = []
    for label, value in fields:
        if not label or ":" in label or label != label.strip() or any(c in label for c in "\r\n"):
            raise BagFormatError(f"Недопустимая метка в bag-info.txt: «{label}»")
        if value != value.strip() or any(c in value for c in "\r\n"):
            raise BagFormatError(f"Значение метки {label} в bag-info.txt: переводы строк и пробелы по краям")
        lines.append(_fold(f"{label}: {value}"))
    return "".join(line + "\n" for line in lines)


def _fold(line: str) -> str:
    if len(line) <= FOLD_WIDTH:
        return line
    label, value = line.split(": ", 1)
    out = [f"{label}:"]
    for word in value.split(" "):
        if word and len(out[-1]) + 1 + len(word) > FOLD_WIDTH and not out[-1].endswith((" ", ":")):
            out.append(" " + word)
        else:
            out[-1] += " " + word
    return "\n".join(out)


def parse_tag_fields(data: bytes, name: str) -> list[tuple[str, str]]:
    """(label, value) pairs of a tag file, folded lines joined back; BagFormatError names the file."""
    text = re.sub(r"\n(?=[ \t])", "", _decode(data, name).replace("\r\n", "\n").replace("\r", "\n"))
    fields = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        if ":" not in line:
            raise BagFormatError(f"{name}: строка без метки: «{line}»")
        label, value = line.split(":", 1)
        fields.append((label.strip(), value.strip()))
    return fields


def parse_bag_info(data: bytes, name: str = BAG_INFO_FILE) -> dict[str, str]:
    """bag-info.txt as {label: value}; our bags never repeat a label, so a repeat is an error."""
    info: dict[str, str] = {}
    for label, value in parse_tag_fields(data, name):
        if label in info:
            raise BagFormatError(f"{name}: метка {label} повторяется")
        info[label] = value
    return info


def payload_oxum(sizes: Iterable[int]) -> str:
    """`<octets>.<files>` of the payload, as RFC 8493 §2.2.2 defines Payload-Oxum."""
    sizes = list(sizes)
    return f"{sum(sizes)}.{len(sizes)}"


def _decode(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BagFormatError(f"{name}: не в кодировке UTF-8 (байт {error.start})") from error
    if text.startswith("\ufeff"):
        raise BagFormatError(f"{name}: начинается с метки порядка байтов (BOM)")
    return text


# --- Checking files against the manifests ------------------------------------

Opener = Callable[[str], AbstractContextManager[BinaryIO]]


def check_fixity(
    relpaths: Iterable[str], open_file: Opener, sizes: Mapping[str, int] | None = None
) -> list[str]:
    """Problems, in Russian, each naming its file: missing, extra, or checksum mismatch.

    `relpaths` are all files of the bag (POSIX paths relative to its root) and
    `open_file(relpath)` opens one for reading, so the same check runs on a
    directory and on any storage target. Every present manifest-*.txt and
    tagmanifest-*.txt is checked; manifest-sha256.txt and tagmanifest-sha256.txt
    must exist. `sizes` (if given) lets Payload-Oxum be checked without reading.
    An empty list means the bag is complete and intact.
    """
    files = sorted(relpaths)
    present = set(files)
    problems = [
        f"{required}: файл отсутствует"
        for required in (BAGIT_FILE, manifest_name("sha256"), tagmanifest_name("sha256"))
        if required not in present
    ]

    listed: dict[str, dict[str, str]] = {}  # manifest → {path: digest}
    for algorithm in ALGORITHMS:
        for manifest in (manifest_name(algorithm), tagmanifest_name(algorithm)):
            if manifest not in present:
                continue
            try:
                with open_file(manifest) as stream:
                    listed[manifest] = parse_manifest(stream.read(), manifest)
            except BagFormatError as error:
                problems.append(str(error))

    for path in sorted({path for entries in listed.values() for path in entries}):
        listing = [manifest for manifest in sorted(listed) if path in listed[manifest]]
        if path not in present:
            problems.append(f"{path}: файл отсутствует (указан в {', '.join(listing)})")
            continue
        with open_file(path) as stream:
            actual = digests_of(stream, sorted({_algorithm_of(m) for m in listing}))
        mismatched = [m for m in listing if listed[m][path] != actual[_algorithm_of(m)]]
        if mismatched:
            problems.append(f"{path}: контрольная сумма не совпадает ({', '.join(mismatched)})")

    own_manifests = {tagmanifest_name(algorithm) for algorithm in ALGORITHMS}
    for path in files:
        if path in own_manifests or is_unlisted_tag_file(path):
            continue
        prefix = "manifest-" if is_payload(path) else "tagmanifest-"
        missing_from = [m for m in sorted(listed) if m.startswith(prefix) and path not in listed[m]]
        if missing_from:
            problems.append(f"{path}: лишний файл, его нет в {', '.join(missing_from)}")

    if sizes is not None and BAG_INFO_FILE in present:
        problems += _check_oxum(files, open_file, sizes)
    return problems


def _algorithm_of(manifest: str) -> str:
    return manifest.removesuffix(".txt").rsplit("-", 1)[1]


def _check_oxum(files: list[str], open_file: Opener, sizes: Mapping[str, int]) -> list[str]:
    try:
        with open_file(BAG_INFO_FILE) as stream:
            declared = parse_bag_info(stream.read()).get(Label.PAYLOAD_OXUM)
    except BagFormatError as error:
        return [str(error)]
    actual = payload_oxum(sizes[path] for path in files if is_payload(path))
    if declared is not None and declared != actual:
        return [f"{BAG_INFO_FILE}: Payload-Oxum {declared}, а в папке data/ {actual} (байт.файлов)"]
    return []
