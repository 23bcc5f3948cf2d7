"""Import jobs: an uploaded file is analysed (preview), then imported, inline or in a django-q2 task.

The admin stores the upload as an ``ImportJob`` and calls ``start_analysis``; once the clerk confirms it calls
``start_import``. Small files run inline, large ones in a task, so a request never waits for a big file.
Progress (rows done, rows/s, time left) is written to the job row while it runs; during the one write
transaction it goes through a second database connection (PostgreSQL) so the admin can see it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.files.base import ContentFile
from django.db import connection, connections
from django.utils import timezone
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from oms.actors import Actor, ActorKind
from orders.importing.apply import ImportResult, import_file
from orders.models import ImportJob

logger = logging.getLogger(__name__)

INLINE_BYTES = 1024 * 1024
"""Files up to this size are analysed and imported inside the request; larger ones in a task."""
TASK_TIMEOUT = 570
"""Seconds an import task may run (below Q_CLUSTER retry=720, so it is never delivered twice while running)."""
PROGRESS_EVERY = 0.5
"""Seconds between progress writes."""


class JobProgress:
    """Writes (done, total) of a running job to its row, throttled; inside a transaction via a side connection."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.last = 0.0
        self.side = None

    def __call__(self, done: int, total: int, phase: str) -> None:
        now = time.monotonic()
        if done < total and now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        rows = self.job.rows_total
        rows_done = int(rows * done / total) if total else rows
        if not connection.in_atomic_block:
            ImportJob.objects.filter(pk=self.job.pk).update(rows_done=rows_done)
        elif connection.vendor == "postgresql":  # SQLite has one writer: the side connection would wait
            try:
                if self.side is None:
                    self.side = connections.create_connection("default")
                with self.side.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {ImportJob._meta.db_table} SET rows_done = %s WHERE id = %s",
                        [rows_done, self.job.pk],
                    )
            except Exception:  # progress is a courtesy: never break the import for it
                logger.warning("import job %s: progress not written", self.job.pk, exc_info=True)

    def close(self) -> None:
        """Close the side connection, if one was opened."""
        if self.side is not None:
            self.side.close()
            self.side = None


def _options(job: ImportJob) -> dict[str, Any]:
    return {"q_options": {"task_name": f"import {job.pk} {job.filename}"[:100], "timeout": TASK_TIMEOUT}}


def start_analysis(job: ImportJob) -> None:
    """Analyse the upload now (small file) or in a task (large file)."""
    if job.file.size <= INLINE_BYTES:
        analyse_import_job(job.pk)
    else:
        async_task("orders.tasks.analyse_import_task", job.pk, **_options(job))


def start_import(job: ImportJob, *, valid_only: bool) -> None:
    """Queue (or run, for a small file) the import of a previewed job."""
    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEWED).update(
        status=ImportJob.Status.QUEUED, valid_only=valid_only, rows_done=0
    )
    if not updated:
        return  # already started (double click) or not importable
    if job.file.size <= INLINE_BYTES:
        run_import_job(job.pk)
    else:
        async_task("orders.tasks.run_import_task", job.pk, **_options(job))


def _run(job: ImportJob, *, dry_run: bool) -> ImportResult:
    profile = job.profile
    progress = JobProgress(job)
    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        return import_file(
            data,
            filename=job.filename,
            profile=profile.to_spec() if profile else None,
            channel=job.channel.code if job.channel_id else None,
            actor=Actor(ActorKind.IMPORT, user=job.created_by, label=job.filename),
            dry_run=dry_run,
            valid_only=job.valid_only,
            create_unknown_skus=profile.create_unknown_skus if profile else True,
            progress=progress,
        )
    finally:
        progress.close()


def _finish(job: ImportJob, result: ImportResult, status: str, *, final: bool = True) -> None:
    job.status = status
    job.summary = result.summary()
    job.rows_total = result.rows
    job.rows_done = result.rows
    job.finished_at = timezone.now() if final else None
    workbook = result.error_workbook()
    if workbook:
        stem = job.filename.rsplit(".", 1)[0]
        job.error_workbook.save(f"{stem}-errors.xlsx", ContentFile(workbook), save=False)
    elif not result.errors:
        job.error_workbook = ""
    job.save()


def analyse_import_job(job_id: int) -> str:
    """Read and check the job's file without writing orders; store the preview (counts, changes, errors)."""
    job = ImportJob.objects.select_related("profile__default_channel", "channel").get(pk=job_id)
    if job.status not in (ImportJob.Status.ANALYSING, ImportJob.Status.PREVIEWED, ImportJob.Status.REFUSED):
        return f"job {job_id}: {job.status}, not analysed again"
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now(), rows_done=0)
    job.started_at = timezone.now()
    try:
        result = _run(job, dry_run=True)
    except Exception as exc:  # a bug must not leave the job spinning forever
        logger.exception("import job %s: analysis failed", job_id)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=str(exc)[:2000], finished_at=timezone.now()
        )
        return f"job {job_id}: failed"
    importable = result.created + result.updated
    status = ImportJob.Status.PREVIEWED if importable or result.ok else ImportJob.Status.REFUSED
    _finish(job, result, status, final=status == ImportJob.Status.REFUSED)
    return f"job {job_id}: {status}"


def run_import_job(job_id: int) -> str:
    """Import a confirmed job's file (all or nothing, or only its valid orders) and store the result."""
    job = ImportJob.objects.select_related("profile__default_channel", "channel").get(pk=job_id)
    if job.status != ImportJob.Status.QUEUED:
        return f"job {job_id}: {job.status}, not run"  # idempotent: a re-delivered task does nothing
    job.started_at = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=job.started_at)
    try:
        result = _run(job, dry_run=False)
    except Exception as exc:
        logger.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, message=str(exc)[:2000], finished_at=timezone.now()
        )
        return f"job {job_id}: failed"
    if result.applied:
        _finish(job, result, ImportJob.Status.SUCCEEDED)
    else:
        job.message = _("The file changed since the preview or the data in OMS did; nothing was imported.")
        _finish(job, result, ImportJob.Status.REFUSED)
    return f"job {job_id}: {job.status} ({result.created} created, {result.updated} updated)"
