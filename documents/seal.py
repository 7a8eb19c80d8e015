"""The seal of a bundle: a detached CMS (PKCS #7) signature over its tagmanifest (R2, R3, R7, R9).

A sealed bag carries `seal.p7s`, a DER-encoded CMS SignedData (RFC 5652) made with the
school's RSA key over `tagmanifest-sha256.txt`. The tagmanifest covers bag-info.txt and the
payload manifests, the manifests cover every file in data/, so one signature vouches for the
whole bundle; an auditor checks it with stock `openssl cms -verify` (docs/seal.md), then the
checksums with `sha256sum -c` — no software of ours needed (R5).

Why the CMS is put together here and not by `cryptography`'s PKCS7SignatureBuilder: the
builder always stamps the current time into the signed attributes, so sealing the same bag
twice would give different bytes; without attributes (`NoAttributes`) the seal would carry no
signing time at all. The structure is small and fixed (one signer, three signed attributes:
content type, signing time, message digest), so it is encoded below in plain DER, the signing
time taken from the data. RSA PKCS #1 v1.5 signatures are deterministic (ECDSA's are not), so
the same bag, key and time give a byte-identical seal. `openssl cms -verify` is the judge of
the encoding, in the tests and for the auditor.

`seal.p7s` cannot be listed in the tagmanifest it signs: it is the one tag file left out
(storage.bagformat.UNLISTED_TAG_FILES), and a sealed bag is never modified again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID

from documents._exec import openssl
from documents.bag import FILE_MODE, verify_bag_against_manifests
from storage.bagformat import SEAL_FILE, tagmanifest_name

SEALED_FILE = tagmanifest_name("sha256")
"""What the seal signs: the SHA-256 tagmanifest (bag-info, manifests, README — and through the
manifests every payload file)."""

KEY_FILE = "seal-key.pem"
CERT_FILE = "seal-cert.pem"
KEY_MODE = 0o600
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
    directory.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key_bytes)
    os.chmod(key_path, KEY_MODE)  # whatever the umask
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
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
OID_RSA = "1.2.840.113549.1.1.1"


def _attribute(oid: str, value: bytes) -> bytes:
    return _sequence(_oid(oid), _set([value]))


def signed_data(
    content: bytes, key: rsa.RSAPrivateKey, certificate: x509.Certificate, when: dt.datetime
) -> bytes:
    """A detached CMS SignedData (DER) over `content`: SHA-256, RSA PKCS #1 v1.5, one signer named
    by issuer and serial number, the certificate embedded, signed attributes content type,
    signing time `when` and message digest. Same input, same bytes."""
    if when.tzinfo is None:
        raise SealError("Время подписи должно быть указано с часовым поясом")
    sha256 = _sequence(_oid(OID_SHA256))
    attributes = [
        _attribute(OID_CONTENT_TYPE, _oid(OID_DATA)),
        _attribute(OID_SIGNING_TIME, _time(when)),
        _attribute(OID_MESSAGE_DIGEST, _octets(hashlib.sha256(content).digest())),
    ]
    signed_attributes = _set(attributes)  # what is signed: the SET OF with its universal tag
    signature = key.sign(signed_attributes, padding.PKCS1v15(), hashes.SHA256())
    issuer = certificate.issuer.public_bytes()
    signer_info = _sequence(
        _integer(1),
        _sequence(issuer, _integer(certificate.serial_number)),
        sha256,
        b"\xa0" + signed_attributes[1:],  # [0] IMPLICIT SET OF Attribute
        _sequence(_oid(OID_RSA), NULL),
        _octets(signature),
    )
    certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    body = _sequence(
        _integer(1),
        _set([sha256]),
        _sequence(_oid(OID_DATA)),  # encapContentInfo without eContent: detached
        _tlv(0xA0, certificate_der),  # certificates [0] IMPLICIT
        _set([signer_info]),
    )
    return _sequence(_oid(OID_SIGNED_DATA), _tlv(0xA0, body))


# --- Sealing and checking a bag -------------------------------------------------------------


def load_signing_pair(key_path: Path, cert_path: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The school's RSA key and its certificate (PEM); SealError names the file that is wrong."""
    key_path, cert_path = Path(key_path), Path(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as error:
        raise SealError(f"{key_path}: не удалось прочитать ключ печати ({error.strerror})") from error
    except (ValueError, TypeError) as error:
        raise SealError(f"{key_path}: не ключ PEM без пароля ({error})") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SealError(f"{key_path}: нужен ключ RSA (подпись RSA воспроизводима, ECDSA — нет)")
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except OSError as error:
        raise SealError(f"{cert_path}: не удалось прочитать сертификат ({error.strerror})") from error
    except ValueError as error:
        raise SealError(f"{cert_path}: не сертификат X.509 в формате PEM ({error})") from error
    if certificate.public_key().public_numbers() != key.public_key().public_numbers():
        raise SealError(f"{cert_path}: сертификат не соответствует ключу {key_path.name}")
    return key, certificate


def seal_bag(bag_dir: Path, key_path: Path, cert_path: Path, signing_time: dt.datetime) -> Path:
    """Write `seal.p7s` into a complete, intact bag and return its path.

    `signing_time` comes from the data (e.g. the end of the school year), never the clock, so
    sealing is reproducible. A bag that already has a seal is refused (a sealed bag is never
    modified), as is a bag whose files do not match its manifests (sealing would vouch for a
    damaged bag). The seal gets the bag's file mode and `signing_time` as its mtime; the bag
    folder keeps its own mtime, so a tar of the bag stays reproducible.
    """
    bag_dir = Path(bag_dir)
    seal = bag_dir / SEAL_FILE
    if seal.exists() or seal.is_symlink():
        raise SealError(f"{seal}: пакет уже опечатан; опечатанный пакет не изменяется")
    problems = verify_bag_against_manifests(bag_dir)
    if problems:
        raise SealError(f"Пакет {bag_dir.name} не опечатан, он повреждён: {problems[0]}")
    key, certificate = load_signing_pair(key_path, cert_path)
    if (
        not certificate.not_valid_before_utc
        <= signing_time.astimezone(dt.UTC)
        <= certificate.not_valid_after_utc
    ):
        raise SealError(f"{cert_path}: сертификат не действует на время подписи {signing_time.isoformat()}")
    data = signed_data((bag_dir / SEALED_FILE).read_bytes(), key, certificate, signing_time)
    folder_times = bag_dir.stat()
    partial = bag_dir / f".{SEAL_FILE}.part"
    try:
        partial.write_bytes(data)
        partial.chmod(FILE_MODE)
        stamp = signing_time.timestamp()
        os.utime(partial, (stamp, stamp))
        partial.rename(seal)
    finally:
        partial.unlink(missing_ok=True)
        os.utime(bag_dir, ns=(folder_times.st_atime_ns, folder_times.st_mtime_ns))
    return seal


def seal_certificates(seal: Path) -> list[x509.Certificate]:
    """The certificates embedded in a seal (the signer's, for our seals)."""
    try:
        return list(pkcs7.load_der_pkcs7_certificates(Path(seal).read_bytes()))
    except ValueError as error:
        raise SealError(f"{Path(seal).name}: не подпись CMS в формате DER ({error})") from error


def signer_name(certificate: x509.Certificate) -> str:
    """Who sealed: the certificate's O (else CN), for reports."""
    for oid in (NameOID.ORGANIZATION_NAME, NameOID.COMMON_NAME):
        values = certificate.subject.get_attributes_for_oid(oid)
        if values:
            return str(values[0].value)
    return certificate.subject.rfc4514_string()


def verify_seal(bag_dir: Path, cert_path: Path | None = None) -> list[str]:
    """Problems (Russian, each naming its file) of a sealed bag; an empty list means it is intact.

    1. `seal.p7s` must be a valid signature over `tagmanifest-sha256.txt`, checked by the
       auditor's own command (`openssl cms -verify …`, documents/_exec/openssl.py). With
       `cert_path` the signer must be that trusted certificate (authenticity); without it the
       certificate embedded in the seal is used, which proves the bag unchanged since sealing
       but not who sealed it.
    2. Every file must match the manifests (storage.bagformat.check_fixity), so a changed
       payload file is named even though the seal itself covers only the tagmanifest.
    """
    bag_dir = Path(bag_dir)
    if not bag_dir.is_dir():
        return [f"{bag_dir}: папка пакета не найдена"]
    seal, content = bag_dir / SEAL_FILE, bag_dir / SEALED_FILE
    problems: list[str] = []
    if not seal.is_file():
        problems.append(f"{SEAL_FILE}: файл печати отсутствует — пакет не опечатан")
    elif not content.is_file():
        problems.append(f"{SEALED_FILE}: файл отсутствует, печать проверить нельзя")
    else:
        problems += _check_signature(seal, content, cert_path)
    return problems + verify_bag_against_manifests(bag_dir)


def _check_signature(seal: Path, content: Path, cert_path: Path | None) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="seal-") as tmp:
        if cert_path is None:
            try:
                embedded = seal_certificates(seal)
            except SealError as error:
                return [str(error)]
            if not embedded:
                return [f"{SEAL_FILE}: в подписи нет сертификата; укажите сертификат школы"]
            trusted = Path(tmp) / "embedded.pem"
            trusted.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in embedded))
        else:
            trusted = Path(cert_path)
            if not trusted.is_file():
                return [f"{trusted}: файл сертификата не найден"]
        try:
            outcome = openssl.cms_verify(seal, content, trusted)
        except openssl.OpenSSLMissing as error:
            return [f"{SEAL_FILE}: печать не проверена — {error}"]
    if outcome.ok:
        return []
    diagnostics = outcome.stderr
    if "CMS_SignerInfo_verify_content" in diagnostics or "digest failure" in diagnostics:
        # The signed message digest (or, without signed attributes, the signature) is not that of
        # the file as it is now.
        return [f"{SEALED_FILE}: файл изменён после опечатывания — подпись {SEAL_FILE} ему не соответствует"]
    if "certificate verify error" in diagnostics or "Verify error" in diagnostics:
        return [f"{SEAL_FILE}: подпись сделана не доверенным сертификатом ({outcome.reason})"]
    return [f"{SEAL_FILE}: подпись не прошла проверку ({outcome.reason})"]


def auditor_command(cert: str = CERT_FILE) -> str:
    """The one-line check an auditor runs inside the bag folder, trusting `cert` (docs/seal.md)."""
    return " ".join(openssl.cms_verify_command(SEAL_FILE, SEALED_FILE, cert))


def seal_readme_text(cert: str = "../seal-cert.pem") -> str:
    """The Russian paragraph README.txt of a sealed bag should carry (for documents.bag.bag_readme):
    what seal.p7s is and the one command that checks it, run inside the bag folder."""
    return (
        f"{SEAL_FILE}\n"
        "    Электронная печать пакета: открепленная подпись CMS (PKCS #7) школы над файлом\n"
        f"    {SEALED_FILE}. Этот файл не указан в контрольных суммах: он подписывает их.\n"
        "    Проверка (нужен сертификат школы seal-cert.pem рядом с папкой пакета):\n\n"
        f"    {auditor_command(cert)}\n\n"
        "    Ответ «CMS Verification successful» означает, что контрольные суммы не менялись\n"
        "    после опечатывания; затем sha256sum -c проверяет по ним каждый файл.\n"
    )
