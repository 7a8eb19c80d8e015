"""The school's PAdES signature on the year journal and summary PDFs (R3, R5, R7), with pyHanko.

A secretary who opens `journal.pdf` or `summary.pdf` sees who signed it and when. The signature
is an incremental update: the rendered PDF/A-3b bytes stay exactly as rendered (byte-reproducible
from the data) and the signature, a timestamp from `[seal] tsa_url` (PAdES B-T) and the
validation data (B-LT: certificates and CRLs in the document security store) are appended after
them. The field is invisible (no appearance, so no font that PDF/A would require embedded) and
sits on the last page, the certification sheet. The seal of the bundle (documents/seal.py) still
covers the signed PDFs through the manifests.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError, get_pyca_cryptography_hash
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from documents.seal import SealError

T = TypeVar("T")
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
SimpleSigner = signers.SimpleSigner

FIELD_NAME = "SchoolSeal"
REASON = "Электронная подпись школы: документ архива"
SIGNATURE_RESERVE = 32_768
"""Bytes kept for the signature container (certificate, signature, timestamp token): pyHanko would
otherwise sign twice to measure it. A bigger container (a long TSA chain) falls back to measuring."""


class PadesError(SealError):
    """A PDF that cannot be signed as asked; the message names the file and why."""


def load_certificates(paths: Iterable[Path]) -> list[asn1_x509.Certificate]:
    """Every certificate in the given PEM files (trust anchors for signing with validation data)."""
    found = []
    for path in paths:
        data = Path(path).read_bytes()
        for _, _, der in pem.unarmor(data, multiple=True):
            found.append(asn1_x509.Certificate.load(der))
    return found


def _outside_event_loop(function: Callable[[], T]) -> T:
    """Run `function` where no asyncio loop is running: pyHanko's synchronous API calls asyncio.run(),
    which fails inside a running loop (a web server's thread, Playwright, some task runners)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(function).result()


class _ParsedKeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner parses its key anew for every raw signature (twice a PDF: the size
    estimate and the signature), and parsing checks an RSA-3072 key for ~0.3 s each time. This one
    keeps the key parsed once; mechanisms other than RSA PKCS #1 v1.5 and ECDSA go pyHanko's way."""

    def __init__(
        self, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, cert: asn1_x509.Certificate
    ) -> None:
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        super().__init__(
            signing_cert=cert,
            signing_key=asn1_keys.PrivateKeyInfo.load(der),
            cert_registry=SimpleCertificateStore(),
        )
        self.key = key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        try:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        except ValueError:  # a mechanism asn1crypto cannot name: pyHanko's own path below
            mechanism = ""
        hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hash_algorithm)
        if mechanism == "ecdsa" and isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(hash_algorithm))
        return super().sign_raw(data, digest_algorithm)


def _school_signer(key_path: Path, cert_path: Path) -> signers.SimpleSigner:
    """The signer of a key and certificate file, parsed once per process while the files are unchanged."""
    try:
        stamps = tuple((path.stat().st_mtime_ns, path.stat().st_size) for path in (key_path, cert_path))
        return _load_signer(key_path, cert_path, stamps)
    except (OSError, ValueError, TypeError) as error:  # unreadable file, not a key, wrong password
        raise PadesError(f"{key_path}: ключ для подписи PDF не загружается ({error})") from error


@functools.lru_cache(maxsize=4)
def _load_signer(
    key_path: Path, cert_path: Path, _stamps: tuple[tuple[int, int], ...]
) -> signers.SimpleSigner:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = load_cert_from_pemder(str(cert_path))
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        return _ParsedKeySigner(key, cert)
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path))  # other key types: pyHanko's way
    if signer is None:
        raise ValueError("pyHanko не смог прочитать ключ")
    return signer


def sign_pdf(
    pdf: bytes,
    key_path: Path,
    cert_path: Path,
    *,
    signer_name: str,
    tsa_url: str | None = None,
    trust: Iterable[Path] = (),
) -> bytes:
    """`pdf` with the school's PAdES signature appended as an incremental update.

    B-B without `tsa_url`; B-T with it; and B-LT (validation data embedded) when the signer and the
    TSA validate against `trust` (PEM files: the school's certificate or CA, the TSA's).
    """
    signer = _school_signer(key_path, cert_path)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        last_page = len(document.pages) - 1
    roots = load_certificates(trust)
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        name=signer_name,
        reason=REASON,
        embed_validation_info=bool(roots),
        validation_context=ValidationContext(trust_roots=roots, allow_fetching=True) if roots else None,
    )
    stamper = timestamps.HTTPTimeStamper(tsa_url) if tsa_url else None

    def signed(reserve: int | None) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        fields.append_signature_field(writer, fields.SigFieldSpec(FIELD_NAME, on_page=last_page))
        return signers.sign_pdf(
            writer, metadata, signer=signer, timestamper=stamper, bytes_reserved=reserve
        ).getvalue()

    try:
        try:
            return _outside_event_loop(lambda: signed(SIGNATURE_RESERVE))
        except SigningError as error:
            if "larger than expected" not in str(error):
                raise
            return _outside_event_loop(lambda: signed(None))  # pyHanko measures with a dry run
    except Exception as error:  # a TSA that does not answer, a chain that does not validate
        raise PadesError(f"PDF не подписан: {error}") from error


@dataclass(frozen=True, slots=True)
class PdfSignatureCheck:
    """pyHanko's verdict on the first signature of a PDF."""

    intact: bool  # the signed bytes are unchanged
    valid: bool  # intact and the signer's certificate validates against the trust given
    timestamped: bool  # a signature timestamp token is present and sound
    signer: str
    summary: str  # pyHanko's own report


def check_pdf_signature(pdf: bytes, trust: Iterable[Path]) -> PdfSignatureCheck | None:
    """Validate a PDF's signature with pyHanko against `trust`; None for an unsigned PDF."""
    reader = PdfFileReader(io.BytesIO(pdf))
    if not reader.embedded_signatures:
        return None
    context = ValidationContext(trust_roots=load_certificates(trust), allow_fetching=False)
    status = _outside_event_loop(
        lambda: validate_pdf_signature(reader.embedded_signatures[0], signer_validation_context=context)
    )
    token = status.timestamp_validity
    return PdfSignatureCheck(
        intact=status.intact,
        valid=status.bottom_line,
        timestamped=token is not None and token.intact and token.valid,
        signer=status.signing_cert.subject.human_friendly,
        summary=status.pretty_print_details(),
    )


def sign_payload_pdfs(
    files: dict[str, bytes],
    key_path: Path,
    cert_path: Path,
    *,
    signer_name: str,
    tsa_url: str | None = None,
    trust: Iterable[Path] = (),
) -> list[str]:
    """Sign every PDF among a bundle's payload files in place; return their names."""
    signed = []
    for name in sorted(files):
        if name.lower().endswith(".pdf"):
            try:
                files[name] = sign_pdf(
                    files[name], key_path, cert_path, signer_name=signer_name, tsa_url=tsa_url, trust=trust
                )
            except PadesError as error:
                raise PadesError(f"{name}: {error}") from error
            signed.append(name)
    return signed
