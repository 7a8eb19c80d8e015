"""The seal of a bundle: a detached CMS (PKCS #7) signature over its tagmanifest (R2, R3, R7, R9).

A sealed bag carries `seal.p7s`, a DER-encoded CMS SignedData (RFC 5652) made with the
school's RSA or ECDSA (P-256, P-384) key over `tagmanifest-sha256.txt`. The tagmanifest covers
bag-info.txt and the payload manifests, the manifests cover every file in data/, so one signature
vouches for the whole bundle; an auditor checks it with stock `openssl cms -verify` (docs/seal.md), then the
checksums with `sha256sum -c` — no software of ours needed (R5).

Why the CMS is put together here and not by `cryptography`'s PKCS7SignatureBuilder: the
builder always stamps the current time into the signed attributes, so sealing the same bag
twice would give different bytes, and it cannot add the CAdES-T signature-time-stamp token
(an unsigned attribute over the signature value, RFC 5126 §6.1.1). The structure is small and
fixed (one signer, three signed attributes: content type, signing time, message digest; one
unsigned attribute: the timestamp token), so it is encoded below in plain DER. The signing time
is the real time of sealing (an injectable clock), never a date from the data: a seal proves when
it was made. With `[seal] tsa_url` a trusted timestamp proves that time independently, and
evidence record 1 (documents/evidence.py) stores the certificates and CRLs a check decades later
needs; without a TSA the seal is valid only as long as its certificate. `openssl cms -verify` and
`openssl ts -verify` are the judges of the encoding, in the tests and for the auditor.

`seal.p7s` cannot be listed in the tagmanifest it signs: it is the one tag file left out
(storage.bagformat.UNLISTED_TAG_FILES), and a sealed bag is never modified again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from documents import evidence, seal_signature, timestamp
from documents._exec import openssl
from documents._exec.tsa_client import TimestampError, request_token
from documents.bag import verify_bag_against_manifests
from storage.bagformat import EVIDENCE_DIR, SEAL_FILE, tagmanifest_name
from storage.modes import PRIVATE_FILE_MODE, private_dir, write_private

SEALED_FILE = tagmanifest_name("sha256")
"""What the seal signs: the SHA-256 tagmanifest (bag-info, manifests, README — and through the
manifests every payload file)."""

KEY_FILE = "seal-key.pem"
CERT_FILE = "seal-cert.pem"
KEY_MODE = PRIVATE_FILE_MODE
RSA_BITS = 3072
CERT_YEARS = 30
"""A demo certificate is valid from `valid_from` for 30 years: the longest retention is 25 years
counted from 1 January after the year closes (storage/retention.py, summary-25y), so a seal made
at the end of a year can still be checked, with the certificate in its validity period, on the
last day its bundle is kept."""

COMMON_NAME_MAX = 64  # RFC 5280 ub-common-name; `cryptography` counts it in UTF-8 bytes


class SealError(Exception):
    """A bag that cannot be sealed as asked, or a key/certificate that cannot be used; names the file."""


# --- The demo signing pair --------------------------------------------------------------


def create_demo_signing_pair(
    directory: Path, school_name: str, valid_from: dt.date, *, common_name: str = ""
) -> tuple[Path, Path]:
    """A new RSA-3072 key and a self-signed X.509 certificate for `school_name`, for demos and tests.

    The certificate names the school as O and CN, both UTF8String. The CN is `common_name`
    (pass the school's short name, «МБОУ СОШ № 17») or else the name cut at a word to the 64
    bytes that `cryptography` allows (RFC 5280's ub-common-name; 32 Cyrillic letters); the O
    keeps the full name. The certificate may sign and not repudiate (keyUsage digitalSignature,
    nonRepudiation; an end-entity certificate, CA:FALSE — OpenSSL trusts it as given in -CAfile)
    and is valid for CERT_YEARS. The key file is written with mode 0600 and is never
    overwritten. A real school uses a key and certificate from its certification authority
    instead (paths in the configuration's [seal] section).
    """
    directory = Path(directory)
    key_path, cert_path = directory / KEY_FILE, directory / CERT_FILE
    for path in (key_path, cert_path):
        if path.exists():
            raise SealError(f"{path}: файл уже существует, ключи не перезаписываются")
    name = " ".join(school_name.split())
    if not name:
        raise SealError("Не указано название школы для сертификата печати")
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, _common_name(" ".join(common_name.split()) or name)),
        ]
    )
    start = dt.datetime.combine(valid_from, dt.time(), dt.UTC)
    end = dt.datetime.combine(dt.date(valid_from.year + CERT_YEARS, 12, 31), dt.time(23, 59, 59), dt.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    private_dir(directory)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key_bytes)
    os.chmod(key_path, KEY_MODE)  # whatever the umask
    write_private(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _common_name(name: str) -> str:
    """`name`, or its longest run of whole words that fits COMMON_NAME_MAX UTF-8 bytes with «…»."""
    if len(name.encode()) <= COMMON_NAME_MAX:
        return name
    room = COMMON_NAME_MAX - len("…".encode())
    cut = name.encode()[:room].decode(errors="ignore")
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(' ,«"') + "…"


# --- DER, just what a SignedData needs (X.690) ---------------------------------------------


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([tag]) + length + content


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(items: Iterable[bytes]) -> bytes:
    """A DER SET OF: the encodings in ascending order (X.690 §11.6)."""
    return _tlv(0x31, b"".join(sorted(items)))


def _integer(value: int) -> bytes:
    size = value.bit_length() // 8 + 1  # room for the sign bit
    return _tlv(0x02, value.to_bytes(size, "big", signed=True))


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    body = bytearray([40 * first + second])
    for number in rest:
        chunk = [number & 0x7F]
        number >>= 7
        while number:
            chunk.append(0x80 | (number & 0x7F))
            number >>= 7
        body.extend(reversed(chunk))
    return _tlv(0x06, bytes(body))


def _octets(value: bytes) -> bytes:
    return _tlv(0x04, value)


def _time(when: dt.datetime) -> bytes:
    """UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5652 §11.3)."""
    when = when.astimezone(dt.UTC)
    if 1950 <= when.year < 2050:
        return _tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return _tlv(0x18, when.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


NULL = b"\x05\x00"
OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_SHA384 = "2.16.840.1.101.3.4.2.2"
OID_RSA = "1.2.840.113549.1.1.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_ECDSA_SHA384 = "1.2.840.10045.4.3.3"
OID_SIGNATURE_TIME_STAMP = timestamp.OID_SIGNATURE_TIME_STAMP

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
"""The ECDSA curves a seal may use (NIST P-256 and P-384, RFC 5753/5480)."""


def _attribute(oid: str, value: bytes) -> bytes:
    return _sequence(_oid(oid), _set([value]))


def _algorithms(key: SigningKey) -> tuple[hashes.HashAlgorithm, str, bytes]:
    """The digest, its OID and the signatureAlgorithm for a key: SHA-256 (SHA-384 for P-384)."""
    if isinstance(key, rsa.RSAPrivateKey):
        return hashes.SHA256(), OID_SHA256, _sequence(_oid(OID_RSA), NULL)
    if key.curve.name == "secp384r1":
        return hashes.SHA384(), OID_SHA384, _sequence(_oid(OID_ECDSA_SHA384))
    return hashes.SHA256(), OID_SHA256, _sequence(_oid(OID_ECDSA_SHA256))


def signed_data(
    content: bytes,
    key: SigningKey,
    certificate: x509.Certificate,
    when: dt.datetime,
    stamp: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """A detached CMS SignedData (DER) over `content`: one signer named by issuer and serial number,
    the certificate embedded, signed attributes content type, signing time `when` and message
    digest; RSA PKCS #1 v1.5 or ECDSA. With `stamp` (signature value → DER TimeStampToken) the
    token is added as the CAdES-T signature-time-stamp unsigned attribute. Same RSA input without
    a stamp, same bytes."""
    if when.tzinfo is None:
        raise SealError("Время подписи должно быть указано с часовым поясом")
    digest, digest_oid, signature_algorithm = _algorithms(key)
    algorithm = _sequence(_oid(digest_oid))
    hasher = hashes.Hash(digest)
    hasher.update(content)
    attributes = [
        _attribute(OID_CONTENT_TYPE, _oid(OID_DATA)),
        _attribute(OID_SIGNING_TIME, _time(when)),
        _attribute(OID_MESSAGE_DIGEST, _octets(hasher.finalize())),
    ]
    signed_attributes = _set(attributes)  # what is signed: the SET OF with its universal tag
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attributes, padding.PKCS1v15(), digest)
    else:
        signature = key.sign(signed_attributes, ec.ECDSA(digest))
    unsigned = b""
    if stamp is not None:
        unsigned = _tlv(0xA1, _attribute(OID_SIGNATURE_TIME_STAMP, stamp(signature)))  # [1] IMPLICIT SET OF
    issuer = certificate.issuer.public_bytes()
    signer_info = _sequence(
        _integer(1),
        _sequence(issuer, _integer(certificate.serial_number)),
        algorithm,
        b"\xa0" + signed_attributes[1:],  # [0] IMPLICIT SET OF Attribute
        signature_algorithm,
        _octets(signature),
        unsigned,
    )
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    body = _sequence(
        _integer(1),
        _set([algorithm]),
        _sequence(_oid(OID_DATA)),  # encapContentInfo without eContent: detached
        _tlv(0xA0, certificate_der),  # certificates [0] IMPLICIT
        _set([signer_info]),
    )
    return _sequence(_oid(OID_SIGNED_DATA), _tlv(0xA0, body))


# --- Sealing and checking a bag -------------------------------------------------------------


def load_signing_pair(key_path: Path, cert_path: Path) -> tuple[SigningKey, x509.Certificate]:
    """The school's key (RSA, or ECDSA P-256/P-384) and its certificate (PEM, the first in the file);
    SealError names the file that is wrong."""
    key_path, cert_path = Path(key_path), Path(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as error:
        raise SealError(f"{key_path}: не удалось прочитать ключ печати ({error.strerror})") from error
    except (ValueError, TypeError) as error:
        raise SealError(f"{key_path}: не ключ PEM без пароля ({error})") from error
    except Exception as error:  # an algorithm cryptography cannot load (e.g. GOST R 34.10-2012)
        raise SealError(f"{key_path}: ключ не поддерживается ({error}); см. docs/seal.md") from error
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name not in CURVES:
        raise SealError(f"{key_path}: кривая {key.curve.name} не поддерживается, нужна P-256 или P-384")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise SealError(f"{key_path}: нужен ключ RSA или ECDSA (P-256, P-384); см. docs/seal.md")
    chain = load_certificates(cert_path)
    certificate = chain[0]
    if certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise SealError(f"{cert_path}: сертификат не соответствует ключу {key_path.name}")
    return key, certificate


def load_certificates(cert_path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file (the school's first, then its CA chain if given)."""
    cert_path = Path(cert_path)
    try:
        certificates = x509.load_pem_x509_certificates(cert_path.read_bytes())
    except OSError as error:
        raise SealError(f"{cert_path}: не удалось прочитать сертификат ({error.strerror})") from error
    except ValueError as error:
        raise SealError(f"{cert_path}: не сертификат X.509 в формате PEM ({error})") from error
    return certificates


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def seal_bag(
    bag_dir: Path,
    key_path: Path,
    cert_path: Path,
    signing_time: dt.datetime | None = None,
    *,
    tsa_url: str | None = None,
    tsa_certificate: Path | None = None,
    clock: Callable[[], dt.datetime] = now_utc,
) -> Path:
    """Write `seal.p7s` (and with a TSA, evidence record 1) into a complete, intact bag; return the seal.

    The signing time is the real time of sealing, `clock()` (a test injects one), unless given
    explicitly. With `tsa_url` the seal carries the TSA's token over its signature (CAdES-T),
    and `evidence/0001-*` the certificates (the school's, the TSA's, those in `tsa_certificate`),
    the CRLs their distribution points give now, and a second token over all of it; a TSA that
    does not answer stops sealing (SealError), as does a certificate not valid now or revoked per
    those CRLs. A bag that already has a seal is refused (a sealed bag is never modified), as is a
    bag whose files do not match its manifests. Files are written under hidden names and renamed
    into place, the seal last; the bag folder keeps its mtime.
    """
    bag_dir = Path(bag_dir)
    seal = bag_dir / SEAL_FILE
    if seal.exists() or seal.is_symlink() or (bag_dir / EVIDENCE_DIR).exists():
        raise SealError(f"{seal}: пакет уже опечатан; опечатанный пакет не изменяется")
    problems = verify_bag_against_manifests(bag_dir)
    if problems:
        raise SealError(f"Пакет {bag_dir.name} не опечатан, он повреждён: {problems[0]}")
    key, certificate = load_signing_pair(key_path, cert_path)
    when = signing_time if signing_time is not None else clock()
    if not certificate.not_valid_before_utc <= when.astimezone(dt.UTC) <= certificate.not_valid_after_utc:
        raise SealError(f"{cert_path}: сертификат не действует на время подписи {when.isoformat()}")
    content = (bag_dir / SEALED_FILE).read_bytes()
    files: dict[str, bytes] = {}
    try:
        if tsa_url:
            data = signed_data(content, key, certificate, when, _stamper(tsa_url))
            chain = load_certificates(cert_path)[1:]
            if tsa_certificate is not None and Path(tsa_certificate).is_file():
                chain += load_certificates(tsa_certificate)
            paths = [p.relative_to(bag_dir).as_posix() for p in bag_dir.iterdir() if p.is_file()]
            files = evidence.new_record(
                lambda path: (bag_dir / path).read_bytes(),
                paths,
                tsa_url,
                extra={SEAL_FILE: data},
                chain=chain,
            )
            crls = evidence.load_crls(files.__getitem__, files)
            revoked = evidence.revocation(certificate, crls, evidence.unique(chain))
            if revoked is not None:
                raise SealError(f"{cert_path}: печать не поставлена — {revoked.describe()}")
        else:
            data = signed_data(content, key, certificate, when)
    except TimestampError as error:
        raise SealError(f"Пакет {bag_dir.name} не опечатан: {error}") from error
    evidence.write_new_files(bag_dir, {**files, SEAL_FILE: data}, when)
    return seal


def _stamper(tsa_url: str) -> Callable[[bytes], bytes]:
    def stamp(signature: bytes) -> bytes:
        return request_token(tsa_url, hashlib.sha256(signature).digest(), "sha256")

    return stamp


def seal_certificates(seal: Path) -> list[x509.Certificate]:
    """The certificates embedded in a seal (the signer's, for our seals)."""
    try:
        return _embedded_certificates(Path(seal).read_bytes())
    except SealError as error:
        raise SealError(f"{Path(seal).name}: {error}") from error


def _embedded_certificates(seal: bytes) -> list[x509.Certificate]:
    try:
        return list(pkcs7.load_der_pkcs7_certificates(seal))
    except ValueError as error:
        raise SealError(f"не подпись CMS в формате DER ({error})") from error


def signer_name(certificate: x509.Certificate) -> str:
    """Who sealed: the certificate's O (else CN), for reports."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = certificate.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return certificate.subject.rfc4514_string()


@dataclass
class SealCheck:
    """The verdict on a seal as of a date: problems make the bag INVALID, warnings do not."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signed_at: dt.datetime | None = None  # the signingTime the signer claims
    proven_at: dt.datetime | None = None  # the time a verified timestamp proves
    certificate_expires: dt.datetime | None = None
    evidence_expires: dt.datetime | None = None  # renew the evidence before this (None: no timestamp)
    signers: tuple[str, ...] = ()


def verify_seal(bag_dir: Path, cert_path: Path | None = None) -> list[str]:
    """Problems (Russian, each naming its file) of a sealed bag as of now; empty means intact.

    The seal (check_seal) and then every file against the manifests, so a changed payload file
    is named even though the seal itself covers only the tagmanifest.
    """
    bag_dir = Path(bag_dir)
    if not bag_dir.is_dir():
        return [f"{bag_dir}: папка пакета не найдена"]
    return check_seal(bag_dir, cert_path).problems + verify_bag_against_manifests(bag_dir)


def check_seal(
    bag_dir: Path,
    cert_path: Path | None = None,
    *,
    tsa_certificate: Path | None = None,
    at: dt.datetime | None = None,
) -> SealCheck:
    """Check a bag's seal and evidence as of `at` (default now), at the time its timestamp proves.

    1. The evidence records (documents/evidence.py): each token good until the next, the newest
       at `at`; TSAs trusted per `tsa_certificate` (None: the self-signed certificates stored).
    2. The CAdES-T token in the seal, over its signature value; its time is the signing moment
       proven (else record 1's time, which covers seal.p7s).
    3. `openssl cms -verify -attime <that time>` (without any timestamp: at `at`, and a warning
       that the seal is valid only while its certificate is), trusting `cert_path` (None: the
       certificate embedded in the seal, which proves the bag unchanged, not who sealed it);
       a seal that documents.seal_signature verifies in-process spares openssl's run.
    4. The signer's certificate must not be revoked, per the stored CRLs, before that time.
    """
    bag_dir = Path(bag_dir)
    at = at or now_utc()
    seal, content = bag_dir / SEAL_FILE, bag_dir / SEALED_FILE
    missing = _missing_seal_files(seal.is_file(), content.is_file())
    if missing is not None:
        return missing
    records = functools.partial(evidence.check_records, bag_dir, tsa_certificate, at)
    return _check_seal(seal.read_bytes(), content.read_bytes(), records, cert_path, tsa_certificate, at)


def check_stored_seal(
    paths: Iterable[str],
    read: Callable[[str], bytes],
    cert_path: Path | None = None,
    *,
    tsa_certificate: Path | None = None,
    at: dt.datetime | None = None,
) -> SealCheck:
    """check_seal of a bag read in place: `paths` are its files, `read` gives one's bytes.

    Without evidence records only seal.p7s and the tagmanifest are read, and checked in memory;
    a bag with evidence/ has its top-level tag files and records copied into a temporary folder
    (kilobytes, never data/), because the records are checked with `openssl ts` on files.
    """
    paths = sorted(paths)
    if any(path.startswith(EVIDENCE_DIR + "/") for path in paths):
        with tempfile.TemporaryDirectory(prefix="seal-") as temp:
            for path in paths:
                if "/" not in path or path.startswith(EVIDENCE_DIR + "/"):
                    Path(temp, *path.split("/")).parent.mkdir(parents=True, exist_ok=True)
                    Path(temp, *path.split("/")).write_bytes(read(path))
            return check_seal(Path(temp), cert_path, tsa_certificate=tsa_certificate, at=at)
    missing = _missing_seal_files(SEAL_FILE in paths, SEALED_FILE in paths)
    if missing is not None:
        return missing
    at = at or now_utc()
    return _check_seal(
        read(SEAL_FILE), read(SEALED_FILE), evidence.RecordsCheck, cert_path, tsa_certificate, at
    )


def _missing_seal_files(has_seal: bool, has_content: bool) -> SealCheck | None:
    if not has_seal:
        return SealCheck(problems=[f"{SEAL_FILE}: файл печати отсутствует — пакет не опечатан"])
    if not has_content:
        return SealCheck(problems=[f"{SEALED_FILE}: файл отсутствует, печать проверить нельзя"])
    return None


def _check_seal(
    seal: bytes,
    content: bytes,
    check_records: Callable[[], evidence.RecordsCheck],
    cert_path: Path | None,
    tsa_certificate: Path | None,
    at: dt.datetime,
) -> SealCheck:
    """Steps 1–4 of check_seal, given the seal's and the tagmanifest's bytes and how to check the
    evidence records (none: an empty RecordsCheck)."""
    result = SealCheck()
    try:
        parts = timestamp.signer_parts(seal)
        embedded = _embedded_certificates(seal)
    except (timestamp.TimestampFormatError, SealError) as error:
        result.problems.append(f"{SEAL_FILE}: {error}")
        return result
    result.signed_at = parts.signing_time
    result.signers = tuple(signer_name(c) for c in embedded)
    if embedded:
        result.certificate_expires = embedded[0].not_valid_after_utc
    records = check_records()
    result.problems += records.problems
    result.evidence_expires = records.expires
    if parts.timestamp_token:
        when = records.times[0] if records.times else at
        proven = _check_signature_token(parts, tsa_certificate, records.certificates, when, result)
        result.proven_at = proven
    elif records.times:
        result.proven_at = records.times[0]
    if parts.timestamp_token and result.evidence_expires is None:
        issuer = timestamp.tsa_certificate(parts.timestamp_token)
        result.evidence_expires = issuer.not_valid_after_utc if issuer else None
    checked_at = result.proven_at or at
    result.problems += _check_signature(
        seal, content, embedded, cert_path, checked_at, timestamped=result.proven_at is not None
    )
    if embedded:
        revoked = evidence.revocation(embedded[0], records.crls, records.certificates)
        if revoked is not None and revoked.revoked_at <= checked_at:
            result.problems.append(
                f"{SEAL_FILE}: печать недействительна — {revoked.describe()}, "
                f"до подписи ({timestamp.format_utc(checked_at)})"
            )
    if result.proven_at is None and not result.problems:
        until = (
            f" (до {timestamp.format_utc(result.certificate_expires)})" if result.certificate_expires else ""
        )
        result.warnings.append(
            f"{SEAL_FILE}: печать без метки времени — время подписи не подтверждено независимо; "
            f"печать подтверждается, только пока действует сертификат{until}"
        )
    return result


def _check_signature_token(
    parts: timestamp.SignerParts,
    trusted: Path | None,
    pool: list[x509.Certificate],
    when: dt.datetime,
    result: SealCheck,
) -> dt.datetime | None:
    """Verify the CAdES-T token over the signature value as of `when`; the time it proves, or None."""
    token = parts.timestamp_token or b""
    try:
        proven = timestamp.token_time(token)
        certificates = evidence.unique([*pool, *timestamp.token_certificates(token)])
    except timestamp.TimestampFormatError as error:
        result.problems.append(f"{SEAL_FILE}: метка времени подписи не читается ({error})")
        return None
    with tempfile.TemporaryDirectory(prefix="seal-tst-") as tmp:
        path = Path(tmp, "token.der")
        path.write_bytes(token)
        untrusted = Path(tmp, "pool.pem")
        untrusted.write_bytes(timestamp.pem(certificates))
        anchors = trusted
        if anchors is None or not Path(anchors).is_file():
            anchors = Path(tmp, "anchors.pem")
            anchors.write_bytes(timestamp.pem([c for c in certificates if c.issuer == c.subject]))
        digest = hashlib.sha256(parts.signature).hexdigest()
        outcome = openssl.ts_verify(
            path, anchors, digest=digest, untrusted=untrusted, attime=int(when.timestamp())
        )
    if not outcome.ok:
        result.problems.append(
            evidence.describe_token_failure(f"{SEAL_FILE} (метка времени подписи)", token, when, outcome)
        )
        return None
    return proven


def _check_signature(
    seal: bytes,
    content: bytes,
    embedded: list[x509.Certificate],
    cert_path: Path | None,
    when: dt.datetime,
    *,
    timestamped: bool,
) -> list[str]:
    """The seal's signature over the tagmanifest as of `when`: verified in-process when
    documents.seal_signature can (a seal of ours, a self-signed certificate), else by openssl."""
    if cert_path is None:
        if not embedded:
            return [f"{SEAL_FILE}: в подписи нет сертификата; укажите сертификат школы"]
        trusted_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in embedded)
    else:
        try:
            trusted_pem = Path(cert_path).read_bytes()
        except OSError:
            return [f"{cert_path}: файл сертификата не найден"]
    attime = int(when.timestamp())
    if seal_signature.verified_here(seal, content, trusted_pem, attime):
        return []
    with tempfile.TemporaryDirectory(prefix="seal-") as tmp:
        seal_path, content_path, trusted = Path(tmp, SEAL_FILE), Path(tmp, SEALED_FILE), Path(tmp, CERT_FILE)
        seal_path.write_bytes(seal)
        content_path.write_bytes(content)
        trusted.write_bytes(trusted_pem)
        try:
            outcome = openssl.cms_verify(seal_path, content_path, trusted, attime)
        except openssl.OpenSSLMissing as error:
            return [f"{SEAL_FILE}: печать не проверена — {error}"]
    if outcome.ok:
        return []
    diagnostics = outcome.stderr
    if "CMS_SignerInfo_verify_content" in diagnostics or "digest failure" in diagnostics:
        # The signed message digest (or, without signed attributes, the signature) is not that of
        # the file as it is now.
        return [f"{SEALED_FILE}: файл изменён после опечатывания — подпись {SEAL_FILE} ему не соответствует"]
    if "certificate has expired" in diagnostics or "certificate is not yet valid" in diagnostics:
        moment = timestamp.format_utc(when)
        if timestamped:
            return [
                f"{SEAL_FILE}: сертификат печати не действовал в момент подписи {moment}, "
                "доказанный меткой времени"
            ]
        return [
            f"{SEAL_FILE}: сертификат печати не действует на {moment}, а метки времени у печати нет — "
            "подлинность печати больше не подтверждается"
        ]
    if "certificate verify error" in diagnostics or "Verify error" in diagnostics:
        return [f"{SEAL_FILE}: подпись сделана не доверенным сертификатом ({outcome.reason})"]
    return [f"{SEAL_FILE}: подпись не прошла проверку ({outcome.reason})"]


TSA_CERT_FILE = "tsa-cert.pem"
"""The TSA's certificate (or its CA) handed out beside bundles, like seal-cert.pem."""
RECORD_ONE = evidence.RecordNames(1)


def auditor_command(cert: str = CERT_FILE) -> str:
    """The one-line check of the signature as of now, trusting `cert` (docs/seal.md)."""
    return " ".join(openssl.cms_verify_command(SEAL_FILE, SEALED_FILE, cert))


def auditor_ts_command(tsa_cert: str = f"../{TSA_CERT_FILE}") -> str:
    """The auditor's check of evidence record 1's timestamp (over the seal and the tag files)."""
    return " ".join(
        openssl.ts_verify_command(
            RECORD_ONE.token, tsa_cert, data=RECORD_ONE.covers, untrusted=RECORD_ONE.certs
        )
    )


def auditor_attime_command(cert: str = f"../{CERT_FILE}") -> str:
    """The auditor's check of the signature at the time record 1's timestamp proves (shell)."""
    printed = f"openssl ts -reply -in {RECORD_ONE.token} -token_in -text | sed -n 's/^Time stamp: //p'"
    seconds = f'$(date -d "$({printed})" +%s)'
    return " ".join(openssl.cms_verify_command(SEAL_FILE, SEALED_FILE, cert)).replace(
        "-out /dev/null", f"-attime {seconds} -out /dev/null"
    )


def auditor_covers_command() -> str:
    return f"sha512sum -c {RECORD_ONE.covers}"


def seal_readme_text(cert: str = "../seal-cert.pem", tsa_cert: str = f"../{TSA_CERT_FILE}") -> str:
    """The Russian paragraph README.txt of a sealed bag should carry (for documents.bag.bag_readme):
    what seal.p7s and evidence/ are and the standard commands that check them, in the bag folder."""
    return (
        f"{SEAL_FILE}\n"
        "    Электронная печать пакета: открепленная подпись CMS (PKCS #7) школы над файлом\n"
        f"    {SEALED_FILE}. Этот файл не указан в контрольных суммах: он подписывает их.\n"
        "    Проверка (нужен сертификат школы seal-cert.pem рядом с папкой пакета):\n\n"
        f"    {auditor_command(cert)}\n\n"
        "    Ответ «CMS Verification successful» означает, что контрольные суммы не менялись\n"
        "    после опечатывания; затем sha256sum -c проверяет по ним каждый файл.\n\n"
        f"{EVIDENCE_DIR}/\n"
        "    Доказательства времени подписи, если печать поставлена с меткой времени (RFC 3161):\n"
        "    метки времени, сертификаты и списки отзыва; со временем добавляются новые записи\n"
        "    (journal-archive evidence renew), старые файлы не изменяются. Проверка метки\n"
        f"    (нужен сертификат службы меток времени {TSA_CERT_FILE} рядом с папкой пакета):\n\n"
        f"    {auditor_covers_command()}\n"
        f"    {auditor_ts_command(tsa_cert)}\n\n"
        "    и подписи на момент, доказанный меткой (даже если сертификат школы уже истёк):\n\n"
        f"    {auditor_attime_command(cert)}\n\n"
        "    Без папки evidence/ печать подтверждается, только пока действует сертификат школы.\n"
    )
