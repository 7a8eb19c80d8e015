"""The S3 target against a real SeaweedFS server: locks, checksums, completeness, tampering (R7, R8, R9)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import random
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from documents.bag import bag_readme, write_bag
from storage.catalog import rebuild_catalog
from storage.retention import PERMANENTLY, RetentionClass
from storage.s3 import MARKER, MAX_ATTEMPTS, PERMANENT_LOCK, S3Target, composite_checksum, lock_until
from storage.target import (
    BundleExistsError,
    BundleNotFoundError,
    ReplicaStatus,
    RetentionError,
    StorageError,
    Target,
    replicate_bundle,
    verify_stored_bundle,
)
from storage.targets import targets_from_config
from tests.bundles import PAYLOAD, folder_target, sample_bag_info, sample_key, write_sample_bag
from tests.s3server import S3Server, free_ports

LOCKED_UNTIL = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
"""The sample bags say Retain-Until: 2030-12-31; the lock ends when that day is over in UTC."""

MakeTarget = Callable[..., S3Target]


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def s3_client(s3_server: S3Server) -> Any:
    """A plain boto3 client: what an administrator or an attacker with the keys could do."""
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def make_target(s3_server: S3Server) -> MakeTarget:
    """S3Target factory on the test server; each test gets a bucket of its own."""
    bucket = f"test-{secrets.token_hex(6)}"

    def make(name: str = "cloud", **options: Any) -> S3Target:
        options = {
            "bucket": bucket,
            "endpoint_url": s3_server.endpoint_url,
            "access_key_id": s3_server.access_key_id,
            "secret_access_key": s3_server.secret_access_key,
            **options,
        }
        return S3Target(name, options.pop("bucket"), **options)

    return make


def versions(client: Any, bucket: str, prefix: str = "") -> list[tuple[str, bool]]:
    """(key, is latest) of every object version under prefix, delete markers as ("…#deleted", …)."""
    answer = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    found = [(v["Key"], v["IsLatest"]) for v in answer.get("Versions", [])]
    found += [(v["Key"] + "#deleted", v["IsLatest"]) for v in answer.get("DeleteMarkers", [])]
    return sorted(found)


def test_lock_ends_after_the_retain_until_day_in_utc() -> None:
    assert lock_until(dt.date(2030, 12, 31)) == LOCKED_UNTIL
    part = hashlib.sha256(b"x").digest()
    assert composite_checksum([part, part]).endswith("-2")


def test_a_bundle_kept_permanently_is_locked_until_the_last_second_of_9999(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    """A destruction act's bundle (Retention-Class permanent, Retain-Until 9999-12-31): there is no day
    after 9999-12-31, so its objects are locked until 9999-12-31 23:59:59 UTC, and the server keeps it."""
    assert lock_until(PERMANENTLY) == PERMANENT_LOCK == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    info = dataclasses.replace(
        sample_bag_info(), retention_class=RetentionClass.PERMANENT.value, retain_until=PERMANENTLY
    )
    descriptions = {name: "Файл." for name in PAYLOAD}
    readme = bag_readme("Акт", info.external_identifier, descriptions, has_changes=False)
    bag = write_bag(tmp_path / "work" / info.external_identifier, PAYLOAD, info, readme)
    assert "Retain-Until: 9999-12-31" in (bag / "bag-info.txt").read_text(encoding="utf-8")
    target = make_target()
    key = sample_key(bag)
    target.put_bundle(key, bag)
    for relpath in [*target.iter_files(key), MARKER]:
        retention = s3_client.get_object_retention(Bucket=target.bucket, Key=f"{key}/{relpath}")["Retention"]
        assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": PERMANENT_LOCK}, relpath
    assert verify_stored_bundle(target, key) == []
    with pytest.raises(RetentionError):
        target.delete_bundle_if_expired(key, dt.date(9999, 12, 31), PERMANENTLY)


def test_put_bundle_stores_every_file_checksummed_and_locked(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = make_target()
    assert isinstance(target, Target)
    key = sample_key(bag)
    stored = target.put_bundle(key, bag)
    assert stored.created and "data/journal.pdf" in stored.files
    assert target.list_bundles() == [key]
    assert target.has_bundle(key)
    assert list(target.iter_files(key)) == list(stored.files)
    for relpath in stored.files:
        local = (bag / relpath).read_bytes()
        head = s3_client.head_object(Bucket=target.bucket, Key=f"{key}/{relpath}", ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == sha256_b64(local), relpath  # sent by us, checked by the server
        assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", LOCKED_UNTIL)
        assert target.read_file(key, relpath) == local
        assert target.stat(key, relpath).read_only
    retention = s3_client.get_object_retention(Bucket=target.bucket, Key=f"{key}/{MARKER}")["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": LOCKED_UNTIL}
    marker = target.read_file(key, MARKER).decode()
    assert f"{hashlib.sha256((bag / 'bagit.txt').read_bytes()).hexdigest()}  bagit.txt\n" in marker
    assert verify_stored_bundle(target, key) == []
    with pytest.raises(StorageError, match="cloud"):
        target.read_file(key, "../../../../etc/passwd")


def test_the_server_refuses_to_delete_or_shorten_a_locked_object(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = make_target()
    key = sample_key(bag)
    target.put_bundle(key, bag)
    name = f"{key}/data/journal.pdf"
    version = s3_client.head_object(Bucket=target.bucket, Key=name)["VersionId"]

    with pytest.raises(ClientError) as refused:
        s3_client.delete_object(Bucket=target.bucket, Key=name, VersionId=version)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    for mode, until in [
        ("COMPLIANCE", dt.datetime(2026, 12, 31, tzinfo=dt.UTC)),
        ("GOVERNANCE", LOCKED_UNTIL),
    ]:
        with pytest.raises(ClientError):
            s3_client.put_object_retention(
                Bucket=target.bucket,
                Key=name,
                VersionId=version,
                Retention={"Mode": mode, "RetainUntilDate": until},
                BypassGovernanceRetention=True,
            )
    retention = s3_client.get_object_retention(Bucket=target.bucket, Key=name, VersionId=version)
    assert retention["Retention"] == {"Mode": "COMPLIANCE", "RetainUntilDate": LOCKED_UNTIL}

    # Our own check first: the bag says Retain-Until 2030-12-31, whatever the caller says.
    with pytest.raises(RetentionError, match="2030-12-31 включительно"):
        target.delete_bundle_if_expired(key, dt.date(2030, 12, 31), dt.date(2025, 1, 1))
    # A caller whose clock is past the date gets past our check, but not past the server's lock.
    with pytest.raises(RetentionError, match="сервер не дал удалить"):
        target.delete_bundle_if_expired(key, dt.date(2031, 1, 2), dt.date(2030, 12, 31))
    assert target.list_bundles() == [key]
    assert verify_stored_bundle(target, key) == []


def test_a_bundle_is_deleted_with_all_its_versions_once_its_lock_has_ended(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = make_target()
    key = sample_key(bag)
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)).replace(microsecond=0)
    target._store(key, bag, until)  # what put_bundle does, with a lock of seconds instead of years
    s3_client.delete_object(Bucket=target.bucket, Key=f"{key}/README.txt")  # adds a delete marker
    time.sleep(max(0.0, (until - dt.datetime.now(dt.UTC)).total_seconds()) + 0.5)
    assert target.delete_bundle_if_expired(key, dt.date(2031, 1, 1), dt.date(2030, 12, 31))
    assert versions(s3_client, target.bucket) == []
    assert not target.has_bundle(key)
    assert not target.delete_bundle_if_expired(key, dt.date(2031, 1, 1), dt.date(2030, 12, 31))


def test_the_server_rejects_a_body_that_does_not_match_its_checksum(
    make_target: MakeTarget, s3_client: Any
) -> None:
    target = make_target()
    target.ensure_bucket()
    with pytest.raises(ClientError) as rejected:
        s3_client.put_object(
            Bucket=target.bucket, Key="x/forged", Body=b"forged", ChecksumSHA256=sha256_b64(b"original")
        )
    assert rejected.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert rejected.value.response["Error"]["Code"] == "BadDigest"
    upload = s3_client.create_multipart_upload(
        Bucket=target.bucket, Key="x/parts", ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(ClientError) as rejected:
        s3_client.upload_part(
            Bucket=target.bucket,
            Key="x/parts",
            UploadId=upload["UploadId"],
            PartNumber=1,
            Body=b"forged",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=sha256_b64(b"original"),
        )
    assert rejected.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert versions(s3_client, target.bucket) == []


def test_a_large_file_goes_up_in_checksummed_parts(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    part = 5 * 1024 * 1024
    big = random.Random(7).randbytes(2 * part + 1000)
    bag = write_sample_bag(tmp_path / "work", payload={"journal.pdf": b"%PDF small", "scans.bin": big})
    target = make_target(multipart_threshold=part, part_size=part)
    key = sample_key(bag)
    assert target.put_bundle(key, bag).created
    head = s3_client.head_object(Bucket=target.bucket, Key=f"{key}/data/scans.bin", ChecksumMode="ENABLED")
    digests = [hashlib.sha256(big[i : i + part]).digest() for i in range(0, len(big), part)]
    assert head["ChecksumSHA256"] == composite_checksum(digests)
    assert head["ChecksumSHA256"].endswith("-3") and head["ETag"].endswith('-3"')
    assert (head["ObjectLockMode"], head["ObjectLockRetainUntilDate"]) == ("COMPLIANCE", LOCKED_UNTIL)
    small = s3_client.head_object(Bucket=target.bucket, Key=f"{key}/data/journal.pdf", ChecksumMode="ENABLED")
    assert small["ChecksumSHA256"] == sha256_b64(b"%PDF small")
    assert verify_stored_bundle(target, key) == []
    assert not target.put_bundle(key, bag).created  # matched by the composite checksum
    # A target with another part size cannot compare checksums, so it compares bytes.
    assert not make_target(multipart_threshold=part, part_size=part + 1024).put_bundle(key, bag).created
    assert len(versions(s3_client, target.bucket, f"{key}/data/scans.bin")) == 1


def test_an_interrupted_write_is_invisible_and_completed_by_the_next_put(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = make_target()
    key = sample_key(bag)
    target.ensure_bucket()
    for relpath in ["bagit.txt", "data/journal.pdf"]:  # what a crash after two objects leaves
        body = (bag / relpath).read_bytes()
        s3_client.put_object(
            Bucket=target.bucket,
            Key=f"{key}/{relpath}",
            Body=body,
            ChecksumSHA256=sha256_b64(body),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=LOCKED_UNTIL,
        )
    assert not target.has_bundle(key)
    assert target.list_bundles() == []
    with pytest.raises(BundleNotFoundError):
        list(target.iter_files(key))
    assert verify_stored_bundle(target, key) == [f"cloud: пакет {key} не найден"]
    replicas = replicate_bundle([target], key, bag)
    assert [(r.status, r.created) for r in replicas] == [(ReplicaStatus.VERIFIED, True)]
    assert target.list_bundles() == [key]
    assert len(versions(s3_client, target.bucket, f"{key}/data/journal.pdf")) == 1  # kept, not sent again

    other = write_sample_bag(tmp_path / "other", payload={"journal.pdf": b"%PDF changed"})
    half = sample_key(other).replace("school-7", "school-8")
    body = (other / "data/journal.pdf").read_bytes()
    s3_client.put_object(Bucket=target.bucket, Key=f"{half}/data/journal.pdf", Body=body)
    with pytest.raises(BundleExistsError, match="прерванной записью с другим содержимым"):
        target.put_bundle(half, bag)
    assert not target.has_bundle(half)


def test_putting_the_same_bundle_again_is_a_no_op_and_a_different_one_is_refused(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    target = make_target()
    key = sample_key(bag)
    target.put_bundle(key, bag)
    before = versions(s3_client, target.bucket)
    assert not make_target().put_bundle(key, bag).created  # a fresh target object: nothing cached
    assert versions(s3_client, target.bucket) == before

    other = write_sample_bag(tmp_path / "other", payload={"journal.pdf": b"%PDF changed"})
    with pytest.raises(BundleExistsError, match="уже записан с другим содержимым"):
        target.put_bundle(key, other)
    assert versions(s3_client, target.bucket) == before
    assert target.read_file(key, "data/journal.pdf") == (bag / "data/journal.pdf").read_bytes()


def test_a_new_version_over_a_locked_one_is_caught_by_verification_and_repaired(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    """Object Lock keeps old versions; anyone with write access can still add a current one."""
    bag = write_sample_bag(tmp_path / "work")
    target = make_target("secondary")
    key = sample_key(bag)
    target.put_bundle(key, bag)
    pdf, csv = f"{key}/data/journal.pdf", f"{key}/data/csv/marks.csv"
    original = s3_client.head_object(Bucket=target.bucket, Key=pdf)["VersionId"]
    s3_client.put_object(Bucket=target.bucket, Key=pdf, Body=b"%PDF forged")  # a new, unlocked version
    s3_client.delete_object(Bucket=target.bucket, Key=csv)  # a delete marker hides the locked version
    readme = f"{key}/README.txt"  # the same bytes again, but unlocked
    s3_client.put_object(Bucket=target.bucket, Key=readme, Body=(bag / "README.txt").read_bytes())

    problems = verify_stored_bundle(target, key)
    assert (
        f"secondary: {pdf}: контрольная сумма не совпадает (manifest-sha256.txt, manifest-sha512.txt)"
        in problems
    )
    assert f"secondary: {pdf}: файл доступен для изменения" in problems
    assert any(p.startswith(f"secondary: {csv}: файл отсутствует") for p in problems)
    assert f"secondary: {readme}: файл доступен для изменения" in problems
    assert not any(p.startswith(f"secondary: {readme}: контрольная") for p in problems)
    assert target.read_file(key, "data/journal.pdf") == b"%PDF forged"  # reads take the current version
    kept = s3_client.get_object(Bucket=target.bucket, Key=pdf, VersionId=original)["Body"].read()
    assert kept == (bag / "data/journal.pdf").read_bytes()  # the locked version is still there

    assert target.replace_bundle(key, bag).created
    assert verify_stored_bundle(target, key) == []
    assert [latest for _, latest in versions(s3_client, target.bucket, pdf)] == [False, False, True]
    assert target.stat(key, "README.txt").read_only


def test_an_unreachable_store_fails_fast_and_the_other_target_still_gets_the_bundle(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    (closed,) = free_ports(1)
    cloud = S3Target(
        "cloud",
        "journals",
        endpoint_url=f"http://127.0.0.1:{closed}",
        access_key_id="a",
        secret_access_key="b",
    )
    with pytest.raises(StorageError) as failure:
        cloud.put_bundle(key, bag)
    message = str(failure.value)
    assert message.startswith("cloud (S3, корзина journals): ") and "нет связи с сервером" in message
    assert "\n" not in message
    replicas = replicate_bundle([folder_target("primary", tmp_path / "primary"), cloud], key, bag)
    assert [(r.target, r.status) for r in replicas] == [
        ("primary", ReplicaStatus.VERIFIED),
        ("cloud", ReplicaStatus.MISSING),
    ]
    assert "нет связи" in replicas[1].problems[0]


def test_a_store_that_stops_answering_costs_one_timeout_per_run(tmp_path: Path) -> None:
    bag = write_sample_bag(tmp_path / "work")
    with socket.create_server(("127.0.0.1", 0)) as hung:  # accepts connections, never answers
        cloud = S3Target(
            "cloud",
            "journals",
            endpoint_url=f"http://127.0.0.1:{hung.getsockname()[1]}",
            access_key_id="a",
            secret_access_key="b",
            read_timeout=0.5,
        )
        hung.setblocking(False)
        with pytest.raises(StorageError, match="сервер не ответил вовремя"):
            cloud.put_bundle(sample_key(bag), bag)
        assert connections_waiting(hung) == MAX_ATTEMPTS  # one request, retried once, then given up
        with pytest.raises(StorageError, match="сервер не ответил вовремя"):
            cloud.has_bundle(sample_key(bag))
        assert connections_waiting(hung) == 0  # answered at once, without asking the store again


def connections_waiting(server: socket.socket) -> int:
    """Accept and close every connection made to a listening socket since the last call; how many."""
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


def test_wrong_keys_a_missing_bucket_and_a_bucket_without_lock_are_refused_clearly(
    tmp_path: Path, make_target: MakeTarget, s3_client: Any
) -> None:
    bag = write_sample_bag(tmp_path / "work")
    with pytest.raises(
        StorageError, match=r"^cloud \(S3, корзина .*\): .*(ключ доступа не принят|доступ запрещён)"
    ):
        make_target(secret_access_key="wrong").list_bundles()

    missing = make_target()
    with pytest.raises(StorageError, match="корзина не найдена"):
        missing.list_bundles()
    missing.ensure_bucket()  # creates it, with Object Lock
    lock = s3_client.get_object_lock_configuration(Bucket=missing.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    assert missing.list_bundles() == []

    s3_client.create_bucket(Bucket="plain-" + missing.bucket)
    plain = make_target(bucket="plain-" + missing.bucket)
    with pytest.raises(StorageError, match="не включена блокировка объектов"):
        plain.put_bundle(sample_key(bag), bag)
    assert versions(s3_client, plain.bucket) == []


def test_configuration_mixes_a_folder_and_a_bucket(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JA_S3_KEY", s3_server.access_key_id)
    monkeypatch.setenv("JA_S3_SECRET", s3_server.secret_access_key)
    cloud = {
        "name": "cloud",
        "type": "s3",
        "bucket": f"config-{secrets.token_hex(4)}",
        "prefix": "journals/",
        "endpoint_url": s3_server.endpoint_url,
        "access_key_id_env": "JA_S3_KEY",
        "secret_access_key_env": "JA_S3_SECRET",
    }
    folder = {"name": "primary", "type": "filesystem", "path": "archive/primary"}
    targets = targets_from_config([folder, cloud], tmp_path)
    assert [type(t).__name__ for t in targets] == ["FilesystemTarget", "S3Target"]
    targets[0].init_root()  # type: ignore[attr-defined]  # what `targets init primary` does
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    assert [r.status for r in replicate_bundle(targets, key, bag)] == [ReplicaStatus.VERIFIED] * 2
    assert targets[1].list_bundles() == [key]
    assert rebuild_catalog(tmp_path / "catalog.sqlite", targets, verify=True) == []

    monkeypatch.delenv("JA_S3_NONE", raising=False)
    without_secret = {k: v for k, v in cloud.items() if k != "secret_access_key_env"}
    refusals = [
        ("JA_S3_NONE", [folder, {**cloud, "secret_access_key_env": "JA_S3_NONE"}]),
        ("ключи доступа в файле настроек не хранятся", [folder, {**cloud, "secret_access_key": "plain"}]),
        ("задаются вместе", [folder, without_secret]),
        ("R8", [cloud]),
        ("пересекаются", [cloud, {**cloud, "name": "cloud-2", "prefix": "journals/school-7"}]),
        ("одним именем", [cloud, {**cloud, "prefix": "other"}]),
    ]
    for expected, entries in refusals:
        with pytest.raises(StorageError, match=expected):
            targets_from_config(entries, tmp_path)
    assert len(targets_from_config([cloud, {**cloud, "name": "cloud-2", "prefix": "copy"}], tmp_path)) == 2
