"""Evidence renewal on the storage targets adds files and rewrites none: read-only folders and
S3 Object Lock (COMPLIANCE) on a real SeaweedFS server (R7, R8, R9)."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from documents._exec.tsa_server import TsaServer
from documents.evidence import new_record, tag_paths
from documents.seal import check_seal, create_demo_signing_pair, seal_bag
from pipeline.evidence import read_tag_files
from storage.s3 import S3Target
from storage.target import StorageError, Target
from tests.bundles import SCHOOL_NAME, folder_target, sample_key, write_sample_bag
from tests.s3server import S3Server

LOCKED_UNTIL = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)  # the sample bag's Retain-Until 2030-12-31, to its end


@pytest.fixture(scope="module")
def signing_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return create_demo_signing_pair(tmp_path_factory.mktemp("keys"), SCHOOL_NAME, dt.date(2025, 6, 1))


def renew_stored(target: Target, key: str, tsa: TsaServer, tmp_path: Path) -> dict[str, bytes]:
    """What `evidence renew` does for one replica: the next record from the stored tag files, added."""
    folder = tmp_path / "tags"
    read_tag_files(target, key, folder)
    files = new_record(lambda path: (folder / path).read_bytes(), tag_paths(folder), tsa.url)
    target.add_files(key, files)
    return files


def stored_check(target: Target, key: str, tsa: TsaServer, tmp_path: Path) -> list[str]:
    folder = tmp_path / "check"
    read_tag_files(target, key, folder)
    return check_seal(folder, tsa_certificate=tsa.cert_path).problems  # type: ignore[attr-defined]


def test_a_read_only_folder_target_gets_new_files_only(
    tmp_path: Path, tsa: TsaServer, signing_pair: tuple[Path, Path]
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    seal_bag(bag, *signing_pair, tsa_url=tsa.url)
    target = folder_target("primary", tmp_path / "archive")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    stored = target.root / key
    before = {p: p.read_bytes() for p in stored.rglob("*") if p.is_file()}
    files = renew_stored(target, key, tsa, tmp_path)
    assert sorted(files) == [f"evidence/0002{s}" for s in ("-certs.pem", "-covers-sha512.txt", ".tsr")]
    assert {p: p.read_bytes() for p in before} == before
    for relpath in files:
        assert (stored / relpath).read_bytes() == files[relpath]
        assert (stored / relpath).stat().st_mode & 0o777 == 0o400
    assert stored.stat().st_mode & 0o777 == 0o500 and (stored / "evidence").stat().st_mode & 0o777 == 0o500
    with pytest.raises(StorageError, match=r"evidence/0002\.tsr уже есть"):
        target.add_files(key, {"evidence/0002.tsr": b"forged"})
    assert (stored / "evidence" / "0002.tsr").read_bytes() == files["evidence/0002.tsr"]
    assert stored_check(target, key, tsa, tmp_path) == []


@pytest.fixture
def s3_target(s3_server: S3Server) -> S3Target:
    return S3Target(
        "cloud",
        f"test-{secrets.token_hex(6)}",
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
    )


def test_an_object_lock_bucket_gets_new_locked_objects_and_nothing_is_rewritten(
    tmp_path: Path, tsa: TsaServer, signing_pair: tuple[Path, Path], s3_target: S3Target, s3_server: S3Server
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    seal_bag(bag, *signing_pair, tsa_url=tsa.url)
    key = sample_key(bag)
    s3_target.put_bundle(key, bag)
    files = renew_stored(s3_target, key, tsa, tmp_path)
    client: Any = boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )
    for relpath in files:
        head = client.head_object(Bucket=s3_target.bucket, Key=f"{key}/{relpath}")
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", LOCKED_UNTIL)
    with pytest.raises(StorageError, match="уже есть"):
        s3_target.add_files(key, {"seal.p7s": b"forged"})
    answer = client.list_object_versions(Bucket=s3_target.bucket, Prefix=f"{key}/")
    assert all(not v["Key"].endswith("seal.p7s") or v["IsLatest"] for v in answer["Versions"])
    assert len([v for v in answer["Versions"] if v["Key"].endswith("/seal.p7s")]) == 1  # one version, ours
    assert "evidence/0002.tsr" in list(s3_target.iter_files(key))
    assert stored_check(s3_target, key, tsa, tmp_path) == []
