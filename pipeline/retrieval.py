"""Handing a sealed year bundle to the secretary: verified before anything leaves the archive.

`retrieve_bundle` checks a replica where it is stored (RFC 8493, PDF/A, XSD, the
seal, the catalog's anchor), copies it out, checks the copy again, and only then
moves it into place beside a Russian receipt. A damaged replica is passed over
for the next one, and the receipt says so; if no replica passes, nothing is
handed out and the error names every file that failed, target by target.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from documents.kinds import BundleKindSpec, kind_title
from documents.seal import CERT_FILE, TSA_CERT_FILE, SealCheck, seal_certificates, signer_name
from journal.names import same_class, year_name
from journal.russian import format_date, format_moment
from pipeline.errors import NoReplicaPassed, RetrievalError
from pipeline.settings import Settings
from pipeline.verify import Verifier, verifier_for
from storage.bagformat import SEAL_FILE, manifest_name, parse_manifest
from storage.catalog import (
    ANCHOR_ORIGIN_ARCHIVE,
    Anchor,
    BundleRecord,
    anchor_of,
    find_bundle,
    list_bundles,
    replicas_of,
)
from storage.modes import private_dir, write_private
from storage.replication import fetch_bundle
from storage.retention import RETENTION_RULES
from storage.target import ReplicaStatus, Target
from validators.bundle_checks import BundleReport


@dataclass(frozen=True)
class Retrieved:
    bundle_id: str
    folder: Path
    receipt: Path
    target: str
    passed_over: tuple[str, ...]  # replicas that failed, with the reason, in Russian


def retrieve_bundle(
    settings: Settings, year: str, class_name: str, kind: BundleKindSpec, to_dir: Path
) -> Retrieved:
    """Verify and copy the newest bundle of `kind` for a class into `to_dir`, with a receipt.

    The class and year are matched loosely («5a» finds «5А», «2024-2025» finds «2024/2025»)."""
    with verifier_for(settings) as verifier:
        db = verifier.db
        versions = [
            record
            for record in (list_bundles(db, year=year_name(year), kind=kind.kind) if db is not None else [])
            if same_class(record.class_name, class_name)
        ]
        if not versions:
            raise RetrievalError(
                f"В каталоге нет пакета «{kind.title}» {class_name} класса за {year} учебный год: "
                "сначала journal-archive archive year"
            )
        return _hand_out(settings, verifier, max(versions, key=lambda r: r.version), to_dir)


def retrieve_by_id(
    settings: Settings, bundle_id: str, to_dir: Path, *, delivered_as: str | None = None
) -> Retrieved:
    """The same verify-then-hand-out for one catalogued bundle named by its id (the web page's «Получить»).

    Only an id the catalog knows is looked up; anything else (a path, `../`) names no bundle.
    `delivered_as` says on the receipt how it reaches the person (the web page's download) instead of
    the server's folder, which the secretary never sees."""
    with verifier_for(settings) as verifier:
        record = find_bundle(verifier.db, bundle_id) if verifier.db is not None else None
        if record is None:
            raise RetrievalError(f"В каталоге нет пакета «{bundle_id}»")
        return _hand_out(settings, verifier, record, to_dir, delivered_as)


def _hand_out(
    settings: Settings,
    verifier: Verifier,
    record: BundleRecord,
    to_dir: Path,
    delivered_as: str | None = None,
) -> Retrieved:
    """Verify a replica in place, copy it out, verify the copy, then move it into place with a receipt."""
    db = verifier.db
    statuses = {r.target: r.status for r in replicas_of(db, record.bundle_id)}
    anchor = anchor_of(db, record.bundle_id)
    destination = to_dir / record.bundle_id
    if destination.exists():
        raise RetrievalError(f"{destination} уже существует: выберите другую папку или уберите старую копию")

    # Replicas last found verified first; the configured order otherwise.
    targets = sorted(settings.targets(), key=lambda t: statuses.get(t.name) != ReplicaStatus.VERIFIED)
    passed_over: list[str] = []
    for target in targets:
        report = verifier.stored(target, record)
        if not report.valid:
            passed_over.append(_failure(target.name, report))
            continue
        private_dir(to_dir, ours=False)  # made owner-only (A2) if new; what goes in is owner-only
        partial = to_dir / f".{record.bundle_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        try:
            fetch_bundle(target, record.key, partial)
            local = verifier.folder(partial, record.bundle_id)
            if not local.valid:
                passed_over.append(_failure(f"{target.name} (копия при чтении)", local))
                continue
            partial.rename(destination)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        if verifier.certificate is not None:  # README.txt's openssl command expects it beside the bundle
            write_private(to_dir / CERT_FILE, verifier.certificate.read_bytes())
        if verifier.tsa_certificate is not None:  # and the timestamp check its TSA's certificate
            write_private(to_dir / TSA_CERT_FILE, verifier.tsa_certificate.read_bytes())
        receipt = to_dir / f"{record.bundle_id}.receipt.txt"
        text = receipt_text(
            record, target, destination, passed_over, anchor, seal=local.seal, delivered_as=delivered_as
        )
        write_private(receipt, text)
        return Retrieved(record.bundle_id, destination, receipt, target.name, tuple(passed_over))
    raise NoReplicaPassed(
        f"Пакет {record.bundle_id} не выдан: ни одна копия не прошла проверку. " + " ".join(passed_over)
    )


def sealed_text(seal: SealCheck) -> str:
    """When the bundle was sealed, as far as the seal proves it, in the secretary's local time."""
    if seal.proven_at is not None:
        moment = seal.proven_at.astimezone()
        return f"{format_moment(moment)}, время подтверждено меткой времени (RFC 3161)"
    if seal.signed_at is not None:
        moment = seal.signed_at.astimezone()
        return (
            f"время подписи в печати {format_moment(moment)} "
            "не подтверждено: метки времени нет, печать подтверждается, пока действует сертификат"
        )
    return "время подписи в печати не указано"


def _failure(where: str, report: BundleReport) -> str:
    reasons = "; ".join(problem.message for problem in report.problems)
    return f"Копия на {where} повреждена: {reasons}."


def anchor_statement(anchor: Anchor | None) -> str:
    """What the receipt may truthfully say about the catalog's checksum of the bundle."""
    if anchor is None:
        return "в каталоге нет контрольной суммы пакета, сверка с каталогом не проводилась"
    if anchor.origin == ANCHOR_ORIGIN_ARCHIVE:
        return "совпадает с контрольной суммой, записанной в каталог при архивировании"
    return f"совпадает с контрольной суммой каталога, которая {anchor.origin}"


def receipt_text(
    record: BundleRecord,
    target: Target,
    folder: Path,
    passed_over: list[str],
    anchor: Anchor | None,
    *,
    seal: SealCheck | None = None,
    delivered_as: str | None = None,
) -> str:
    """The Russian receipt: what was handed out, from where, its checksums, and when it was verified.

    «Опечатан» gives the moment the seal's timestamp proves (`seal`, from the check just made),
    or, without a timestamp, the signing time the seal claims, saying that it is not proven.
    """
    now = dt.datetime.now().astimezone()  # the secretary's local time
    manifest = parse_manifest((folder / manifest_name("sha256")).read_bytes(), manifest_name("sha256"))
    rule = RETENTION_RULES[record.retention_class]
    retain = dt.date.fromisoformat(record.retain_until)
    seal_line = "печать: нет"
    if (folder / SEAL_FILE).is_file():
        signers = ", ".join(signer_name(c) for c in seal_certificates(folder / SEAL_FILE))
        seal_line = f"печать: подпись действительна, подписал {signers}"
    sealed = sealed_text(seal) if seal is not None else "нет"
    kind = kind_title(record.kind)
    fields = [
        ("Пакет", f"{record.bundle_id} (версия {record.version})"),
        ("Что", f"{kind}, {record.class_name} класс, {record.year} учебный год"),
        ("Школа", record.school_name),
        ("Хранение", f"{rule.description}; хранить до {format_date(retain)}"),
        ("Опечатан", sealed),
        ("Выдан из хранилища", f"{target.name} ({record.key})"),
        ("Выдан", delivered_as) if delivered_as else ("Выдан в папку", str(folder)),
    ]
    lines = [
        "КВИТАНЦИЯ О ВЫДАЧЕ АРХИВНОГО ПАКЕТА",
        "",
        *(f"{label + ':':<20}{value}" for label, value in fields),
        "",
        *passed_over,
        f"Проверено {format_moment(now)}: контрольные суммы всех файлов "
        "(BagIt, RFC 8493), "
        f"PDF/A, XML по схеме, {seal_line}; {anchor_statement(anchor)}.",
        "",
        "Контрольные суммы SHA-256 документов:",
        *(f"  {digest}  {path}" for path, digest in sorted(manifest.items())),
        "",
        "Повторная проверка (в папке пакета; печать — по команде из README.txt пакета):",
        f"  cd {folder.name} && sha256sum -c tagmanifest-sha256.txt && sha256sum -c manifest-sha256.txt",
        "",
        "Выдал:    ____________________ / ____________________ /",
        "",
        "Получил:  ____________________ / ____________________ /",
        "",
        "Дата:     «____» ____________ 20____ г.",
    ]
    return "\n".join(lines) + "\n"
