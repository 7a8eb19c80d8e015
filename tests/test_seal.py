"""The seal: a detached CMS signature over tagmanifest-sha256.txt that openssl verifies (R2, R3, R7, R9).

Real keys, real openssl, real bags written by documents.bag; the auditor's command is read from
docs/seal.md and run as written, so the documentation cannot drift from what works.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import bagit
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID, NameOID

from documents.bag import verify_bag_against_manifests
from documents.seal import (
    CERT_FILE,
    KEY_MODE,
    SEAL_FILE,
    SealError,
    auditor_command,
    create_demo_signing_pair,
    seal_bag,
    seal_certificates,
    seal_readme_text,
    signer_name,
    verify_seal,
)
from storage.bagformat import digests_of, format_manifest, parse_manifest
from tests.bundles import SCHOOL_NAME, write_sample_bag

DOCS = Path(__file__).resolve().parents[1] / "docs" / "seal.md"
SIGNED_AT = dt.datetime(2025, 6, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def signing_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return create_demo_signing_pair(
        tmp_path_factory.mktemp("keys"), SCHOOL_NAME, dt.date(2025, 6, 1), common_name="МБОУ СШ № 7"
    )


@pytest.fixture
def sealed(tmp_path: Path, signing_pair: tuple[Path, Path]) -> Path:
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *signing_pair, SIGNED_AT)
    return bag


def rewrite_manifests(bag: Path, prefix: str) -> None:
    """Recompute the checksums in every `prefix`*.txt of a bag for the files it lists."""
    for manifest in sorted(bag.glob(f"{prefix}*.txt")):
        algorithm = manifest.stem.rsplit("-", 1)[1]
        entries = parse_manifest(manifest.read_bytes(), manifest.name)
        digests = {}
        for relpath in entries:
            with (bag / relpath).open("rb") as stream:
                digests[relpath] = digests_of(stream, [algorithm])[algorithm]
        manifest.write_bytes(format_manifest(digests))


def documented_command() -> str:
    """The `openssl cms -verify` line of docs/seal.md, exactly as an auditor copies it."""
    lines = [line.strip() for line in DOCS.read_text(encoding="utf-8").splitlines()]
    commands = [line for line in lines if line.startswith("openssl cms -verify") and "-attime" not in line]
    assert len(commands) == 1, commands
    return commands[0]


def test_the_documented_openssl_command_verifies_a_sealed_bag(
    sealed: Path, signing_pair: tuple[Path, Path]
) -> None:
    shutil.copy(signing_pair[1], sealed.parent / "seal-cert.pem")
    command = documented_command()
    assert command == auditor_command("../seal-cert.pem")  # the code and the docs say the same
    assert command in seal_readme_text()  # and so does the paragraph for the bag's README.txt
    done = subprocess.run(command, shell=True, cwd=sealed, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    assert verify_seal(sealed, signing_pair[1]) == []
    assert verify_seal(sealed) == []  # with the certificate embedded in the seal


def test_sealing_twice_gives_byte_identical_seals(tmp_path: Path, signing_pair: tuple[Path, Path]) -> None:
    first = seal_bag(write_sample_bag(tmp_path / "a"), *signing_pair, SIGNED_AT).read_bytes()
    second = seal_bag(write_sample_bag(tmp_path / "b"), *signing_pair, SIGNED_AT).read_bytes()
    later = seal_bag(write_sample_bag(tmp_path / "c"), *signing_pair, SIGNED_AT + dt.timedelta(days=1))
    assert first == second
    assert later.read_bytes() != first  # the signing time is signed, and it is the one given
    printed = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(later)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(r"signingTime.*?UTCTIME:Jul  1 00:00:00 2025 GMT", printed, re.S)


def test_a_changed_tagmanifest_fails_the_seal_naming_it(
    sealed: Path, signing_pair: tuple[Path, Path]
) -> None:
    path = sealed / "tagmanifest-sha256.txt"
    data = bytearray(path.read_bytes())
    data[0] = ord("0") if data[0] != ord("0") else ord("1")
    path.write_bytes(bytes(data))
    problems = verify_seal(sealed, signing_pair[1])
    assert problems[0].startswith("tagmanifest-sha256.txt: файл изменён после опечатывания")
    shutil.copy(signing_pair[1], sealed.parent / "seal-cert.pem")
    done = subprocess.run(documented_command(), shell=True, cwd=sealed, capture_output=True, check=False)
    assert done.returncode != 0


def test_a_changed_payload_file_is_named(sealed: Path, signing_pair: tuple[Path, Path]) -> None:
    path = sealed / "data" / "journal.xml"
    path.write_bytes(path.read_bytes().replace(b"5", b"6"))
    problems = verify_seal(sealed, signing_pair[1])
    assert any(p.startswith("data/journal.xml: контрольная сумма не совпадает") for p in problems), problems


def test_a_payload_change_carried_into_the_manifests_breaks_the_seal(
    sealed: Path, signing_pair: tuple[Path, Path]
) -> None:
    """Whoever rewrites a document and every checksum to match still cannot forge the seal."""
    path = sealed / "data" / "journal.xml"
    path.write_bytes(path.read_bytes().replace(b"5", b"6"))
    rewrite_manifests(sealed, "manifest-")  # recompute every checksum, as a forger would
    rewrite_manifests(sealed, "tagmanifest-")
    assert verify_bag_against_manifests(sealed) == []  # the checksums alone are now consistent
    problems = verify_seal(sealed, signing_pair[1])
    assert problems and problems[0].startswith("tagmanifest-sha256.txt: файл изменён после опечатывания")


def test_another_key_is_not_the_school(sealed: Path, tmp_path: Path) -> None:
    _, other_cert = create_demo_signing_pair(tmp_path / "other", SCHOOL_NAME, dt.date(2025, 6, 1))
    problems = verify_seal(sealed, other_cert)
    assert len(problems) == 1 and problems[0].startswith(
        "seal.p7s: подпись сделана не доверенным сертификатом"
    )


def test_bagit_python_and_our_checks_accept_the_unlisted_seal(sealed: Path) -> None:
    bagit.Bag(str(sealed)).validate()  # raises BagValidationError on any problem
    assert verify_bag_against_manifests(sealed) == []
    assert SEAL_FILE not in (sealed / "tagmanifest-sha256.txt").read_text(encoding="utf-8")


def test_a_sealed_bag_is_never_sealed_again_and_keeps_its_times(
    tmp_path: Path, signing_pair: tuple[Path, Path]
) -> None:
    bag = write_sample_bag(tmp_path)
    folder_mtime = bag.stat().st_mtime_ns
    seal = seal_bag(bag, *signing_pair, SIGNED_AT)
    assert bag.stat().st_mtime_ns == folder_mtime
    assert seal.stat().st_mtime == SIGNED_AT.timestamp()
    assert oct(seal.stat().st_mode & 0o777) == "0o600"  # owner-only while the bag is built (A2)
    before = seal.read_bytes()
    with pytest.raises(SealError, match="уже опечатан"):
        seal_bag(bag, *signing_pair, SIGNED_AT)
    assert seal.read_bytes() == before
    assert not list(bag.glob(".*"))  # no partial file left behind


def test_a_damaged_bag_is_not_sealed(tmp_path: Path, signing_pair: tuple[Path, Path]) -> None:
    bag = write_sample_bag(tmp_path)
    (bag / "data" / "journal.pdf").write_bytes(b"changed")
    with pytest.raises(SealError, match=r"повреждён: data/journal\.pdf"):
        seal_bag(bag, *signing_pair, SIGNED_AT)
    assert not (bag / SEAL_FILE).exists()


def test_an_unsealed_bag_is_reported(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path)
    assert verify_seal(bag) == ["seal.p7s: файл печати отсутствует — пакет не опечатан"]


def test_the_demo_certificate_names_the_school_and_outlives_the_retention(
    signing_pair: tuple[Path, Path], sealed: Path
) -> None:
    key_path, cert_path = signing_pair
    assert key_path.stat().st_mode & 0o777 == KEY_MODE
    assert cert_path.name == CERT_FILE
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    organisation = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0]
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0]
    assert organisation.value == SCHOOL_NAME and common.value == "МБОУ СШ № 7"
    assert organisation._type == x509.name._ASN1Type.UTF8String  # Russian text, not PrintableString
    usage = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    # A summary bundle of 2024/2025 is kept to 2050-12-31 (storage/retention.py).
    assert cert.not_valid_after_utc > dt.datetime(2051, 1, 1, tzinfo=dt.UTC)
    assert [c.serial_number for c in seal_certificates(sealed / SEAL_FILE)] == [cert.serial_number]
    assert signer_name(cert) == SCHOOL_NAME


def test_a_long_school_name_is_cut_to_a_common_name_that_fits(tmp_path: Path) -> None:
    _, cert_path = create_demo_signing_pair(tmp_path, SCHOOL_NAME, dt.date(2025, 6, 1))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    common = str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    assert common.endswith("…") and SCHOOL_NAME.startswith(common[:-1]) and len(common.encode()) <= 64
    with pytest.raises(SealError, match="уже существует"):
        create_demo_signing_pair(tmp_path, SCHOOL_NAME, dt.date(2025, 6, 1))


def test_a_key_that_is_not_the_certificates_is_refused(
    tmp_path: Path, signing_pair: tuple[Path, Path]
) -> None:
    other_key, _ = create_demo_signing_pair(tmp_path / "other", SCHOOL_NAME, dt.date(2025, 6, 1))
    bag = write_sample_bag(tmp_path)
    with pytest.raises(SealError, match="не соответствует ключу"):
        seal_bag(bag, other_key, signing_pair[1], SIGNED_AT)
    with pytest.raises(SealError, match="не действует на время подписи"):
        seal_bag(bag, *signing_pair, dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
