"""A seal's CMS signature checked in-process, in the one shape our seals have (R7; issue 13).

`openssl cms -verify` (documents/_exec/openssl.py) is the judge of a seal: it is what an auditor
runs. Starting it costs ~10 ms a bundle, more than hashing a small bundle, so the routine
`verify` first asks `verified_here`. It answers True only for a seal it can check exactly as
openssl would accept it, and False — "not decided here" — for anything else, whereupon the caller
runs openssl as before, whose verdict and diagnostics stand. So every failure (a changed
tagmanifest, an expired or untrusted certificate, a bad signature) is still reported by openssl
in its own words; this module can only spare openssl's run for a seal that verifies.

The shape accepted here, each part checked (any other shape is left to openssl):

* a DER ContentInfo holding SignedData v1 with one digest algorithm (SHA-256 or SHA-384), detached
  id-data content, exactly one embedded certificate, no CRLs, and one SignerInfo v1 naming that
  certificate by issuer and serial number;
* signed attributes exactly content type (id-data), signing time and message digest, once each,
  in canonical DER (a SET OF in sorted order, minimal lengths — openssl verifies the signature over
  the DER it re-encodes, so the bytes checked here are the same bytes);
* the message digest equal to the digest of the content; the signature over the signed attributes
  verifying with the certificate's key: RSA (PKCS #1 v1.5, rsaEncryption, ≥ 2048 bits) or ECDSA
  on P-256 / P-384 with the matching ecdsa-with-SHA256/384;
* the signer's certificate self-signed (X.509 v3; its own signature verifies, any authority key
  identifier is its subject key identifier), byte for byte one of the trusted certificates (a
  file of plain PEM certificates only, no trust settings), valid strictly inside its validity
  period at the check time, with no extensions but basic constraints (not a CA, no path length),
  key usage allowing signatures, and key identifiers, the identifiers not critical.

That is the chain openssl builds for such a certificate: a trust anchor of its own, checked for
its validity period and critical extensions, with `-purpose any` asking nothing more of it. A
certificate issued by a CA (a chain), or any extension beyond those, is left to openssl.
The signature arithmetic is OpenSSL's own, through `cryptography`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from documents.timestamp import Element, children, elements, oid_text

OID_DATA = "1.2.840.113549.1.7.1"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_RSA = "1.2.840.113549.1.1.1"
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
}
ECDSA_WITH: dict[str, str] = {
    "1.2.840.10045.4.3.2": "2.16.840.1.101.3.4.2.1",
    "1.2.840.10045.4.3.3": "2.16.840.1.101.3.4.2.2",
}
"""ecdsa-with-SHA256/384 and the digest algorithm each must go with."""
CURVES = ("secp256r1", "secp384r1")
MIN_RSA_BITS = 2048
ALLOWED_EXTENSIONS = {
    x509.BasicConstraints.oid,
    x509.KeyUsage.oid,
    x509.SubjectKeyIdentifier.oid,
    x509.AuthorityKeyIdentifier.oid,
}
NULL = b"\x05\x00"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"


class _NotHere(Exception):
    """The seal is not of the shape checked here: openssl decides."""


def verified_here(seal: bytes, content: bytes, trusted_pem: bytes, attime: int) -> bool:
    """True when the detached seal (DER) verifies over `content`, trusting the PEM certificates
    `trusted_pem`, at `attime` (seconds since 1970), in the shape this module checks; False when
    it does not or cannot say — the caller then runs `openssl cms -verify`."""
    try:
        _verify(seal, content, trusted_pem, dt.datetime.fromtimestamp(attime, dt.UTC))
    except Exception:  # whatever this module cannot read or verify, openssl judges
        return False
    return True


def _verify(seal: bytes, content: bytes, trusted_pem: bytes, when: dt.datetime) -> None:
    signed_data = _signed_data(seal)
    version, digest_algorithms, encapsulated, certificates, signer_infos = _expect(
        seal, signed_data, [0x02, 0x31, 0x30, 0xA0, 0x31]
    )
    _need(version.content(seal) == b"\x01")
    (digest_algorithm,) = children(seal, digest_algorithms)
    digest_oid, parameters = _algorithm(seal, digest_algorithm)
    _need(digest_oid in DIGESTS and parameters in ([], [NULL]))
    (content_type,) = _expect(seal, encapsulated, [0x06])  # detached: no eContent
    _need(oid_text(content_type.content(seal)) == OID_DATA)
    (embedded,) = _expect(seal, certificates, [0x30])
    (signer,) = _expect(seal, signer_infos, [0x30])
    parts = children(seal, signer)
    _need(len(parts) in (6, 7) and [p.tag for p in parts[:6]] == [0x02, 0x30, 0x30, 0xA0, 0x30, 0x04])
    _need(
        len(parts) == 6 or parts[6].tag == 0xA1
    )  # unsigned attributes (a timestamp): not verified by openssl
    signer_version, sid, signer_digest, attributes, signature_algorithm, signature = parts[:6]
    _need(signer_version.content(seal) == b"\x01")
    _need(_algorithm(seal, signer_digest) in ((digest_oid, []), (digest_oid, [NULL])))
    certificate = x509.load_der_x509_certificate(embedded.raw(seal))
    issuer, serial = _expect(seal, sid, [0x30, 0x02])
    _need(issuer.raw(seal) == certificate.issuer.public_bytes())
    _need(int.from_bytes(serial.content(seal), "big", signed=True) == certificate.serial_number)

    digest = DIGESTS[digest_oid]()
    signed = _signed_attributes(seal, attributes)
    hasher = hashes.Hash(digest)
    hasher.update(content)
    _need(signed == hasher.finalize())
    to_verify = b"\x31" + attributes.raw(seal)[1:]  # what is signed: the SET OF, not the [0] IMPLICIT tag
    key = certificate.public_key()
    signature_oid, parameters = _algorithm(seal, signature_algorithm)
    if isinstance(key, rsa.RSAPublicKey) and (signature_oid, parameters) == (OID_RSA, [NULL]):
        _need(key.key_size >= MIN_RSA_BITS)
        key.verify(signature.content(seal), to_verify, padding.PKCS1v15(), digest)
    elif isinstance(key, ec.EllipticCurvePublicKey) and (ECDSA_WITH.get(signature_oid), parameters) == (
        digest_oid,
        [],
    ):
        _need(key.curve.name in CURVES)
        key.verify(signature.content(seal), to_verify, ec.ECDSA(digest))
    else:
        raise _NotHere
    _check_anchor(certificate, trusted_pem, when)


def _signed_data(seal: bytes) -> Element:
    (content_info,) = elements(seal)
    _need(content_info.tag == 0x30)
    oid, explicit = _expect(seal, content_info, [0x06, 0xA0])
    _need(oid_text(oid.content(seal)) == OID_SIGNED_DATA)
    (signed_data,) = _expect(seal, explicit, [0x30])
    return signed_data


def _signed_attributes(seal: bytes, attributes: Element) -> bytes:
    """The message digest, once the signed attributes are found to be exactly the three, in DER."""
    _need(_minimal(seal, attributes))
    found: dict[str, Element] = {}
    raws = []
    for attribute in children(seal, attributes):
        oid, values = _expect(seal, attribute, [0x06, 0x31])
        (value,) = children(seal, values)
        name = oid_text(oid.content(seal))
        _need(name not in found)
        found[name] = value
        raws.append(attribute.raw(seal))
    _need(raws == sorted(raws))  # DER orders a SET OF by encoding: openssl signs and checks that order
    _need(set(found) == {OID_CONTENT_TYPE, OID_SIGNING_TIME, OID_MESSAGE_DIGEST})
    kind = found[OID_CONTENT_TYPE]
    _need(kind.tag == 0x06 and oid_text(kind.content(seal)) == OID_DATA)
    _need(found[OID_SIGNING_TIME].tag in (0x17, 0x18))
    _need(found[OID_MESSAGE_DIGEST].tag == 0x04)
    return found[OID_MESSAGE_DIGEST].content(seal)


def _check_anchor(certificate: x509.Certificate, trusted_pem: bytes, when: dt.datetime) -> None:
    """The signer's certificate is its own trust anchor, as openssl would take it (module docstring)."""
    _need(certificate.not_valid_before_utc < when < certificate.not_valid_after_utc)
    _need(_is_own_anchor(certificate.public_bytes(Encoding.DER), trusted_pem))


@functools.lru_cache(maxsize=16)
def _is_own_anchor(der: bytes, trusted_pem: bytes) -> bool:
    """All of _check_anchor but the validity period: a pure function of the bytes, so asked once
    per run for a school's certificate, not once per bundle."""
    try:
        _check_own_anchor(x509.load_der_x509_certificate(der), der, trusted_pem)
    except Exception:  # whatever cannot be read or verified here, openssl judges
        return False
    return True


def _check_own_anchor(certificate: x509.Certificate, der: bytes, trusted_pem: bytes) -> None:
    _need(trusted_pem.count(b"-----BEGIN ") == trusted_pem.count(PEM_CERTIFICATE))  # plain certificates
    trusted = x509.load_pem_x509_certificates(trusted_pem) if PEM_CERTIFICATE in trusted_pem else []
    _need(any(anchor.public_bytes(Encoding.DER) == der for anchor in trusted))
    _need(certificate.version == x509.Version.v3)
    _need(certificate.issuer.public_bytes() == certificate.subject.public_bytes())
    certificate.verify_directly_issued_by(certificate)  # self-signed: raises InvalidSignature if not
    extensions = certificate.extensions
    _need(all(extension.oid in ALLOWED_EXTENSIONS for extension in extensions))
    for extension in extensions:
        value = extension.value
        if isinstance(value, x509.BasicConstraints):
            _need(not value.ca and value.path_length is None)
        elif isinstance(value, x509.KeyUsage):
            _need(value.digital_signature or value.content_commitment)
        elif isinstance(value, x509.AuthorityKeyIdentifier):
            _need(not extension.critical and value.authority_cert_issuer is None)
            _need(value.authority_cert_serial_number is None)
            subject_key = _subject_key_identifier(certificate)
            _need(value.key_identifier is None or value.key_identifier == subject_key)
        else:
            _need(not extension.critical)


def _subject_key_identifier(certificate: x509.Certificate) -> bytes | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _algorithm(seal: bytes, identifier: Element) -> tuple[str, list[bytes]]:
    """An AlgorithmIdentifier: its OID and its parameters' encodings (none, or NULL)."""
    _need(identifier.tag == 0x30)
    oid, *parameters = children(seal, identifier)
    _need(oid.tag == 0x06)
    return oid_text(oid.content(seal)), [p.raw(seal) for p in parameters]


def _expect(seal: bytes, element: Element, tags: Sequence[int]) -> list[Element]:
    """The children of `element`, which must be exactly of these tags, in order."""
    found = children(seal, element)
    _need([child.tag for child in found] == list(tags))
    return found


def _minimal(data: bytes, element: Element) -> bool:
    """Whether an element and everything in it is encoded with DER's minimal lengths."""
    size = element.end - element.body
    header = 2 if size < 0x80 else 2 + (size.bit_length() + 7) // 8
    if element.body - element.start != header or element.tag & 0x1F == 0x1F:
        return False
    if element.tag & 0x20:  # constructed
        return all(_minimal(data, child) for child in children(data, element))
    return True


def _need(condition: bool) -> None:
    if not condition:
        raise _NotHere
