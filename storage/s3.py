"""A storage target in any S3-compatible store, with Object Lock (R7, R8, R9).

A bundle is the set of objects `<prefix><school>/<year>/<class>/<bundle-id>/<relpath>`
plus a completion marker `…/<bundle-id>/.bundle-complete` written last. The
marker holds the SHA-256 of every file in the manifest format (`<hex>  <path>`);
`has_bundle` and `list_bundles` see a bundle only once its marker is there, and the
marker is written only after every object was read back by HEAD: present, with the
SHA-256 the server verified on upload, and locked.

Locks. Every object (the marker too) is written with Object Lock in COMPLIANCE mode
until the bundle's own `Retain-Until` (bag-info.txt) is over: the lock ends at
00:00:00 UTC of the following day, which is after that day's end in every Russian
time zone (UTC+2…UTC+12). In COMPLIANCE mode nobody, the bucket owner included, can
delete a locked object version or shorten its lock before then. The bucket must
have Object Lock enabled, which also turns versioning on.

What a lock does not stop. In a versioned bucket anyone allowed to write can put a
*new* version over a locked one, or a delete marker that hides it; the locked version
stays and can be read by its version id, but plain reads (ours too) take the current
version. Such tampering is caught by verification: `verify_stored_bundle` reads the
current versions against the bag's manifests, and `stat` reports a current version
that is not locked as changeable. `replace_bundle` repairs it from a verified copy.

Checksums. Each object is sent with `ChecksumSHA256` computed here before upload, so
the server refuses a body that does not match (400 BadDigest). Files above the
multipart threshold go up in parts, each with its own SHA-256; S3 then reports the
composite checksum `base64(sha256(part digests…))-<parts>`, which we compute too.

Failures. Every request has short timeouts and few retries, so an unreachable store
fails within seconds and the archive goes on with the other targets (R8). Every
failure is a `StorageError` whose one-line Russian message names the target and bucket.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar, cast

from boto3.session import Session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.bagformat import BAG_INFO_FILE, BagFormatError, Label, format_manifest, parse_bag_info
from storage.layout import LayoutError, check_key, check_relpath
from storage.retention import PERMANENTLY
from storage.target import (
    BundleExistsError,
    BundleNotFoundError,
    FileStat,
    RetentionError,
    StorageError,
    StoredBundle,
    declared_retain_until,
    refuse_before_retention_ends,
    refuse_taken_names,
    source_files,
)

MARKER = ".bundle-complete"
"""The object written last under a bundle's key: the bundle is complete once it exists."""
MIB = 1 << 20
MIN_PART_SIZE = 5 * MIB
"""S3's smallest part (every part but the last)."""
DEFAULT_PART_SIZE = 8 * MIB
LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
"""GOVERNANCE locks can be lifted by anyone with s3:BypassGovernanceRetention; only COMPLIANCE counts
as read-only in `stat` (and so in verification)."""
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 20.0
MAX_ATTEMPTS = 2
"""Total attempts per request (the first included)."""
DOWN_FOR = 300.0
"""Seconds a target that could not be reached answers every request at once with the same error,
so a run with many bundles loses one timeout to a hung store, not one per request."""

CONFIG_KEYS = frozenset(
    {
        "name",
        "type",
        "bucket",
        "prefix",
        "endpoint_url",
        "region",
        "profile",
        "access_key_id_env",
        "secret_access_key_env",
        "lock_mode",
    }
)
SECRET_KEYS = frozenset(
    {"access_key_id", "secret_access_key", "aws_access_key_id", "aws_secret_access_key", "password", "secret"}
)

T = TypeVar("T")


class S3RequestError(StorageError):
    """A request the S3 server refused; `code` and `status` are the server's ("" and 0 if none)."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


PERMANENT_LOCK = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
"""The lock of a bundle kept permanently (Retain-Until 9999-12-31, e.g. a destruction act): the last
second S3's timestamps can say — there is no «day after» 9999-12-31."""


def lock_until(retain_until: dt.date) -> dt.datetime:
    """When the lock of a bundle kept through `retain_until` ends: 00:00 UTC the day after;
    PERMANENT_LOCK for a bundle kept permanently."""
    if retain_until >= PERMANENTLY:
        return PERMANENT_LOCK
    return dt.datetime.combine(retain_until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def composite_checksum(part_digests: list[bytes]) -> str:
    """The SHA-256 checksum S3 reports for a multipart object: over the parts' raw digests, then "-N"."""
    joined = hashlib.sha256(b"".join(part_digests)).digest()
    return f"{_b64(joined)}-{len(part_digests)}"


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file of the bundle being stored, hashed once before upload."""

    relpath: str
    path: Path
    size: int
    sha256: bytes  # of the whole file
    part_digests: tuple[bytes, ...]  # SHA-256 of each part when uploaded in parts, else ()

    @property
    def checksum(self) -> str:
        """The ChecksumSHA256 the server will report for this object."""
        if self.part_digests:
            return composite_checksum(list(self.part_digests))
        return _b64(self.sha256)


class S3Target:
    """Bundles as locked objects in an S3 bucket: `<prefix>school/year/class/bundle-id/…`.

    Credentials are the given keys, else the named AWS profile, else boto3's usual chain
    (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles). `endpoint_url`
    points at a non-AWS store (SeaweedFS, MinIO, …), which is then addressed path-style.
    """

    def __init__(
        self,
        name: str,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        profile: str | None = None,
        lock_mode: str = "COMPLIANCE",
        multipart_threshold: int = DEFAULT_PART_SIZE,
        part_size: int = DEFAULT_PART_SIZE,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.name = name
        self.bucket = bucket
        self.prefix = _normal_prefix(name, prefix)
        self.endpoint_url = endpoint_url
        self.region = region
        if lock_mode not in LOCK_MODES:
            raise StorageError(
                f"{name}: неизвестный режим блокировки «{lock_mode}» (есть: {', '.join(LOCK_MODES)})"
            )
        self.lock_mode = lock_mode
        if part_size < MIN_PART_SIZE:
            raise StorageError(f"{name}: часть составной загрузки не может быть меньше {MIN_PART_SIZE} байт")
        self.part_size = part_size
        self.multipart_threshold = max(multipart_threshold, 1)
        self._credentials = (access_key_id, secret_access_key, profile)
        self._config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            request_checksum_calculation="when_required",  # we send our own SHA-256
            response_checksum_validation="when_required",  # reads are checked against the manifests
        )
        self._client: Any = None
        self._bucket_ready = False
        self._down: tuple[float, str] | None = None  # (monotonic time until, reason) after a lost connection

    def __repr__(self) -> str:
        return f"S3Target({self.name!r}, {self.bucket!r}, {self.prefix!r}, {self.endpoint_url!r})"

    @property
    def keeps_damaged_versions(self) -> bool:
        """Locked versions cannot be removed: a repair covers them with new ones, they stay in the history."""
        return True

    @property
    def where(self) -> str:
        """The store as people name it in messages: "cloud (S3, корзина journals)"."""
        return f"{self.name} (S3, корзина {self.bucket})"

    # --- the bucket -----------------------------------------------------------------

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if it is missing; refuse a bucket without Object Lock.

        Writing calls this once per target object, so a new bucket appears on the first
        archive run. Object Lock cannot be trusted to be switchable later on every
        store, so an existing bucket without it is refused rather than changed.
        """
        if self._bucket_ready:
            return
        try:
            self._call("проверка корзины", lambda: self.client.head_bucket(Bucket=self.bucket))
        except S3RequestError as error:
            if error.status != 404:
                raise
            options: dict[str, Any] = {"Bucket": self.bucket, "ObjectLockEnabledForBucket": True}
            if self.region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
            self._call("создание корзины с Object Lock", lambda: self.client.create_bucket(**options))
        try:
            answer = self._call(
                "проверка Object Lock",
                lambda: self.client.get_object_lock_configuration(Bucket=self.bucket),
            )
            enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
        except S3RequestError as error:
            if error.code != "ObjectLockConfigurationNotFoundError" and error.status != 404:
                raise
            enabled = False
        if not enabled:
            raise StorageError(
                f"{self.where}: у корзины не включена блокировка объектов (Object Lock); без неё пакеты "
                "можно удалить или изменить — создайте новую корзину с Object Lock"
            )
        self._bucket_ready = True

    # --- writing --------------------------------------------------------------------

    def put_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Store a bundle locked until its Retain-Until is over; no-op if identical, refuse if different.

        Objects left by an interrupted earlier write (no marker yet) are kept when they
        match the bundle and the rest is added; a mismatch is refused, as they are locked.
        """
        check = self._key(key)
        source_dir = Path(source_dir)
        return self._store(check, source_dir, lock_until(self._source_retain_until(key, source_dir)))

    def replace_bundle(self, key: str, source_dir: Path) -> StoredBundle:
        """Repair (R7): make the current versions match a verified copy of the bundle.

        Locked versions cannot be removed, so a damaged or missing file gets a new,
        locked current version; an object that is not part of the bundle is hidden by
        a delete marker. The damaged versions stay in the bucket's history.
        """
        check = self._key(key)
        source_dir = Path(source_dir)
        until = lock_until(self._source_retain_until(key, source_dir))
        return self._store(check, source_dir, until, repair=True)

    def _store(self, key: str, source_dir: Path, until: dt.datetime, *, repair: bool = False) -> StoredBundle:
        try:
            return self._store_files(key, source_dir, until, repair)
        except OSError as error:  # reading the bundle being stored
            raise StorageError(f"{self.where}: не удалось записать пакет {key}: {error}") from error

    def _store_files(self, key: str, source_dir: Path, until: dt.datetime, repair: bool) -> StoredBundle:
        files = self._local_files(source_dir)
        if until.microsecond:  # stores keep whole seconds: round up, never down
            until = until.replace(microsecond=0) + dt.timedelta(seconds=1)
        now = dt.datetime.now(dt.UTC)
        if until <= now:
            raise StorageError(
                f"{self.where}: срок хранения пакета {key} уже закончился ({until:%Y-%m-%d %H:%M} UTC); "
                "заблокировать его нельзя"
            )
        self.ensure_bucket()
        existing = self._current_objects(key)
        marker_there = MARKER in existing
        if marker_there and not repair:
            self._refuse_if_different(key, files, existing, "уже записан с другим содержимым")
            return StoredBundle(self.name, key, tuple(f.relpath for f in files), created=False)
        if not repair:
            self._refuse_if_different(key, files, existing, "начат прерванной записью с другим содержимым")
        wanted = {f.relpath for f in files}
        for relpath in sorted(set(existing) - wanted - {MARKER}):  # repair only: not part of the bundle
            self._call(f"скрытие лишнего объекта {key}/{relpath}", lambda r=relpath: self._delete(key, r))
        changed = False
        for local in files:
            listed = existing.get(local.relpath)
            if listed and self._matches(key, local, listed) and self._locked(key, local.relpath, until):
                continue
            self._upload(key, local, until)
            changed = True
        self._check_stored(key, files, until)
        marker = format_manifest({f.relpath: f.sha256.hex() for f in files})
        if not marker_there or not self._marker_matches(key, marker):
            self._put_small(key, MARKER, marker, until)
            changed = True
        return StoredBundle(self.name, key, tuple(f.relpath for f in files), created=changed)

    def _local_files(self, source_dir: Path) -> list[LocalFile]:
        relpaths = source_files(source_dir)
        if MARKER in relpaths:
            raise StorageError(f"{source_dir}: имя {MARKER} занято хранилищем S3, в пакете его быть не может")
        return [self._hash_file(relpath, source_dir / relpath) for relpath in relpaths]

    def _hash_file(self, relpath: str, path: Path) -> LocalFile:
        whole = hashlib.sha256()
        parts: list[bytes] = []
        size = path.stat().st_size
        with path.open("rb") as stream:
            while chunk := stream.read(self.part_size):
                whole.update(chunk)
                parts.append(hashlib.sha256(chunk).digest())
        multipart = size > self.multipart_threshold and len(parts) > 1
        return LocalFile(relpath, path, size, whole.digest(), tuple(parts) if multipart else ())

    def _source_retain_until(self, key: str, source_dir: Path) -> dt.date:
        """The bag's own Retain-Until: the lock and the bag can never disagree."""
        try:
            value = parse_bag_info((source_dir / BAG_INFO_FILE).read_bytes())[Label.RETAIN_UNTIL]
            return dt.date.fromisoformat(value)
        except (OSError, BagFormatError, KeyError, ValueError) as error:
            raise StorageError(
                f"{self.where}: у пакета {key} не читается срок хранения (Retain-Until в {BAG_INFO_FILE}); "
                "без него пакет нельзя заблокировать"
            ) from error

    def _upload(self, key: str, local: LocalFile, until: dt.datetime) -> None:
        if local.part_digests:
            self._upload_parts(key, local, until)
        else:
            self._put_small(key, local.relpath, local.path.read_bytes(), until, local.checksum)

    def add_files(self, key: str, files: Mapping[str, bytes]) -> None:
        """New objects only, each locked in COMPLIANCE mode until the bundle's Retain-Until, with a
        server-checked SHA-256, and read back."""
        refuse_taken_names(self, key, files)
        until = lock_until(declared_retain_until(self, key, self.where))
        for relpath, data in files.items():
            self._put_small(key, relpath, data, until)
            if self.read_file(key, relpath) != data:
                raise StorageError(f"{self.where}: {key}/{relpath} записан с ошибкой")

    def _put_small(
        self, key: str, relpath: str, body: bytes, until: dt.datetime, checksum: str | None = None
    ) -> None:
        checksum = checksum or _b64(hashlib.sha256(body).digest())
        self._call(
            f"не удалось записать {key}/{relpath}",
            lambda: self.client.put_object(
                Bucket=self.bucket,
                Key=self._object(key, relpath),
                Body=body,
                ChecksumSHA256=checksum,
                ObjectLockMode=self.lock_mode,
                ObjectLockRetainUntilDate=until,
            ),
        )

    def _upload_parts(self, key: str, local: LocalFile, until: dt.datetime) -> None:
        name = self._object(key, local.relpath)
        what = f"не удалось записать {key}/{local.relpath} по частям"
        upload = self._call(
            what,
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                ChecksumAlgorithm="SHA256",
                ObjectLockMode=self.lock_mode,
                ObjectLockRetainUntilDate=until,
            ),
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            with local.path.open("rb") as stream:
                for number, digest in enumerate(local.part_digests, start=1):
                    body = stream.read(self.part_size)
                    answer = self._call(
                        what,
                        lambda body=body, number=number, digest=digest: self.client.upload_part(
                            Bucket=self.bucket,
                            Key=name,
                            UploadId=upload_id,
                            PartNumber=number,
                            Body=body,
                            ChecksumAlgorithm="SHA256",
                            ChecksumSHA256=_b64(digest),
                        ),
                    )
                    parts.append(
                        {"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": _b64(digest)}
                    )
            self._call(
                what,
                lambda: self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                ),
            )
        except BaseException:
            # The store drops abandoned uploads itself; the first error is the one to report.
            with contextlib.suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
            raise

    def _check_stored(self, key: str, files: list[LocalFile], until: dt.datetime) -> None:
        """Read every object's head back: exactly the bundle's files, each with our checksum and locked."""
        present = set(self._current_objects(key)) - {MARKER}
        wanted = {f.relpath for f in files}
        if present != wanted:
            odd = sorted(present ^ wanted)[0]
            raise StorageError(f"{self.where}: после записи пакета {key} состав объектов не совпал ({odd})")
        for local in files:
            head = self._head(key, local.relpath) or {}
            place = f"{self.where}: {key}/{local.relpath}"
            if (head.get("ChecksumSHA256"), head.get("ContentLength")) != (local.checksum, local.size):
                raise StorageError(f"{place} после записи не совпадает с исходным файлом")
            locked_until = head.get("ObjectLockRetainUntilDate")
            if head.get("ObjectLockMode") != self.lock_mode or locked_until is None:
                raise StorageError(f"{place} записан без блокировки (Object Lock)")
            if locked_until < until:
                raise StorageError(
                    f"{place} заблокирован только до {locked_until:%Y-%m-%d %H:%M}, "
                    f"а нужно до {until:%Y-%m-%d %H:%M} UTC"
                )

    def _refuse_if_different(
        self, key: str, files: list[LocalFile], existing: Mapping[str, Mapping[str, Any]], what: str
    ) -> None:
        by_path = {f.relpath: f for f in files}
        stored = sorted(set(existing) - {MARKER})
        complete = MARKER in existing
        differing = next((p for p in stored if p not in by_path), None)
        if differing is None and complete:
            differing = next((p for p in sorted(by_path) if p not in existing), None)
        if differing is None:
            differing = next((p for p in stored if not self._matches(key, by_path[p], existing[p])), None)
        if differing is not None:
            raise BundleExistsError(
                f"{self.where}: пакет {key} {what} ({differing}); записанные объекты заблокированы и не "
                "изменяются — нужна новая версия пакета"
            )

    def _matches(self, key: str, local: LocalFile, listed: Mapping[str, Any]) -> bool:
        """Whether a stored object holds the local file: by the server's checksum, else by reading it."""
        if listed.get("Size") != local.size:
            return False
        head = self._head(key, local.relpath)
        if head is None:
            return False
        remote = head.get("ChecksumSHA256")
        if remote == local.checksum:
            return True
        if remote and "-" not in remote:
            return False  # a whole-object checksum that differs
        hasher = hashlib.sha256()  # no checksum, or parts of another size: compare the bytes
        with self.open_file(key, local.relpath) as stream:
            while chunk := stream.read(MIB):
                hasher.update(chunk)
        return hasher.digest() == local.sha256

    def _locked(self, key: str, relpath: str, until: dt.datetime) -> bool:
        """Whether the current version is locked in our mode at least until `until`."""
        head = self._head(key, relpath) or {}
        locked_until = head.get("ObjectLockRetainUntilDate")
        return (
            head.get("ObjectLockMode") == self.lock_mode
            and locked_until is not None
            and locked_until >= until
        )

    def _marker_matches(self, key: str, marker: bytes) -> bool:
        try:
            return self.read_file(key, MARKER) == marker
        except FileNotFoundError:
            return False

    # --- deleting -------------------------------------------------------------------

    def delete_bundle_if_expired(self, key: str, today: dt.date, retain_until: dt.date) -> bool:
        """Delete every version of a bundle's objects after its retain-until date, marker first.

        We refuse before the later of the given date and the bundle's own Retain-Until;
        the server refuses too while any version is locked (RetentionError either way).
        """
        if not self.has_bundle(key):
            return False
        refuse_before_retention_ends(self, key, today, retain_until, self.where)
        versions = self._versions(key)
        versions.sort(key=lambda v: (v[0] != self._object(key, MARKER), v[0], v[1]))
        for object_key, version_id in versions:
            try:
                self._call(
                    f"не удалось удалить {object_key}",
                    lambda o=object_key, v=version_id: self.client.delete_object(
                        Bucket=self.bucket, Key=o, VersionId=v
                    ),
                )
            except S3RequestError as error:
                if error.status != 403:
                    raise
                raise RetentionError(
                    f"{self.where}: сервер не дал удалить пакет {key}: "
                    "объекты ещё заблокированы (Object Lock)"
                ) from error
        return True

    def _versions(self, key: str) -> list[tuple[str, str]]:
        """(object key, version id) of every version and delete marker under the bundle's key."""
        pages = self._call(
            f"не читается список версий пакета {key}",
            lambda: list(
                self.client.get_paginator("list_object_versions").paginate(
                    Bucket=self.bucket, Prefix=self._object(key, "")
                )
            ),
        )
        found = []
        for page in pages:
            for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                found.append((entry["Key"], entry["VersionId"]))
        return found

    def _delete(self, key: str, relpath: str) -> None:
        """Hide the current version behind a delete marker (versioned bucket: nothing is destroyed)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key, relpath))

    # --- reading --------------------------------------------------------------------

    def has_bundle(self, key: str) -> bool:
        return self._head(self._key(key), MARKER) is not None

    def list_bundles(self) -> list[str]:
        suffix = "/" + MARKER
        keys = []
        for object_key in self._list(self.prefix):
            if object_key.endswith(suffix):
                try:
                    keys.append(check_key(object_key[len(self.prefix) : -len(suffix)]))
                except LayoutError:
                    continue
        return sorted(keys)

    def iter_files(self, key: str) -> Iterator[str]:
        if not self.has_bundle(key):
            raise BundleNotFoundError(f"{self.where}: пакет {key} не найден")
        yield from sorted(set(self._current_objects(key)) - {MARKER})

    def open_file(self, key: str, relpath: str) -> BinaryIO:
        """The current version of a file, streamed."""
        name = self._object(self._key(key), relpath)
        try:
            answer = self._call(
                f"не читается {key}/{relpath}", lambda: self.client.get_object(Bucket=self.bucket, Key=name)
            )
        except S3RequestError as error:
            if error.status == 404:
                raise FileNotFoundError(f"{self.where}: нет файла {key}/{relpath}") from error
            raise
        return cast(BinaryIO, answer["Body"])

    def read_file(self, key: str, relpath: str) -> bytes:
        with self.open_file(key, relpath) as stream:
            return stream.read()

    def stat(self, key: str, relpath: str) -> FileStat:
        """Size, and read-only when the current version is under a COMPLIANCE lock that has not ended."""
        head = self._head(self._key(key), relpath)
        if head is None:
            raise FileNotFoundError(f"{self.where}: нет файла {key}/{relpath}")
        until = head.get("ObjectLockRetainUntilDate")
        now = dt.datetime.now(dt.UTC)
        locked = head.get("ObjectLockMode") == "COMPLIANCE" and until is not None and until > now
        return FileStat(size=head["ContentLength"], read_only=locked)

    def stat_files(self, key: str) -> dict[str, FileStat]:
        return {path: self.stat(key, path) for path in self.iter_files(key)}

    # --- requests -------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            access_key_id, secret_access_key, profile = self._credentials
            try:
                session = Session(
                    aws_access_key_id=access_key_id,
                    aws_secret_access_key=secret_access_key,
                    profile_name=profile,
                    region_name=self.region,
                )
                self._client = session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
            except (BotoCoreError, ValueError) as error:
                raise StorageError(f"{self.where}: не удалось настроить доступ: {error}") from error
        return self._client

    def _call(self, what: str, request: Callable[[], T]) -> T:
        """Run one request; any failure becomes a one-line StorageError naming target, bucket and action.

        After a connection failure or timeout the target stays down for DOWN_FOR seconds:
        requests fail at once with that reason instead of waiting for the timeouts again.
        """
        if self._down is not None and time.monotonic() < self._down[0]:
            raise S3RequestError(f"{self.where}: {what}: {self._down[1]}")
        try:
            return request()
        except ClientError as error:
            info = error.response.get("Error", {})
            code = str(info.get("Code", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            reason = self._explain(code, status, info)
            raise S3RequestError(f"{self.where}: {what}: {reason}", code, status) from error
        except (EndpointConnectionError, BotoConnectionError) as error:
            reason = f"нет связи с сервером {self.endpoint_url or 'AWS'} ({_one_line(error)})"
            self._down = (time.monotonic() + DOWN_FOR, reason)
            raise S3RequestError(f"{self.where}: {what}: {reason}") from error
        except ReadTimeoutError as error:
            reason = f"сервер не ответил вовремя ({_one_line(error)})"
            self._down = (time.monotonic() + DOWN_FOR, reason)
            raise S3RequestError(f"{self.where}: {what}: {reason}") from error
        except NoCredentialsError as error:
            raise S3RequestError(
                f"{self.where}: {what}: не заданы ключи доступа (переменные окружения или профиль AWS)"
            ) from error
        except BotoCoreError as error:
            raise S3RequestError(f"{self.where}: {what}: {_one_line(error)}") from error

    def _explain(self, code: str, status: int, info: Mapping[str, Any]) -> str:
        if code == "NoSuchBucket":
            return "корзина не найдена"
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return f"ключ доступа не принят сервером ({code})"
        if code == "AccessDenied" or status == 403:
            return f"доступ запрещён ({code or status})"
        if code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
            return f"сервер отверг данные: контрольная сумма не совпала ({code})"
        message = _one_line(str(info.get("Message", "")))
        return f"ошибка сервера {code or status}" + (f": {message}" if message else "")

    def _head(self, key: str, relpath: str) -> dict[str, Any] | None:
        """The object's head with its checksum, or None if there is no current version."""
        try:
            return self._call(
                f"не читается {key}/{relpath}",
                lambda: self.client.head_object(
                    Bucket=self.bucket, Key=self._object(key, relpath), ChecksumMode="ENABLED"
                ),
            )
        except S3RequestError as error:
            if error.status == 404 and error.code in ("404", "NotFound", "NoSuchKey", ""):
                return None
            raise

    def _current_objects(self, key: str) -> dict[str, dict[str, Any]]:
        """{relpath: listing entry} of the current versions under a bundle's key."""
        base = self._object(key, "")
        return {entry["Key"][len(base) :]: entry for entry in self._list_entries(base)}

    def _list(self, prefix: str) -> list[str]:
        return [entry["Key"] for entry in self._list_entries(prefix)]

    def _list_entries(self, prefix: str) -> list[dict[str, Any]]:
        pages = self._call(
            "не читается список объектов",
            lambda: list(
                self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            ),
        )
        return [entry for page in pages for entry in page.get("Contents", [])]

    def _key(self, key: str) -> str:
        try:
            return check_key(key)
        except LayoutError as error:
            raise StorageError(f"{self.where}: {error}") from error

    def _object(self, key: str, relpath: str) -> str:
        """The object key of a bundle file; "" as relpath gives the bundle's own prefix ending in "/"."""
        if relpath and relpath != MARKER:
            try:
                check_relpath(relpath)
            except LayoutError as error:
                raise StorageError(f"{self.where}: {error}") from error
        return f"{self.prefix}{key}/{relpath}"


def s3_target_from_config(entry: Mapping[str, object], number: int) -> S3Target:
    """An S3Target from a `[[targets]]` entry with `type = "s3"`; secrets come from the environment.

    `access_key_id_env` / `secret_access_key_env` name environment variables holding
    the keys; keys written into the file itself are refused. Without them (and without
    `profile`) boto3's usual chain applies (AWS_ACCESS_KEY_ID, ~/.aws, instance roles).
    """
    name = entry.get("name")
    label = f"Хранилище {name} (s3)" if isinstance(name, str) and name else f"Хранилище № {number} (s3)"
    secrets = sorted(k for k in entry if k in SECRET_KEYS)
    if secrets:
        raise StorageError(
            f"{label}: ключи доступа в файле настроек не хранятся ({', '.join(secrets)}); укажите имена "
            "переменных окружения в access_key_id_env и secret_access_key_env"
        )
    unknown = sorted(k for k in entry if k not in CONFIG_KEYS)
    if unknown:
        raise StorageError(f"{label}: неизвестные параметры {', '.join(unknown)}")
    texts = {}
    for field in sorted(CONFIG_KEYS - {"type"}):
        value = entry.get(field)
        if value is not None and (not isinstance(value, str) or not value):
            raise StorageError(f"{label}: {field} должно быть непустой строкой")
        texts[field] = value
    if not texts["name"] or not texts["bucket"]:
        raise StorageError(f"{label}: нужны name и bucket")
    if bool(texts["access_key_id_env"]) != bool(texts["secret_access_key_env"]):
        raise StorageError(f"{label}: access_key_id_env и secret_access_key_env задаются вместе")
    keys: list[str | None] = [None, None]
    for index, field in enumerate(("access_key_id_env", "secret_access_key_env")):
        variable = texts[field]
        if variable:
            keys[index] = os.environ.get(variable)
            if not keys[index]:
                raise StorageError(f"{label}: переменная окружения {variable} ({field}) не задана")
    return S3Target(
        str(texts["name"]),
        str(texts["bucket"]),
        texts["prefix"] or "",
        endpoint_url=texts["endpoint_url"],
        region=texts["region"] or "us-east-1",
        access_key_id=keys[0],
        secret_access_key=keys[1],
        profile=texts["profile"],
        lock_mode=texts["lock_mode"] or "COMPLIANCE",
    )


def _normal_prefix(name: str, prefix: str) -> str:
    """ "" or "a/b/": no empty, "." or ".." segments, so prefixes compare by plain string prefix."""
    parts = [part for part in prefix.strip("/").split("/")] if prefix.strip("/") else []
    if any(part in ("", ".", "..") for part in parts) or "\\" in prefix:
        raise StorageError(f"{name}: недопустимый префикс «{prefix}»")
    return "".join(part + "/" for part in parts)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _one_line(error: object) -> str:
    return " ".join(str(error).split())
