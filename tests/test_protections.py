"""Faults injected behind the protections' backs: each test fails when its protection is removed.

- A folder target whose disk changes a file after it was written: the read-back in
  `replicate_bundle` must refuse the copy, and a bundle with no good copy is not archived (R7, R8).
- An S3 object replaced on the real SeaweedFS server between upload and the HEAD check:
  `_check_stored` must refuse the bundle before its completion marker makes it visible (R7, R9).
- External entities and DTDs given to the XML parser itself, past the DOCTYPE refusal:
  nothing outside the given bytes is read (R5, R10).

tools/mutation_check.py removes each protection in turn and expects these tests to fail.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lxml import etree

from documents import xml_format
from pipeline.archive import ArchiveStatus, archive_period_class
from pipeline.settings import Settings
from storage.catalog import list_bundles, open_catalog
from storage.filesystem import FilesystemTarget
from storage.s3 import LocalFile, S3Target
from storage.target import ReplicaStatus, StoredBundle, Target, replicate_bundle
from tests.bundles import folder_target, sample_key, write_sample_bag
from tests.homes import make_demo_home
from tests.s3server import S3Server

DAMAGED = "data/journal.pdf"
"""The file the faults hit: the one staff print and read."""
LOCKED_UNTIL = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
"""The sample bags say Retain-Until: 2030-12-31; the lock ends when that day is over in UTC."""


def flip_middle_byte(data: bytes) -> bytes:
    changed = bytearray(data)
    changed[len(changed) // 2] ^= 0x01
    return bytes(changed)


def cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


# --- folder targets: read-back after storing ------------------------------------------------


class DamagingFolderTarget(FilesystemTarget):
    """A folder on a failing disk: the stored bytes of DAMAGED change right after they were written."""

    def put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        stored = super().put_bundle(key, source_dir)
        path = self.root / key / DAMAGED
        path.chmod(0o644)
        path.write_bytes(flip_middle_byte(path.read_bytes()))
        path.chmod(0o444)
        return stored


def test_a_file_damaged_after_writing_to_a_folder_is_refused_by_the_read_back(tmp_path: Path) -> None:
    """R7, R8: a copy counts only once every file was read back and matched its manifests."""
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    targets = [folder_target("primary", tmp_path / "a"), DamagingFolderTarget("secondary", tmp_path / "b")]
    targets[1].init_root()
    replicas = replicate_bundle(targets, key, bag)
    assert [(r.target, r.status, r.problems) for r in replicas] == [
        ("primary", ReplicaStatus.VERIFIED, ()),
        (
            "secondary",
            ReplicaStatus.CORRUPT,
            (
                f"secondary: {key}/{DAMAGED}: контрольная сумма не совпадает "
                "(manifest-sha256.txt, manifest-sha512.txt)",
            ),
        ),
    ]


class DamagingDisks(Settings):
    """The home's settings with every folder target on a failing disk (a seam: Settings.targets)."""

    def targets(self) -> list[Target]:
        folders = [t for t in super().targets() if isinstance(t, FilesystemTarget)]
        return [DamagingFolderTarget(t.name, t.root) for t in folders]


def test_a_period_bundle_with_no_good_copy_is_not_archived(tmp_path: Path) -> None:
    """R1, R7: both copies damaged between writing and reading back: the class fails, none is catalogued."""
    settings = make_demo_home(tmp_path / "home")
    failing = DamagingDisks(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(Settings)})
    assert len(failing.targets()) == 2
    result = archive_period_class(failing, "2024/2025", "5А", "Q1")
    assert result.status == ArchiveStatus.FAILED
    assert dict(result.replicas) == {"primary": "corrupt", "secondary": "corrupt"}
    assert result.message.count(f"/{DAMAGED}: контрольная сумма не совпадает") == 2
    catalog = open_catalog(settings.catalog_path)
    try:
        assert list_bundles(catalog) == []
    finally:
        catalog.close()


# --- S3: the HEAD check before the completion marker -------------------------------------------


@pytest.fixture
def s3_client(s3_server: S3Server) -> Any:
    """A plain boto3 client with the server's keys: someone else writing to the bucket."""
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=s3_server.access_key_id,
        aws_secret_access_key=s3_server.secret_access_key,
        config=Config(retries={"max_attempts": 1}),
    )


class S3TargetOverwrittenAfterUpload(S3Target):
    """An S3 target whose uploads of DAMAGED are replaced on the server right after they succeed."""

    def __init__(self, *args: Any, overwrite: Callable[[str], None], **options: Any) -> None:
        super().__init__(*args, **options)
        self.overwrite = overwrite

    def _upload(self, key: str, local: LocalFile, until: dt.datetime) -> None:
        super()._upload(key, local, until)
        if local.relpath == DAMAGED:
            self.overwrite(self._object(key, local.relpath))


@pytest.mark.parametrize("damage", [flip_middle_byte, cut_in_half], ids=["altered", "truncated"])
def test_an_object_changed_on_the_server_before_the_head_check_is_refused(
    tmp_path: Path, s3_server: S3Server, s3_client: Any, damage: Callable[[bytes], bytes]
) -> None:
    """R7, R9: the marker is written only after every object's head matched; else the bundle is not stored."""
    bag = write_sample_bag(tmp_path / "work")
    key = sample_key(bag)
    bucket = f"test-{secrets.token_hex(6)}"
    original = (bag / DAMAGED).read_bytes()

    def overwrite(object_key: str) -> None:
        """A new, properly checksummed and locked version with other bytes: only its content is wrong."""
        body = damage(original)
        s3_client.put_object(
            Bucket=bucket,
            Key=object_key,
            Body=body,
            ChecksumSHA256=base64.b64encode(hashlib.sha256(body).digest()).decode(),
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=LOCKED_UNTIL,
        )

    cloud = S3TargetOverwrittenAfterUpload(
        "cloud",
        bucket,
        endpoint_url=s3_server.endpoint_url,
        access_key_id=s3_server.access_key_id,
        secret_access_key=s3_server.secret_access_key,
        overwrite=overwrite,
    )
    replicas = replicate_bundle([folder_target("primary", tmp_path / "primary"), cloud], key, bag)
    assert [(r.target, r.status, r.created) for r in replicas] == [
        ("primary", ReplicaStatus.VERIFIED, True),
        ("cloud", ReplicaStatus.MISSING, False),
    ]
    assert replicas[1].problems == (
        f"cloud (S3, корзина {bucket}): {key}/{DAMAGED} после записи не совпадает с исходным файлом",
    )
    assert not cloud.has_bundle(key)
    assert cloud.list_bundles() == []


# --- XML: the parser reads nothing but the given bytes --------------------------------------------


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A local file that must never find its way into a parsed document."""
    path = tmp_path / "secret.txt"
    path.write_text("SECRET-FROM-LOCAL-FILE", encoding="utf-8")
    return path


def test_an_external_entity_given_to_the_parser_stays_unresolved(secret_file: Path) -> None:
    """The second layer under the DOCTYPE refusal: the parser itself does not expand a file entity."""
    document = (
        f'<!DOCTYPE journal [<!ENTITY leak SYSTEM "{secret_file.as_uri()}">]><journal>&leak;</journal>'
    ).encode()
    root = etree.fromstring(document, xml_format._parser())
    assert root.text is None
    assert [(type(child).__name__, child.name) for child in root] == [("_Entity", "leak")]
    assert b"SECRET" not in etree.tostring(root)


def test_an_external_dtd_given_to_the_parser_is_not_loaded(tmp_path: Path) -> None:
    """A DTD named by a document is never read: entities it defines stay references."""
    dtd = tmp_path / "journal.dtd"
    dtd.write_text('<!ENTITY leak "SECRET-FROM-LOCAL-DTD">\n', encoding="utf-8")
    document = f'<!DOCTYPE journal SYSTEM "{dtd.as_uri()}"><journal>&leak;</journal>'.encode()
    root = etree.fromstring(document, xml_format._parser())
    assert root.getroottree().docinfo.externalDTD is None
    assert b"SECRET" not in etree.tostring(root)


def test_a_bundle_xsd_with_a_file_entity_is_not_expanded(tmp_path: Path) -> None:
    """A bundle's own journal.xsd is parsed without the DOCTYPE refusal; its entities still stay unread.

    Were the entity expanded, the schema would gain the element declaration held in the
    local file and the document would pass; unexpanded, the schema is not a valid XSD.
    """
    declaration = tmp_path / "declaration.xml"
    declaration.write_text(
        '<xs:element xmlns:xs="http://www.w3.org/2001/XMLSchema" name="journal"/>', encoding="utf-8"
    )
    xsd = (
        f'<!DOCTYPE xs:schema [<!ENTITY declaration SYSTEM "{declaration.as_uri()}">]>'
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">&declaration;</xs:schema>'
    ).encode()
    errors = xml_format.validate_journal_xml(b"<journal/>", xsd)
    assert len(errors) == 1
    assert errors[0].startswith(f"{xml_format.JOURNAL_XSD_NAME}: схема не читается")
