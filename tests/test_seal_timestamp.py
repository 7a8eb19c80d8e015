"""Seals that stay provable for 25 years: RFC 3161 timestamps, validation at the proven time,
evidence renewal, revocation, RSA and ECDSA keys (R3, R7, R9).

Everything is real: a CA made with `cryptography`, TSAs that are `openssl ts -reply` behind HTTP
on 127.0.0.1 (tests/pki.py), CRLs served at the URL the certificates name, the auditor's commands
read from docs/seal.md and run as written. TSAs stamp the real time, so certificates are made to
expire relative to now and the checks travel in time through their `at` date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from documents._exec.tsa_server import TsaServer
from documents.evidence import renew_folder
from documents.seal import (
    SEAL_FILE,
    SealError,
    auditor_attime_command,
    auditor_covers_command,
    auditor_ts_command,
    check_seal,
    seal_bag,
    seal_readme_text,
)
from documents.timestamp import signer_parts, token_time
from tests.bundles import SCHOOL_NAME, write_sample_bag
from tests.pki import CRL_NAME, Authority, now, self_signed_tsa

DOCS = Path(__file__).resolve().parents[1] / "docs" / "seal.md"
README = DOCS.parents[1] / "README.md"
Y2031 = dt.datetime(2031, 6, 1, tzinfo=dt.UTC)
Y2051 = dt.datetime(2051, 6, 1, tzinfo=dt.UTC)
ATTIME_PREFIX = (
    "openssl cms -verify -binary -inform DER -in seal.p7s -content tagmanifest-sha256.txt "
    "-CAfile ../seal-cert.pem -purpose any -attime"
)
RECORD_FILES = ("-certs.pem", "-covers-sha512.txt", "-crls.pem", ".tsr")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Authority, TsaServer]]:
    """A CA whose CRL is served by a self-signed TSA's HTTP server (also the default TSA here)."""
    folder = tmp_path_factory.mktemp("pki")
    server = self_signed_tsa(folder / "tsa")
    server.public_dir = folder / "ca"
    authority = Authority(folder / "ca", server.url + CRL_NAME)
    server.start()
    try:
        yield authority, server
    finally:
        server.stop()


@pytest.fixture
def school(pki: tuple[Authority, TsaServer], tmp_path: Path) -> tuple[Path, Path]:
    """A school seal (RSA) valid 30 days from yesterday, issued by the test CA."""
    return pki[0].issue_school(tmp_path / "school", SCHOOL_NAME, 30)


def documented(prefix: str, document: Path = DOCS) -> str:
    """The one line of docs/seal.md (or README.md) starting with `prefix`, as an auditor copies it."""
    lines = [line.strip() for line in document.read_text(encoding="utf-8").splitlines()]
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, found
    return found[0]


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, cwd=cwd, capture_output=True, text=True, check=False)


def test_a_timestamped_seal_verifies_with_the_documented_standard_commands(
    pki: tuple[Authority, TsaServer], school: tuple[Path, Path], tmp_path: Path
) -> None:
    authority, tsa = pki
    bag = write_sample_bag(tmp_path / "bags")
    clock = now()
    seal_bag(bag, *school, tsa_url=tsa.url, tsa_certificate=tsa.cert_path, clock=lambda: clock)
    shutil.copy(authority.cert_path, bag.parent / "seal-cert.pem")
    shutil.copy(tsa.cert_path, bag.parent / "tsa-cert.pem")
    commands = [
        documented("sha512sum -c evidence/"),
        documented("openssl ts -verify"),
        documented(ATTIME_PREFIX),
    ]
    assert commands == [auditor_covers_command(), auditor_ts_command(), auditor_attime_command()]
    assert commands == [
        documented(p, README) for p in ("sha512sum -c evidence/", "openssl ts -verify", ATTIME_PREFIX)
    ]
    assert all(command in seal_readme_text() for command in commands)  # and each bag's README.txt
    results = [run(command, bag) for command in commands]
    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr for r in results]
    assert "Verification: OK" in results[1].stdout
    assert "CMS Verification successful" in results[2].stderr
    # The real signing time from the clock, a CAdES-T token over the signature proving it.
    parts = signer_parts((bag / SEAL_FILE).read_bytes())
    assert parts.signing_time == clock and parts.timestamp_token
    proven = token_time(parts.timestamp_token)
    assert clock - dt.timedelta(minutes=5) <= proven <= now() + dt.timedelta(seconds=1)
    check = check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path)
    assert check.problems == [] and check.warnings == [] and check.proven_at == proven


def test_the_tampered_evidence_or_tagmanifest_is_named(
    pki: tuple[Authority, TsaServer], school: tuple[Path, Path], tmp_path: Path
) -> None:
    authority, tsa = pki
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *school, tsa_url=tsa.url, tsa_certificate=tsa.cert_path)
    certs = bag / "evidence" / "0001-certs.pem"
    certs.write_bytes(certs.read_bytes() + b"\n")
    problems = check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path).problems
    assert problems == ["evidence/0001-certs.pem: файл изменён после метки времени evidence/0001.tsr"]
    (bag / "evidence" / "0002-extra.txt").write_text("x")
    problems = check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path).problems
    assert "evidence/0002-extra.txt: посторонний файл в папке доказательств evidence/" in problems


def test_an_expired_school_certificate_still_verifies_at_the_proven_time(
    pki: tuple[Authority, TsaServer], school: tuple[Path, Path], tmp_path: Path
) -> None:
    authority, tsa = pki
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *school, tsa_url=tsa.url, tsa_certificate=tsa.cert_path)
    check = check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path, at=Y2031)
    assert check.problems == []
    assert check.certificate_expires is not None and check.certificate_expires < Y2031


def test_without_a_tsa_the_seal_says_its_validity_ends_with_the_certificate(
    pki: tuple[Authority, TsaServer], school: tuple[Path, Path], tmp_path: Path
) -> None:
    authority, _ = pki
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *school)
    assert not (bag / "evidence").exists()
    today = check_seal(bag, authority.cert_path)
    assert today.problems == [] and today.proven_at is None
    assert len(today.warnings) == 1 and "пока действует сертификат" in today.warnings[0]
    later = check_seal(bag, authority.cert_path, at=Y2031)
    assert len(later.problems) == 1 and "метки времени у печати нет" in later.problems[0], later.problems


@pytest.mark.parametrize("algorithm", ["p256", "p384"])
def test_ecdsa_keys_seal_and_openssl_verifies(
    pki: tuple[Authority, TsaServer], tmp_path: Path, algorithm: str
) -> None:
    authority, tsa = pki
    key, cert = authority.issue_school(tmp_path / "school", SCHOOL_NAME, 30, algorithm=algorithm)
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, key, cert, tsa_url=tsa.url, tsa_certificate=tsa.cert_path)
    shutil.copy(authority.cert_path, bag.parent / "seal-cert.pem")
    done = run(auditor_attime_command(), bag)
    assert done.returncode == 0, done.stderr
    assert check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path).problems == []


def test_a_certificate_issued_after_the_school_year_can_seal_it(
    pki: tuple[Authority, TsaServer], tmp_path: Path
) -> None:
    """The sample bag's year ended 2025-05-26; the certificate starts today."""
    authority, tsa = pki
    start = now() - dt.timedelta(minutes=1)
    key, cert = authority.issue_school(tmp_path / "school", SCHOOL_NAME, 30, start=start)
    bag = write_sample_bag(tmp_path / "bags")
    seal_bag(bag, key, cert, tsa_url=tsa.url)
    assert check_seal(bag, authority.cert_path).problems == []


def test_a_revoked_certificate_cannot_seal_and_a_backdated_revocation_invalidates(
    pki: tuple[Authority, TsaServer], tmp_path: Path
) -> None:
    authority, tsa = pki
    key, cert = authority.issue_school(tmp_path / "revoked", SCHOOL_NAME, 30)
    authority.revoke(cert, now() - dt.timedelta(hours=2), x509.ReasonFlags.key_compromise)
    bag = write_sample_bag(tmp_path / "a")
    with pytest.raises(SealError, match=r"отозван .*компрометация ключа"):
        seal_bag(bag, key, cert, tsa_url=tsa.url)
    assert not (bag / SEAL_FILE).exists() and not (bag / "evidence").exists()

    # Sealed while the CRL was clean; the CA then revokes it as of before the seal (key compromise).
    key, cert = authority.issue_school(tmp_path / "later", SCHOOL_NAME, 30)
    sealed = write_sample_bag(tmp_path / "b")
    seal_bag(sealed, key, cert, tsa_url=tsa.url, tsa_certificate=tsa.cert_path)
    assert check_seal(sealed, authority.cert_path, tsa_certificate=tsa.cert_path).problems == []
    authority.revoke(cert, now() - dt.timedelta(days=1), x509.ReasonFlags.key_compromise)
    renew_folder(sealed, tsa.url)  # renewal stores the CRL that now names it
    problems = check_seal(sealed, authority.cert_path, tsa_certificate=tsa.cert_path).problems
    assert len(problems) == 1 and problems[0].startswith("seal.p7s: печать недействительна — сертификат")
    assert "отозван" in problems[0] and "компрометация ключа" in problems[0]


def test_time_travel_renewed_evidence_verifies_in_2031_and_2051_the_rest_fails_naming_it(
    pki: tuple[Authority, TsaServer], tmp_path: Path
) -> None:
    """Signer valid 30 days, TSA 1 for 2 years, TSA 2 until ~2040, TSA 3 until ~2056 (R3: to 2050)."""
    authority, _ = pki
    key, cert = authority.issue_school(tmp_path / "school", SCHOOL_NAME, 30)
    servers = [
        TsaServer(*authority.issue_tsa(tmp_path / f"tsa{n}", f"Служба меток времени {n}", days)).start()
        for n, days in ((1, 730), (2, 365 * 14), (3, 365 * 30))
    ]
    try:
        renewed, once, never = (write_sample_bag(tmp_path / name) for name in ("renewed", "once", "never"))
        for bag in (renewed, once, never):
            seal_bag(bag, key, cert, tsa_url=servers[0].url, tsa_certificate=authority.cert_path)
        renew_folder(renewed, servers[1].url)
        renew_folder(renewed, servers[2].url)
        renew_folder(once, servers[1].url)
    finally:
        for server in servers:
            server.stop()
    for bag in (renewed, once, never):
        assert check_seal(bag, authority.cert_path, tsa_certificate=authority.cert_path).problems == []

    def problems(bag: Path, at: dt.datetime) -> list[str]:
        return check_seal(bag, authority.cert_path, tsa_certificate=authority.cert_path, at=at).problems

    assert problems(renewed, Y2031) == [] and problems(renewed, Y2051) == []
    assert problems(once, Y2031) == []
    late = problems(once, Y2051)
    assert len(late) == 1 and late[0].startswith("evidence/0002.tsr: метка времени от")
    assert "«Служба меток времени 2» действовал до" in late[0] and "не были обновлены" in late[0]
    lapsed = problems(never, Y2031)
    assert any(p.startswith("evidence/0001.tsr:") and "действовал до" in p for p in lapsed), lapsed
    assert sorted(p.relative_to(renewed).as_posix() for p in (renewed / "evidence").iterdir()) == [
        f"evidence/{n:04d}{suffix}" for n in (1, 2, 3) for suffix in RECORD_FILES
    ]


def test_renewal_only_adds_files(
    pki: tuple[Authority, TsaServer], school: tuple[Path, Path], tmp_path: Path
) -> None:
    authority, tsa = pki
    bag = write_sample_bag(tmp_path)
    seal_bag(bag, *school, tsa_url=tsa.url, tsa_certificate=tsa.cert_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in bag.rglob("*") if p.is_file()}
    for path in before:
        path.chmod(0o444)
    added = renew_folder(bag, tsa.url)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before
    assert sorted(added) == sorted(f"evidence/0002{suffix}" for suffix in RECORD_FILES)
    covers = (bag / "evidence" / "0002-covers-sha512.txt").read_text()
    assert re.search(r"  evidence/0001\.tsr$", covers, re.M) and "data/" not in covers
    assert check_seal(bag, authority.cert_path, tsa_certificate=tsa.cert_path).problems == []
    assert not any(name.startswith(".") for name in os.listdir(bag / "evidence"))


GOST_KEY = b"""-----BEGIN PRIVATE KEY-----
MEYCAQAwHwYIKoUDBwEBAQEwEwYHKoUDAgIjAQYIKoUDBwEBAgIEIOgoIkOw2pGE
7DGRIcZiGDW0Cfn8JQEzX6vAMDVdXUFS
-----END PRIVATE KEY-----
"""
"""A GOST R 34.10-2012 (256-bit, paramset A) test key made with Debian's libengine-gost-openssl."""


def test_a_gost_key_is_refused_pointing_to_the_docs(school: tuple[Path, Path], tmp_path: Path) -> None:
    """docs/seal.md records what GOST lacks here: `cryptography` cannot load or sign with such keys."""
    key = tmp_path / "gost-key.pem"
    key.write_bytes(GOST_KEY)
    bag = write_sample_bag(tmp_path)
    with pytest.raises(SealError, match=r"gost-key\.pem: ключ не поддерживается .*docs/seal\.md"):
        seal_bag(bag, key, school[1])
    assert not (bag / SEAL_FILE).exists()
    assert "GOST R 34.10-2012" in DOCS.read_text(encoding="utf-8")
