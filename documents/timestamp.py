"""RFC 3161 timestamp tokens: what time they prove, who issued them, and checking them (R7).

A token is checked by `openssl ts -verify` (documents/_exec/openssl.py), the command an auditor
runs; this module reads the few fields a report needs (the time, the TSA's certificates) and
walks the DER of a seal just far enough to find its signature value and its CAdES-T
signature-time-stamp attribute (RFC 5126 §6.1.1; ETSI EN 319 122-1 §5.3).
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7

from documents._exec import openssl

OID_SIGNATURE_TIME_STAMP = "1.2.840.113549.1.9.16.2.14"
"""id-aa-signatureTimeStampToken: the CAdES-T unsigned attribute holding a token over the signature value."""


class TimestampFormatError(ValueError):
    """A token or seal whose structure cannot be read; the message says what."""


# --- A DER reader, just enough to walk a SignedData (X.690) ---------------------------------


class Element(NamedTuple):
    """One TLV (a tuple: a seal's check walks a hundred of them)."""

    tag: int
    start: int  # where the header begins
    body: int  # where the content begins
    end: int  # where the content ends

    def raw(self, data: bytes) -> bytes:
        return data[self.start : self.end]

    def content(self, data: bytes) -> bytes:
        return data[self.body : self.end]


def elements(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Element]:
    """The TLV elements one after another in data[start:end] (definite lengths, as DER has)."""
    end = len(data) if end is None else end
    position = start
    while position < end:
        if position + 2 > end:
            raise TimestampFormatError("обрезанная запись DER")
        tag, first = data[position], data[position + 1]
        body = position + 2
        if first < 0x80:
            size = first
        else:
            count = first & 0x7F
            if count == 0 or body + count > end:
                raise TimestampFormatError("неверная длина в записи DER")
            size = int.from_bytes(data[body : body + count], "big")
            body += count
        if body + size > end:
            raise TimestampFormatError("запись DER длиннее файла")
        yield Element(tag, position, body, body + size)
        position = body + size


def children(data: bytes, element: Element) -> list[Element]:
    return list(elements(data, element.body, element.end))


def oid_text(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's content octets."""
    numbers: list[int] = []
    value = 0
    for octet in content:
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            numbers.append(value)
            value = 0
    first = min(numbers[0] // 40, 2)
    return ".".join(str(n) for n in [first, numbers[0] - 40 * first, *numbers[1:]])


@dataclass(frozen=True, slots=True)
class SignerParts:
    """What a seal's first SignerInfo holds that the checks need."""

    signature: bytes  # the signature value (what a CAdES-T token stamps)
    signing_time: dt.datetime | None  # the signed signingTime attribute, as claimed by the signer
    timestamp_token: bytes | None  # the CAdES-T signature-time-stamp token (DER ContentInfo), if any


def signer_parts(seal: bytes) -> SignerParts:
    """Read a CMS SignedData (DER): the first signer's signature, signingTime and CAdES-T token."""
    try:
        (content_info,) = elements(seal)
        _, explicit = children(seal, content_info)[:2]
        (signed_data,) = children(seal, explicit)
        signer_infos = children(seal, signed_data)[-1]
        signer = children(seal, signer_infos)[0]
        parts = children(seal, signer)
    except (ValueError, IndexError) as error:
        raise TimestampFormatError(f"не подпись CMS SignedData ({error})") from error
    signature = next((p.content(seal) for p in parts if p.tag == 0x04), None)
    if signature is None:
        raise TimestampFormatError("в подписи нет значения подписи")
    signing_time = None
    token = None
    for part in parts:
        if part.tag not in (0xA0, 0xA1):
            continue
        for attribute in children(seal, part):
            oid, values = children(seal, attribute)[:2]
            name = oid_text(oid.content(seal))
            value = children(seal, values)[0]
            if part.tag == 0xA0 and name == "1.2.840.113549.1.9.5":
                signing_time = _asn1_time(value.tag, value.content(seal))
            elif part.tag == 0xA1 and name == OID_SIGNATURE_TIME_STAMP:
                token = value.raw(seal)
    return SignerParts(signature, signing_time, token)


def _asn1_time(tag: int, content: bytes) -> dt.datetime:
    text = content.decode("ascii")
    pattern = "%y%m%d%H%M%SZ" if tag == 0x17 else "%Y%m%d%H%M%SZ"
    return dt.datetime.strptime(text, pattern).replace(tzinfo=dt.UTC)


# --- Tokens -------------------------------------------------------------------------------

_TIME_LINE = re.compile(r"^Time stamp: (\w{3}) +(\d+) (\d\d:\d\d:\d\d)(?:\.\d+)? (\d{4}) GMT$", re.M)


def token_time(token: bytes) -> dt.datetime:
    """The time the token proves (TSTInfo genTime, UTC), as `openssl ts -reply -text` prints it."""
    with tempfile.TemporaryDirectory(prefix="tst-") as tmp:
        path = Path(tmp, "token.der")
        path.write_bytes(token)
        try:
            text = openssl.ts_token_text(path)
        except ValueError as error:
            raise TimestampFormatError(f"не метка времени RFC 3161 ({error})") from error
    found = _TIME_LINE.search(text)
    if found is None:
        raise TimestampFormatError("в метке времени нет времени")
    month, day, clock, year = found.groups()
    return dt.datetime.strptime(f"{month} {day} {year} {clock}", "%b %d %Y %H:%M:%S").replace(tzinfo=dt.UTC)


def token_certificates(token: bytes) -> list[x509.Certificate]:
    """The certificates the TSA put into its token (the TSA's own, asked for with `-cert`)."""
    try:
        return list(pkcs7.load_der_pkcs7_certificates(token))
    except ValueError as error:
        raise TimestampFormatError(f"не метка времени RFC 3161 ({error})") from error


def tsa_certificate(token: bytes) -> x509.Certificate | None:
    """The TSA's signing certificate among the token's (the one with EKU timeStamping)."""
    for certificate in token_certificates(token):
        try:
            usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in usage:
            return certificate
    return None


def pem(certificates: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(Encoding.PEM) for c in certificates)


def format_utc(when: dt.datetime) -> str:
    """«2026-11-30 08:46:37 UTC» for findings."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
