"""The seal's signature checked in-process (documents.seal_signature) never accepts what openssl refuses.

Every case is put to both: `verified_here` and the real `openssl cms -verify` the auditor runs.
Our own seals with a self-signed certificate are verified here (that is the routine verify's
speed, issue 13); everything else — a changed tagmanifest, another school's certificate, an
expired one, a certificate from a CA — is left to openssl, whose verdict and words stand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from documents._exec import openssl
from documents.seal import (
    SEAL_FILE,
    SEALED_FILE,
    check_seal,
    check_stored_seal,
    create_demo_signing_pair,
    load_signing_pair,
    seal_bag,
    signed_data,
)
from documents.seal_signature import verified_here
from tests.bundles import SCHOOL_NAME, write_sample_bag
from tests.pki import Authority, write_key

SIGNED_AT = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)
CHECKED_AT = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def ec_signing_pair(folder: Path, curve: ec.EllipticCurve) -> tuple[Path, Path]:
    """A self-signed ECDSA certificate of the demo pair's shape (not a CA, signature key usages)."""
    key = ec.generate_private_key(curve)
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, SCHOOL_NAME)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2054, 12, 31, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384() if isinstance(curve, ec.SECP384R1) else hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path = folder / "seal-cert.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return write_key(key, folder / "seal-key.pem"), cert_path


def both(bag: Path, trusted: Path, at: dt.datetime) -> tuple[bool, bool]:
    """(verified here, verified by openssl) for the bag's seal trusting `trusted` at `at`."""
    seal, content = bag / SEAL_FILE, bag / SEALED_FILE
    attime = int(at.timestamp())
    here = verified_here(seal.read_bytes(), content.read_bytes(), trusted.read_bytes(), attime)
    return here, openssl.cms_verify(seal, content, trusted, attime).ok


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return create_demo_signing_pair(tmp_path_factory.mktemp("demo"), SCHOOL_NAME, dt.date(2025, 6, 1))


@pytest.mark.parametrize("kind", ["rsa", "p256", "p384"])
def test_our_seals_with_a_self_signed_certificate_verify_here_as_with_openssl(
    tmp_path: Path, demo_pair: tuple[Path, Path], kind: str
) -> None:
    curves: dict[str, ec.EllipticCurve] = {"p256": ec.SECP256R1(), "p384": ec.SECP384R1()}
    pair = demo_pair if kind == "rsa" else ec_signing_pair(tmp_path / "keys", curves[kind])
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, *pair, SIGNED_AT)
    assert both(bag, pair[1], CHECKED_AT) == (True, True)
    embedded = tmp_path / "embedded.pem"  # no school certificate given: the one in the seal is trusted
    embedded.write_bytes(pair[1].read_bytes())
    assert both(bag, embedded, CHECKED_AT) == (True, True)


def test_an_unsigned_attribute_is_not_covered_by_the_signature_here_as_with_openssl(
    tmp_path: Path, demo_pair: tuple[Path, Path]
) -> None:
    """The CAdES-T token sits in the unsigned attributes: neither check reads it (documents/timestamp
    and `openssl ts` check it); any bytes there leave the signature valid."""
    key, certificate = load_signing_pair(*demo_pair)
    bag = write_sample_bag(tmp_path)
    seal = signed_data((bag / SEALED_FILE).read_bytes(), key, certificate, SIGNED_AT, lambda _: b"\x04\x01x")
    (bag / SEAL_FILE).write_bytes(seal)
    assert both(bag, demo_pair[1], CHECKED_AT) == (True, True)


Change = Callable[[Path, Path, Path], dt.datetime]
"""Spoils a sealed bag (or its trust) in one way; returns the time to check at."""


def changed_tagmanifest(bag: Path, _cert: Path, _tmp: Path) -> dt.datetime:
    (bag / SEALED_FILE).write_bytes((bag / SEALED_FILE).read_bytes() + b"\n")
    return CHECKED_AT


def another_schools_certificate(_bag: Path, cert: Path, tmp: Path) -> dt.datetime:
    _, other = create_demo_signing_pair(tmp / "other", SCHOOL_NAME, dt.date(2025, 6, 1))
    cert.write_bytes(other.read_bytes())
    return CHECKED_AT


def expired(_bag: Path, _cert: Path, _tmp: Path) -> dt.datetime:
    return dt.datetime(2056, 1, 1, tzinfo=dt.UTC)  # the demo certificate ends on 2055-12-31


def not_yet_valid(_bag: Path, _cert: Path, _tmp: Path) -> dt.datetime:
    return dt.datetime(2025, 5, 31, tzinfo=dt.UTC)


def changed_signature(bag: Path, _cert: Path, _tmp: Path) -> dt.datetime:
    seal = bytearray((bag / SEAL_FILE).read_bytes())
    seal[-5] ^= 0x01  # inside the RSA signature value, the last element
    (bag / SEAL_FILE).write_bytes(bytes(seal))
    return CHECKED_AT


def trust_with_settings(_bag: Path, cert: Path, _tmp: Path) -> dt.datetime:
    """A «TRUSTED CERTIFICATE» file carries OpenSSL trust settings: this module does not read them."""
    cert.write_bytes(cert.read_bytes().replace(b"CERTIFICATE-----", b"TRUSTED CERTIFICATE-----"))
    return CHECKED_AT


@pytest.mark.parametrize(
    "change",
    [
        changed_tagmanifest,
        another_schools_certificate,
        expired,
        not_yet_valid,
        changed_signature,
        trust_with_settings,
    ],
)
def test_whatever_is_not_a_good_seal_of_our_shape_is_left_to_openssl(
    tmp_path: Path, demo_pair: tuple[Path, Path], change: Change
) -> None:
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, *demo_pair, SIGNED_AT)
    trusted = tmp_path / "trusted.pem"
    trusted.write_bytes(demo_pair[1].read_bytes())
    at = change(bag, trusted, tmp_path)
    here, by_openssl = both(bag, trusted, at)
    assert here is False
    if change is not trust_with_settings:
        assert by_openssl is False


def test_a_certificate_from_a_ca_is_left_to_openssl_which_verifies_it(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "ca", "http://127.0.0.1:9/ca.crl")
    pair = authority.issue_school(tmp_path / "school", SCHOOL_NAME, 30)
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, *pair)
    assert both(bag, authority.cert_path, dt.datetime.now(dt.UTC)) == (False, True)
    assert check_seal(bag, authority.cert_path).problems == []  # openssl's verdict


def test_the_stored_seal_check_words_failures_as_the_folder_check_does(
    tmp_path: Path, demo_pair: tuple[Path, Path]
) -> None:
    """check_stored_seal (bytes, the routine verify) and check_seal (a folder) say the same, in
    openssl's words where openssl judged: a changed tagmanifest, and an expired certificate."""
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *demo_pair, SIGNED_AT)
    files = sorted(p.name for p in bag.iterdir() if p.is_file())

    def stored(at: dt.datetime) -> list[str]:
        return check_stored_seal(files, lambda name: (bag / name).read_bytes(), demo_pair[1], at=at).problems

    assert stored(CHECKED_AT) == check_seal(bag, demo_pair[1], at=CHECKED_AT).problems == []
    later = dt.datetime(2056, 1, 1, tzinfo=dt.UTC)
    assert stored(later) == check_seal(bag, demo_pair[1], at=later).problems
    assert len(stored(later)) == 1 and "метки времени у печати нет" in stored(later)[0]
    changed_tagmanifest(bag, demo_pair[1], tmp_path)
    assert (
        stored(CHECKED_AT)
        == check_seal(bag, demo_pair[1], at=CHECKED_AT).problems
        == [f"{SEALED_FILE}: файл изменён после опечатывания — подпись {SEAL_FILE} ему не соответствует"]
    )
