"""Evidence records: timestamps and validation data that keep a seal provable for decades (R3, R7).

A signature is valid if its certificate was valid *at the moment of signing* and reliable
information about that moment exists (63-ФЗ art. 11): a trusted RFC 3161 timestamp. Timestamps
themselves expire with their TSA's certificate, so archival practice chains them: before the
newest expires, a new archive timestamp is taken over everything before it (the idea of RFC 4998
evidence records and CAdES-A, in files an auditor checks with stock openssl).

A sealed bag keeps its records in the tag folder `evidence/`. Record N is four files:

    evidence/NNNN-certs.pem          every certificate needed later: the signer's, the TSAs'
    evidence/NNNN-crls.pem           the CRLs their distribution points gave at that time (if any)
    evidence/NNNN-covers-sha512.txt  SHA-512 of every tag file, seal.p7s, every earlier
                                     evidence file and this record's certs/crls (sha512sum -c)
    evidence/NNNN.tsr                RFC 3161 token (DER) over the covers file

Record 1 is made when the bag is sealed; `journal-archive evidence renew` adds the next one.
Files are only ever added, never rewritten, so this works on read-only folders and Object Lock
buckets, and the payload and its manifests are never touched. The covers list tag files, not the
payload: tagmanifest-sha512.txt → manifest-sha512.txt → every payload file carry SHA-512 on.
Should SHA-512 ever weaken, a renewal must hash the payload itself anew (not done yet).

Checking (`check_records`): every covers file matches, each record lists all earlier evidence (the
chain is unbroken), token N verifies at the time of token N+1 (the last at the check date), and
no certificate was revoked, per the stored CRLs, before the time it had to be good.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from documents import timestamp
from documents._exec import openssl
from documents._exec.tsa_client import request_token
from documents.bag import FILE_MODE
from storage.bagformat import (
    EVIDENCE_DIR,
    PAYLOAD_DIR,
    SEAL_FILE,
    BagFormatError,
    format_manifest,
    parse_manifest,
)
from storage.filesystem import link_new_file

COVERS_ALGORITHM = "sha512"
CRL_TIMEOUT_SECONDS = 15
MAX_CRL = 16 << 20
_RECORD_FILE = re.compile(rf"^{EVIDENCE_DIR}/(\d{{4}})(?:-certs\.pem|-crls\.pem|-covers-sha512\.txt|\.tsr)$")

REVOCATION_REASONS = {
    "unspecified": "причина не указана",
    "key_compromise": "компрометация ключа",
    "ca_compromise": "компрометация удостоверяющего центра",
    "affiliation_changed": "изменились сведения о владельце",
    "superseded": "сертификат заменён",
    "cessation_of_operation": "прекращение деятельности",
    "certificate_hold": "действие приостановлено",
    "privilege_withdrawn": "полномочия отозваны",
    "aa_compromise": "компрометация центра атрибутов",
}


@dataclass(frozen=True, slots=True)
class RecordNames:
    number: int

    @property
    def certs(self) -> str:
        return f"{EVIDENCE_DIR}/{self.number:04d}-certs.pem"

    @property
    def crls(self) -> str:
        return f"{EVIDENCE_DIR}/{self.number:04d}-crls.pem"

    @property
    def covers(self) -> str:
        return f"{EVIDENCE_DIR}/{self.number:04d}-covers-{COVERS_ALGORITHM}.txt"

    @property
    def token(self) -> str:
        return f"{EVIDENCE_DIR}/{self.number:04d}.tsr"


def record_numbers(paths: Iterable[str]) -> list[int]:
    """The numbers of the evidence records among a bag's files (by their tokens), ascending."""
    return sorted({int(m.group(1)) for p in paths if (m := _RECORD_FILE.match(p)) and p.endswith(".tsr")})


def covered(paths: Iterable[str]) -> list[str]:
    """What a new record covers: every file but the payload (the manifests carry that on)."""
    return sorted(p for p in paths if not p.startswith(PAYLOAD_DIR + "/"))


# --- Making a record ------------------------------------------------------------------------


def collect_certificates(read: Callable[[str], bytes], paths: Iterable[str]) -> list[x509.Certificate]:
    """Every certificate already in the bag's seal, its CAdES-T token and its evidence, once each."""
    found: list[x509.Certificate] = []
    paths = list(paths)
    if SEAL_FILE in paths:
        seal = read(SEAL_FILE)
        found += pkcs7.load_der_pkcs7_certificates(seal)
        token = timestamp.signer_parts(seal).timestamp_token
        if token:
            found += timestamp.token_certificates(token)
    for path in sorted(paths):
        if not path.startswith(EVIDENCE_DIR + "/"):
            continue
        if path.endswith(".tsr"):
            found += timestamp.token_certificates(read(path))
        elif path.endswith("-certs.pem"):
            found += x509.load_pem_x509_certificates(read(path))
    return unique(found)


def unique(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    seen: dict[bytes, x509.Certificate] = {}
    for certificate in certificates:
        seen.setdefault(
            certificate.fingerprint(certificate.signature_hash_algorithm or _sha256()), certificate
        )
    return list(seen.values())


def _sha256():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def fetch_crls(certificates: Iterable[x509.Certificate]) -> list[x509.CertificateRevocationList]:
    """The CRLs the certificates' HTTP distribution points give now; an unreachable one is skipped
    (the record then simply holds no revocation data for it). A CRL whose issuer is among
    `certificates` must carry that issuer's valid signature."""
    certificates = list(certificates)
    by_subject = {c.subject.public_bytes(): c for c in certificates}
    crls: list[x509.CertificateRevocationList] = []
    seen: set[bytes] = set()
    for certificate in certificates:
        for url in _crl_urls(certificate):
            try:
                with urllib.request.urlopen(url, timeout=CRL_TIMEOUT_SECONDS) as answer:
                    data = answer.read(MAX_CRL)
            except (urllib.error.URLError, OSError, ValueError):
                continue
            try:
                crl = (
                    x509.load_der_x509_crl(data)
                    if not data.startswith(b"-----")
                    else x509.load_pem_x509_crl(data)
                )
            except ValueError:
                continue
            issuer = by_subject.get(crl.issuer.public_bytes())
            if issuer is not None and not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
            der = crl.public_bytes(Encoding.DER)
            if der not in seen:
                seen.add(der)
                crls.append(crl)
    return crls


def _crl_urls(certificate: x509.Certificate) -> list[str]:
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier) and name.value.startswith(("http://", "https://"))
    ]


def crls_pem(crls: Iterable[x509.CertificateRevocationList]) -> bytes:
    return b"".join(crl.public_bytes(Encoding.PEM) for crl in crls)


def new_record(
    read: Callable[[str], bytes],
    paths: Iterable[str],
    tsa_url: str,
    *,
    extra: Mapping[str, bytes] | None = None,
    chain: Iterable[x509.Certificate] = (),
) -> dict[str, bytes]:
    """The files of the bag's next evidence record, {bag-relative path: bytes}, nothing written.

    `read`/`paths` give the bag as it stands; `extra` are files about to be written with it (the
    new seal.p7s when sealing); `chain` adds certificates the bag does not yet hold (issuers of the
    signer and of the TSA, trust anchors). Raises TimestampError when the TSA does not answer.
    """
    extra = dict(extra or {})
    paths = sorted(set(paths) | set(extra))

    def source(path: str) -> bytes:
        return extra[path] if path in extra else read(path)

    number = max(record_numbers(paths), default=0) + 1
    names = RecordNames(number)
    certificates = unique([*collect_certificates(source, paths), *chain])
    crls = fetch_crls(certificates)
    files = {names.certs: timestamp.pem(certificates)}
    if crls:
        files[names.crls] = crls_pem(crls)
    digests = {path: hashlib.new(COVERS_ALGORITHM, source(path)).hexdigest() for path in covered(paths)}
    digests |= {path: hashlib.new(COVERS_ALGORITHM, data).hexdigest() for path, data in files.items()}
    covers = format_manifest(digests)
    files[names.covers] = covers
    files[names.token] = request_token(
        tsa_url, hashlib.new(COVERS_ALGORITHM, covers).digest(), COVERS_ALGORITHM
    )
    return files


def write_new_files(folder: Path, files: Mapping[str, bytes], when: dt.datetime | None = None) -> None:
    """Add files to a bag folder, in order, never replacing one: a hidden partial name, fsync, mode
    0600, then rename; on any failure what this call wrote is removed. The folder keeps its mtime."""
    folder = Path(folder)
    folder_times = folder.stat()
    written: list[Path] = []
    made_dir = not (folder / EVIDENCE_DIR).exists()
    try:
        for relpath, data in files.items():
            final = folder / relpath
            final.parent.mkdir(exist_ok=True)
            if final.exists() or final.is_symlink():
                raise FileExistsError(
                    f"{final}: файл уже существует; файлы доказательств не перезаписываются"
                )
            link_new_file(final, data, FILE_MODE, when.timestamp() if when is not None else None)
            written.append(final)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        if made_dir and (folder / EVIDENCE_DIR).is_dir() and not any((folder / EVIDENCE_DIR).iterdir()):
            (folder / EVIDENCE_DIR).rmdir()
        raise
    finally:
        os.utime(folder, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns))


def tag_paths(folder: Path) -> list[str]:
    """The bag-relative paths of a folder's files outside data/ (what records cover and checks read)."""
    folder = Path(folder)
    found = [p.name for p in folder.iterdir() if p.is_file()]
    if (folder / EVIDENCE_DIR).is_dir():
        found += [f"{EVIDENCE_DIR}/{p.name}" for p in (folder / EVIDENCE_DIR).iterdir() if p.is_file()]
    return sorted(found)


def renew_folder(folder: Path, tsa_url: str, chain: Iterable[x509.Certificate] = ()) -> list[str]:
    """Add the next evidence record to a bag folder (an archive timestamp over all earlier
    evidence, fresh CRLs); return the files added. Nothing existing is changed."""
    folder = Path(folder)
    if not (folder / SEAL_FILE).is_file():
        raise FileNotFoundError(f"{folder / SEAL_FILE}: пакет не опечатан — продлевать нечего")
    files = new_record(lambda path: (folder / path).read_bytes(), tag_paths(folder), tsa_url, chain=chain)
    write_new_files(folder, files)
    return list(files)


# --- Revocation -----------------------------------------------------------------------------


def load_crls(read: Callable[[str], bytes], paths: Iterable[str]) -> list[x509.CertificateRevocationList]:
    """Every CRL stored in the bag's evidence records."""
    crls = []
    for path in sorted(paths):
        if path.startswith(EVIDENCE_DIR + "/") and path.endswith("-crls.pem"):
            for block in re.findall(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", read(path), re.S):
                try:
                    crls.append(x509.load_pem_x509_crl(block))
                except ValueError:
                    continue
    return crls


@dataclass(frozen=True, slots=True)
class Revocation:
    certificate: x509.Certificate
    revoked_at: dt.datetime
    reason: str

    def describe(self) -> str:
        name = _subject(self.certificate)
        return (
            f"сертификат «{name}» (серийный номер {self.certificate.serial_number:X}) отозван "
            f"{timestamp.format_utc(self.revoked_at)}, причина: {self.reason}"
        )


def revocation(
    certificate: x509.Certificate,
    crls: Iterable[x509.CertificateRevocationList],
    issuers: Iterable[x509.Certificate] = (),
) -> Revocation | None:
    """The certificate's revocation per the CRLs of its issuer (whose signature must be valid when
    the issuer's certificate is known), the earliest if several say so; None if none does."""
    by_subject = {c.subject.public_bytes(): c for c in issuers}
    earliest: Revocation | None = None
    for crl in crls:
        if crl.issuer != certificate.issuer:
            continue
        issuer = by_subject.get(crl.issuer.public_bytes())
        if issuer is not None and not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            continue
        entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
        if entry is None:
            continue
        when = entry.revocation_date_utc
        try:
            invalid = entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
            when = min(when, invalid)  # the key was compromised from then on (RFC 5280 §5.3.2)
        except x509.ExtensionNotFound:
            pass
        try:
            flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            reason = REVOCATION_REASONS.get(flag.name, flag.value)
        except x509.ExtensionNotFound:
            reason = REVOCATION_REASONS["unspecified"]
        if earliest is None or when < earliest.revoked_at:
            earliest = Revocation(certificate, when, reason)
    return earliest


def _subject(certificate: x509.Certificate) -> str:
    for oid in (x509.oid.NameOID.COMMON_NAME, x509.oid.NameOID.ORGANIZATION_NAME):
        values = certificate.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return certificate.subject.rfc4514_string()


# --- Checking the records -------------------------------------------------------------------


@dataclass
class RecordsCheck:
    """The evidence records of a bag as of a check date."""

    problems: list[str] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)  # each record's token time, in order
    expires: dt.datetime | None = None  # when the newest token's TSA certificate ends: renew before
    crls: list[x509.CertificateRevocationList] = field(default_factory=list)
    certificates: list[x509.Certificate] = field(default_factory=list)


def check_records(folder: Path, trusted: Path | None, at: dt.datetime) -> RecordsCheck:
    """Check the records in `folder`/evidence as of `at` (see the module's docstring).

    `trusted`: the TSA trust anchors (PEM); None trusts the self-signed certificates the records
    hold, which proves the records consistent but not who issued them.
    """
    paths = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    result = RecordsCheck()

    def read(path: str) -> bytes:
        return (folder / path).read_bytes()

    numbers = record_numbers(paths)
    known = {name for n in numbers for name in _names(RecordNames(n))}
    for path in sorted(p for p in paths if p.startswith(EVIDENCE_DIR + "/") and p not in known):
        result.problems.append(f"{path}: посторонний файл в папке доказательств {EVIDENCE_DIR}/")
    if not numbers:
        return result
    if numbers != list(range(1, len(numbers) + 1)):
        result.problems.append(f"{EVIDENCE_DIR}/: записи доказательств идут не подряд: {numbers}")
    try:
        result.certificates = collect_certificates(read, paths)
        result.crls = load_crls(read, paths)
    except (ValueError, timestamp.TimestampFormatError) as error:
        result.problems.append(f"{EVIDENCE_DIR}/: сертификаты не читаются ({error})")
        return result
    with tempfile.TemporaryDirectory(prefix="evidence-") as tmp:
        pool = Path(tmp, "pool.pem")
        pool.write_bytes(timestamp.pem(result.certificates))
        anchors = trusted
        if anchors is None:
            anchors = Path(tmp, "anchors.pem")
            anchors.write_bytes(timestamp.pem([c for c in result.certificates if c.issuer == c.subject]))
        tokens: list[bytes] = []
        earlier: list[str] = []
        for number in numbers:
            names = RecordNames(number)
            tokens.append(_check_record(folder, names, paths, earlier, result))
            earlier += [name for name in _names(names) if name in paths]
        if result.problems:
            return result
        for index, number in enumerate(numbers):
            names = RecordNames(number)
            when = result.times[index + 1] if index + 1 < len(numbers) else at
            _check_token(
                folder / names.token, names.token, folder / names.covers, anchors, pool, when, result
            )
            issuer = timestamp.tsa_certificate(tokens[index])
            if issuer is not None:
                revoked = revocation(issuer, result.crls, result.certificates)
                if revoked is not None and revoked.revoked_at <= when:
                    result.problems.append(
                        f"{names.token}: метка времени недействительна — {revoked.describe()}"
                    )
        last = timestamp.tsa_certificate(tokens[-1])
        if last is not None:
            result.expires = last.not_valid_after_utc
    return result


def _names(names: RecordNames) -> list[str]:
    return [names.certs, names.crls, names.covers, names.token]


def _check_record(
    folder: Path, names: RecordNames, paths: list[str], earlier: list[str], result: RecordsCheck
) -> bytes:
    """The covers file matches what it lists and lists the whole chain before it; the token's time."""
    for required in (names.covers, names.token):
        if required not in paths:
            result.problems.append(f"{required}: файл записи доказательств отсутствует")
            return b""
    token = (folder / names.token).read_bytes()
    try:
        result.times.append(timestamp.token_time(token))
    except timestamp.TimestampFormatError as error:
        result.problems.append(f"{names.token}: {error}")
        return token
    try:
        listed = parse_manifest((folder / names.covers).read_bytes(), names.covers)
    except BagFormatError as error:
        result.problems.append(str(error))
        return token
    for path, digest in sorted(listed.items()):
        target = folder / path
        if not target.is_file():
            result.problems.append(f"{path}: файл отсутствует, а {names.covers} его указывает")
        elif hashlib.new(COVERS_ALGORITHM, target.read_bytes()).hexdigest() != digest.lower():
            result.problems.append(f"{path}: файл изменён после метки времени {names.token}")
    for path in [SEAL_FILE, *earlier]:
        if path not in listed:
            result.problems.append(f"{names.covers}: не указывает {path} — цепочка доказательств прервана")
    return token


def _check_token(
    token: Path, name: str, covers: Path, anchors: Path, pool: Path, when: dt.datetime, result: RecordsCheck
) -> None:
    outcome = openssl.ts_verify(token, anchors, data=covers, untrusted=pool, attime=int(when.timestamp()))
    if outcome.ok:
        return
    result.problems.append(describe_token_failure(name, token.read_bytes(), when, outcome))


def describe_token_failure(name: str, token: bytes, when: dt.datetime, outcome: openssl.Outcome) -> str:
    """A Russian finding for a token that does not verify as of `when`, naming an expiry plainly."""
    try:
        stamped = timestamp.format_utc(timestamp.token_time(token))
    except timestamp.TimestampFormatError:
        stamped = "неизвестного времени"
    tsa = timestamp.tsa_certificate(token) if token else None
    if tsa is not None and when > tsa.not_valid_after_utc:
        return (
            f"{name}: метка времени от {stamped} не подтверждается на {timestamp.format_utc(when)} — "
            f"сертификат службы меток времени «{_subject(tsa)}» действовал до "
            f"{timestamp.format_utc(tsa.not_valid_after_utc)}; доказательства не были обновлены "
            "до этого срока (journal-archive evidence renew)"
        )
    moment = timestamp.format_utc(when)
    return f"{name}: метка времени от {stamped} не прошла проверку на {moment} ({outcome.reason})"
