"""The Prefect flow of the fixity audit (R7, R8): a thin wrapper around pipeline.audit.run_audit.

The audit reads every replica of every bundle once; it is I/O-bound and runs in
this process, one bundle at a time so that a rate cap holds for the whole run.
Each bundle's outcome is logged as it finishes, so the Prefect UI shows progress.
`journal-archive serve` registers one deployment per distinct schedule
(`audit_deployments`): [audit] schedule for every target, unless a target sets its
own `audit_schedule` — the copy in the other room may be checked less often (R8).
Every cron runs in the school's timezone (`[school] timezone`), not in UTC. A run that
finds a bad copy notifies `[alerts] urls` (pipeline.alerts, inside run_audit).
With `[seal] tsa_url` each run then renews the evidence of sealed bundles that expires within
`[seal] renew_within_days` (pipeline.evidence.renew_due), so the schedule keeps seals provable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.schedules import Cron

from pipeline.audit import BundleRecord, ReplicaOutcome, run_audit
from pipeline.settings import Settings, load_settings, select_school


@dataclass(frozen=True, slots=True)
class AuditSummary:
    """What a run returns: the digest as written, where, and how many copies are still bad."""

    digest: str
    digest_path: str
    replicas: int
    repaired: int
    failed: int
    damaged: int = 0  # copies found bad, repaired or not
    alert: str = ""  # Russian: whether `[alerts] urls` were notified ("" when nothing was to be sent)


@flow(name="audit_fixity")
def audit_fixity(
    home: str | None = None,
    targets: list[str] | None = None,
    max_rate_mb_s: float | None = None,
    deep: bool = False,
    school: str | None = None,
) -> AuditSummary:
    """Check every bundle on `targets` (default: all), repair bad copies from good ones, write the digest.

    `deep` re-validates PDF/A and XML structure besides hashing every file (a slower schedule);
    `school` names the school when the configuration has several ([[schools]])."""
    logger = get_run_logger()
    settings = select_school(load_settings(Path(home) if home else None), school)

    def log_bundle(record: BundleRecord, outcomes: list[ReplicaOutcome]) -> None:
        for outcome in outcomes:
            log = logger.warning if outcome.failed else logger.info
            action = f"; {outcome.action}" if outcome.action else ""
            log(
                "%s на %s: %s%s",
                record.bundle_id,
                outcome.target,
                outcome.found.title,
                action,
            )

    run = run_audit(settings, targets, max_rate_mb_s=max_rate_mb_s, on_bundle=log_bundle, deep=deep)
    logger.info("Сводка аудита: %s", run.digest_path)
    if run.alert is not None:
        (logger.info if run.alert.ok else logger.warning)("%s", run.alert.line())
    if settings.tsa_url:  # the schedule also renews evidence that expires within [seal] renew_within_days
        from pipeline.evidence import renew_due

        for renewal in renew_due(settings):
            if renewal.added or not renewal.ok:
                (logger.info if renewal.ok else logger.warning)("%s: %s", renewal.bundle_id, renewal.message)
    return AuditSummary(
        digest=run.digest,
        digest_path=str(run.digest_path),
        replicas=len(run.outcomes),
        repaired=sum(o.repaired for o in run.outcomes),
        failed=len(run.failed),
        damaged=len(run.damaged),
        alert=run.alert.line() if run.alert is not None else "",
    )


def audit_deployments(settings: Settings) -> list[Any]:
    """One scheduled deployment of audit_fixity per distinct cron schedule, each with its targets,
    in the school's timezone (a Sunday 03:00 audit runs at 03:00 at the school, not at 03:00 UTC)."""
    deployments = []
    school = {"school": settings.school.folder} if settings.school and len(settings.schools) > 1 else {}
    suffix = f"-{settings.school.folder}" if school and settings.school else ""  # one set per school
    for cron, names in settings.audit_schedules():
        deployments.append(
            audit_fixity.to_deployment(
                name=f"audit-fixity-{'-'.join(names)}{suffix}",
                schedules=[Cron(cron, timezone=settings.timezone)],
                parameters={"home": str(settings.home), "targets": names, **school},
                description=f"Аудит сохранности архива (R7): хранилища {', '.join(names)}, расписание {cron}",
            )
        )
    deployments.append(
        audit_fixity.to_deployment(
            name=f"audit-fixity-deep{suffix}",
            schedules=[Cron(settings.deep_audit_schedule, timezone=settings.timezone)],
            parameters={"home": str(settings.home), "deep": True, **school},
            description="Полный аудит архива (R5, R7): контрольные суммы, PDF/A и XML по схеме, "
            f"все хранилища, расписание {settings.deep_audit_schedule}",
        )
    )
    return deployments
