"""Everything `journal-archive verify` and the fixity audit check in one bundle (R5, R7).

`check_bundle` is the RFC 8493 validation (validators.bagit_rfc8493) plus our own
layer, which a bag that is merely valid BagIt can still fail:

* PDF/A-3b [rule «PDF/A-3b»]: every PDF in data/ passes pikepdf's PDF/A validator
  (`pikepdf.pdfa.validate_written`), the structure our PDFs are written to (R5), and the rules
  that validator leaves out — header, trailer /ID, interactive forms (validators.pdfa_rules).
  A construct the validator does not check is a warning, not a failure.
* XSD [«XSD»]: data/journal.xml against the bundle's *own* data/journal.xsd — the
  schema an auditor years later has in hand, not the one this program ships.
* Seal [«seal»]: when the bag holds seal.p7s, `documents.seal.check_stored_seal` checks it and its
  evidence records (evidence/: timestamps, certificates, CRLs) as of the check date, the
  signature at the time its timestamp proves; a seal without a timestamp is a warning that its
  validity ends with the certificate.
  Without that module (it may not be installed yet) a present seal is a warning: it
  was not checked, and the report says so. A bag without seal.p7s has no seal to check.
* Catalog [«catalog»]: the digests the catalog recorded when the bundle was archived
  (storage.catalog.record_anchor: the SHA-256 of tagmanifest-sha256.txt). A bag's
  manifests only vouch for each other; a bag whose payload and manifests were
  rewritten consistently is valid BagIt but fails here.

A file that already failed the RFC checks (wrong checksum, missing, unreadable) is
not checked again for structure: it is not the archived file, and one reason is enough.

Reading. The bag is streamed, never unpacked: every file is hashed once for all its
algorithms by validate_bag. Our layer then reads again only what it must parse — the
PDFs, journal.xml with its XSD, and the few tag files the anchor and seal cover. The
PDF validator needs a seekable file: a bag folder's file is opened in place, a
filesystem target's file is a seekable stream; only a stream that cannot seek (S3)
is spooled into a SpooledTemporaryFile (memory up to SPOOL_MEMORY, then a temporary
file) and removed at once — one file at a time, never the bag. The small tag files (top
level and evidence/) are read once and kept for the RFC check, the seal and the anchor
(_ReadOnce). The seal (documents.seal.check_stored_seal) is checked from those bytes: it
signs tagmanifest-sha256.txt, and the payload has already been checked against the
manifests it lists. The same `max_rate_mb_s` cap applies to these reads as to the hashing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pikepdf.pdfa
from lxml import etree

from documents.pdfa import PDFA_CONFORMANCE, PDFA_PART
from documents.xml_format import JOURNAL_XML_NAME, JOURNAL_XSD_NAME, validate_journal_xml
from journal.russian import count_words
from storage.bagformat import EVIDENCE_DIR, PAYLOAD_DIR, SEAL_FILE, is_unlisted_tag_file, tagmanifest_name
from storage.target import StorageError, Target
from validators.bagit_rfc8493 import (
    CHUNK_SIZE,
    SMALL_TAG_FILE,
    BagSource,
    DirectorySource,
    Problem,
    SourceEntry,
    TargetSource,
    Throttle,
    validate_bag,
)
from validators.pdfa_rules import check_pdf

PDFA_FLAVOUR = f"{PDFA_PART}{PDFA_CONFORMANCE.lower()}"
RULE_PDFA = f"PDF/A-{PDFA_FLAVOUR}"
RULE_XSD = "XSD"
RULE_SEAL = "seal"
RULE_CATALOG = "catalog"
RULE_STORAGE = "storage"
"""A stored file that can still be changed (a write bit set, not a locked object version)."""
RULE_REPLICA = "replica"
"""The replica is on its target and the target answers. Failing it is a *missing* replica, not a
damaged one: the fixity audit (pipeline.audit) tells the two apart by it (BundleReport.missing)."""

SEALED_FILE = tagmanifest_name("sha256")
XML_PATH = f"{PAYLOAD_DIR}/{JOURNAL_XML_NAME}"
XSD_PATH = f"{PAYLOAD_DIR}/{JOURNAL_XSD_NAME}"
SPOOL_MEMORY = 32 << 20
"""A PDF from a stream that cannot seek is kept in memory up to this size, then in a temporary file."""
MAX_PDFA_FINDINGS = 5
"""PDF/A violations listed one by one; the rest are counted."""


@dataclass(frozen=True, slots=True)
class BundleReport:
    """The verdict on one bundle: RFC 8493 and our own layer together.

    The fields are those of validators.bagit_rfc8493.BagReport (so format_report
    prints both), plus `checks`: which layers ran, for the reader of a JSON report.
    """

    bag: str  # the source's name: a folder, or "target:key"
    valid: bool
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    files_checked: int
    bytes_hashed: int
    seconds: float
    checks: tuple[str, ...]  # "RFC 8493", "PDF/A-3b", "XSD", "seal", "catalog", "storage", "replica"
    seal: Any = None  # documents.seal.SealCheck when a seal was checked (times, expiry of the evidence)

    @property
    def missing(self) -> bool:
        """The replica is not there or its target cannot be reached (RULE_REPLICA), so nothing was checked."""
        return any(problem.rule == RULE_REPLICA for problem in self.problems)


def check_bundle(
    source: BagSource,
    *,
    max_rate_mb_s: float | None = None,
    recorded_digests: Mapping[str, str] | None = None,
    seal_certificate: Path | None = None,
    deep: bool = True,
    tsa_certificate: Path | None = None,
    at: dt.datetime | None = None,
) -> BundleReport:
    """Check one bundle: RFC 8493, then PDF/A, XSD, seal and the catalog's recorded digests.

    `recorded_digests` maps a bag-relative file to the SHA-256 (hex) the catalog
    recorded for it (storage.catalog.recorded_digests); None or empty skips the catalog
    check. `seal_certificate` is the school's certificate to check a seal against
    (None: whatever documents.seal trusts by default), `tsa_certificate` the TSAs' trust anchors,
    `at` the date the seal's evidence is checked as of (default now). Never raises for a bad bundle.

    `deep=False` leaves out the structural re-validation (PDF/A, XSD) when the catalog's
    anchor is given: files whose checksums match manifests anchored in the catalog are
    byte-identical to what was validated when the bundle was archived, so the routine
    check is bound by hashing. Without an anchor the check is always deep.
    """
    started = time.perf_counter()
    listed = _ReadOnce(source)
    bag = validate_bag(listed, max_rate_mb_s=max_rate_mb_s)
    layer = _Layer(listed, Throttle(max_rate_mb_s), {p.path for p in bag.problems})
    checks = ["RFC 8493"]
    try:
        entries = listed.list_entries()
    except Exception:  # already a problem in the RFC report: nothing else can be read
        entries = []
    layer.files = {entry.path: entry.size for entry in entries if entry.kind == "file"}
    if layer.files:
        if deep or not recorded_digests:
            checks += [RULE_PDFA, RULE_XSD]
            layer.check_pdfs()
            layer.check_journal_xml()
        if SEAL_FILE in layer.files:
            checks.append(RULE_SEAL)
            layer.check_seal(seal_certificate, tsa_certificate, at)
        if recorded_digests:
            checks.append(RULE_CATALOG)
            layer.check_recorded(recorded_digests)
    problems = tuple(sorted(bag.problems + tuple(layer.problems), key=lambda p: p.path))
    # The seal cannot be listed in the tagmanifest it signs (UNLISTED_TAG_FILES): once it has
    # verified, the RFC's generic "tag file not in a tagmanifest" warning says nothing.
    seal_ok = SEAL_FILE in layer.files and not any(
        p.path == SEAL_FILE or p.path.startswith(EVIDENCE_DIR + "/") for p in layer.problems
    )
    bag_warnings = tuple(w for w in bag.warnings if not (seal_ok and is_unlisted_tag_file(w.path)))
    warnings = tuple(sorted(bag_warnings + tuple(layer.warnings), key=lambda p: p.path))
    return BundleReport(
        bag=source.name,
        valid=not problems,
        problems=problems,
        warnings=warnings,
        files_checked=bag.files_checked,
        bytes_hashed=bag.bytes_hashed,
        seconds=time.perf_counter() - started,
        checks=tuple(checks),
        seal=layer.seal,
    )


def check_stored_bundle(
    target: Target,
    key: str,
    *,
    max_rate_mb_s: float | None = None,
    recorded_digests: Mapping[str, str] | None = None,
    seal_certificate: Path | None = None,
    deep: bool = True,
    tsa_certificate: Path | None = None,
    at: dt.datetime | None = None,
) -> BundleReport:
    """check_bundle of a replica on a storage target, plus what only storage can break.

    A bundle the target does not have is INVALID with that reason; a stored file that
    can still be changed (a write bit set, not a locked object version) is a problem too.
    """
    name = f"{target.name}:{key}"
    try:
        present = target.has_bundle(key)
    except StorageError as error:
        return _unreadable(name, f"{name}: хранилище недоступно: {error}")
    if not present:
        return _unreadable(name, f"{name}: пакета нет на хранилище, хотя он записан в каталоге")
    watched = _StatWatcher(target)
    report = check_bundle(
        TargetSource(watched, key),  # type: ignore[arg-type]  # a Target in all but name
        max_rate_mb_s=max_rate_mb_s,
        recorded_digests=recorded_digests,
        seal_certificate=seal_certificate,
        deep=deep,
        tsa_certificate=tsa_certificate,
        at=at,
    )
    changeable = [
        Problem(path, RULE_STORAGE, f"{path}: файл на хранилище {target.name} доступен для изменения")
        for path in sorted(watched.changeable)
    ]
    if not changeable:
        return report
    problems = tuple(sorted(report.problems + tuple(changeable), key=lambda p: p.path))
    return BundleReport(
        report.bag,
        False,
        problems,
        report.warnings,
        report.files_checked,
        report.bytes_hashed,
        report.seconds,
        (*report.checks, RULE_STORAGE),
        report.seal,
    )


def _unreadable(name: str, message: str) -> BundleReport:
    problem = Problem("", RULE_REPLICA, message)
    return BundleReport(name, False, (problem,), (), 0, 0, 0.0, (RULE_REPLICA,))


class _StatWatcher:
    """A target seen through: records which files `stat` finds changeable, so nothing is asked twice."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = target.name
        self.changeable: list[str] = []

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.target, attribute)

    def stat(self, key: str, relpath: str) -> Any:
        info = self.target.stat(key, relpath)
        if not info.read_only:
            self.changeable.append(relpath)
        return info

    def stat_files(self, key: str) -> dict[str, Any]:
        found = self.target.stat_files(key)
        self.changeable += [relpath for relpath, info in found.items() if not info.read_only]
        return found

    def open_file(self, key: str, relpath: str) -> BinaryIO:
        return self.target.open_file(key, relpath)


class _Layer:
    """Our checks on top of RFC 8493, each recording Russian problems that name the file."""

    def __init__(self, source: _ReadOnce, throttle: Throttle, failed: set[str]) -> None:
        self.source = source
        self.throttle = throttle
        self.failed = failed  # files the RFC checks already found wrong
        self.files: dict[str, int] = {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.seal: Any = None

    def error(self, path: str, rule: str, message: str) -> None:
        self.problems.append(Problem(path, rule, message))

    def warn(self, path: str, rule: str, message: str) -> None:
        self.warnings.append(Problem(path, rule, message))

    def read(self, path: str) -> bytes:
        with self.source.open(path) as stream:
            data = stream.read()
        self.throttle.read(len(data))
        return data

    # --- PDF/A ---

    def check_pdfs(self) -> None:
        for path in sorted(self.files):
            if not (path.startswith(PAYLOAD_DIR + "/") and path.lower().endswith(".pdf")):
                continue
            if path in self.failed:
                continue
            try:
                with self.seekable(path) as document:
                    report = pikepdf.pdfa.validate_written(document, PDFA_FLAVOUR)
                    broken = [f for f in report.findings if f.rule == "pikepdf:internal"]  # not a PDF
                    breaches = [] if broken else check_pdf(document)  # what pikepdf's validator leaves out
            except Exception as error:  # an unreadable file is a finding, the others are still checked
                self.error(path, RULE_PDFA, f"{path}: файл не читается: {error}")
                continue
            self.throttle.read(self.files[path])
            reported = {f.rule for f in report.violations}  # pikepdf already names some /ID breaches
            violations = [*(b for b in breaches if b.rule not in reported), *report.violations]
            if broken:
                self.error(path, RULE_PDFA, f"{path}: PDF не читается: {broken[0].message}")
            elif violations:
                listed = "; ".join(
                    f"{f.rule} ({f.where}): {f.message}" for f in violations[:MAX_PDFA_FINDINGS]
                )
                more = len(violations) - MAX_PDFA_FINDINGS
                tail = (
                    f"; и ещё {count_words(more, 'нарушение', 'нарушения', 'нарушений')}" if more > 0 else ""
                )
                self.error(
                    path,
                    RULE_PDFA,
                    f"{path}: не соответствует {RULE_PDFA} — {_violations(len(violations))}: {listed}{tail}",
                )
            elif report.unsupported:
                first = report.unsupported[0]
                self.warn(
                    path,
                    RULE_PDFA,
                    f"{path}: соответствие {RULE_PDFA} не подтверждено — валидатор не проверяет "
                    f"{first.rule} ({first.where}): {first.message}",
                )

    @contextlib.contextmanager
    def seekable(self, path: str) -> Iterator[Path | BinaryIO]:
        """The file as something validate_written reads: a path, a seekable stream, or a spooled copy."""
        if isinstance(self.source.source, DirectorySource):
            yield self.source.source.root.joinpath(*path.split("/"))
            return
        with self.source.open(path) as stream:
            if _is_seekable(stream):
                yield stream
                return
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY) as spool:
                shutil.copyfileobj(stream, spool, CHUNK_SIZE)
                spool.seek(0)
                yield spool  # type: ignore[misc]  # a binary file in all but name

    # --- XML against the bundle's own XSD ---

    def check_journal_xml(self) -> None:
        if XML_PATH not in self.files or XML_PATH in self.failed:
            return
        if XSD_PATH not in self.files:
            self.error(
                XSD_PATH,
                RULE_XSD,
                f"{XSD_PATH}: схемы нет в пакете — {XML_PATH} не с чем сверить",
            )
            return
        if XSD_PATH in self.failed:
            return
        try:
            xml, xsd = self.read(XML_PATH), self.read(XSD_PATH)
        except Exception as error:  # an unreadable file is a finding, the others are still checked
            self.error(XML_PATH, RULE_XSD, f"{XML_PATH}: файл не читается: {error}")
            return
        try:
            found = validate_journal_xml(xml, xsd)
        except etree.LxmlError as error:
            found = [f"{JOURNAL_XSD_NAME}: схема не применяется ({error})"]
        for message in found:
            where = XSD_PATH if message.startswith(JOURNAL_XSD_NAME) else XML_PATH
            self.error(where, RULE_XSD, f"{where}: не соответствует схеме {JOURNAL_XSD_NAME}: {message}")

    # --- seal ---

    def check_seal(
        self, certificate: Path | None, tsa_certificate: Path | None, at: dt.datetime | None
    ) -> None:
        try:
            from documents.seal import check_stored_seal
        except ImportError:
            self.warn(
                SEAL_FILE,
                RULE_SEAL,
                f"{SEAL_FILE}: печать есть, но не проверена — проверка печати в этой установке недоступна",
            )
            return
        if SEAL_FILE in self.failed:
            return
        try:
            self.seal = check_stored_seal(
                self.files, self.read, certificate, tsa_certificate=tsa_certificate, at=at
            )
            found, warnings = self.seal.problems, self.seal.warnings
        except Exception as error:  # a seal that cannot be checked is a finding
            found, warnings = [f"{SEAL_FILE}: печать не проверяется: {error}"], []
        for message in found:
            where = message.split(":", 1)[0]
            path = where if where in self.files else SEAL_FILE
            self.error(path, RULE_SEAL, message if ":" in message else f"{SEAL_FILE}: {message}")
        for message in warnings:
            self.warn(SEAL_FILE, RULE_SEAL, message)

    # --- the catalog's recorded digests ---

    def check_recorded(self, recorded: Mapping[str, str]) -> None:
        for path in sorted(recorded):
            if path not in self.files:
                self.error(
                    path,
                    RULE_CATALOG,
                    f"{path}: файла нет в пакете, а каталог при архивировании записал его контрольную сумму",
                )
                continue
            try:
                with self.source.open(path) as stream:
                    hasher = hashlib.sha256()
                    while chunk := stream.read(CHUNK_SIZE):
                        hasher.update(chunk)
                        self.throttle.read(len(chunk))
            except Exception as error:  # an unreadable file is a finding
                self.error(path, RULE_CATALOG, f"{path}: файл не читается: {error}")
                continue
            if hasher.hexdigest() != recorded[path].lower():
                self.error(
                    path,
                    RULE_CATALOG,
                    f"{path}: контрольная сумма {path} не совпадает с записанной в каталоге "
                    "при архивировании — пакет изменён после архивирования (манифесты переписаны)",
                )


def _violations(n: int) -> str:
    return count_words(n, "нарушение", "нарушения", "нарушений")


def _is_seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class _ReadOnce:
    """A source whose listing is read once, and its small tag files too (top level and evidence/,
    up to SMALL_TAG_FILE each): on S3 a listing costs a request per file, and the RFC check, the
    seal and the catalog's anchor all read the same few tag files — one read means they all check
    the same bytes."""

    def __init__(self, source: BagSource) -> None:
        self.source = source
        self.name = source.name
        self.entries: list[SourceEntry] | None = None
        self.sizes: dict[str, int] = {}
        self.kept: dict[str, bytes] = {}

    def list_entries(self) -> list[SourceEntry]:
        if self.entries is None:
            self.entries = self.source.list_entries()
            self.sizes = {entry.path: entry.size for entry in self.entries if entry.kind == "file"}
        return self.entries

    def open(self, relpath: str) -> BinaryIO:
        if relpath in self.kept:
            return io.BytesIO(self.kept[relpath])
        if self.sizes.get(relpath, SMALL_TAG_FILE + 1) > SMALL_TAG_FILE or not _is_tag_file(relpath):
            return self.source.open(relpath)
        with self.source.open(relpath) as stream:
            data = stream.read(SMALL_TAG_FILE + 1)
        if len(data) > SMALL_TAG_FILE:  # grown since it was listed: streamed as any other file
            return self.source.open(relpath)
        self.kept[relpath] = data
        return io.BytesIO(data)


def _is_tag_file(path: str) -> bool:
    return "/" not in path or path.startswith(EVIDENCE_DIR + "/")
