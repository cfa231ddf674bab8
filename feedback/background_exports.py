"""
Exports too large to send at once (more than `exports.IMMEDIATE_ROWS` rows):
the request records what was asked and the worker makes the file, writes
down how far it has got, keeps the file in the exports storage (a folder by
default, any Django storage backend in production) and emails the person a
link that only they can open. Files are deleted after 24 hours.

Safe to run twice: the worker claims an export with a conditional update; a
claim left by a worker that died is taken up again after the task time limit,
and the hourly sweep queues again what the broker lost.
"""

import logging
import tempfile
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.admin import site
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, QueryDict
from django.urls import reverse
from django.utils import timezone

from . import doorbell, exports, outbox
from .models import KEPT_FOR, EmailKind, Export, ExportStatus, Submission

logger = logging.getLogger(__name__)

BUILD_TASK = "feedback.tasks.build_export_task"
EXPORT_PERMISSION = "feedback.export_submissions"
PERSONAL_DETAILS_PERMISSION = "feedback.view_personal_details"
# A queued export the broker never delivered is queued again after this long.
QUEUED_AGAIN_AFTER = timedelta(minutes=5)


class TooManyRows(Exception):
    """The selection is larger than the file format holds: said to the person as it is."""


def storage():
    return storages["exports"]


def request_export(*, user, file_format: str, query: str, include_personal: bool) -> Export:
    """Record an export to make and queue it once the transaction commits."""
    export = Export.objects.create(
        requested_by=user, file_format=file_format, query=query, include_personal=include_personal
    )
    doorbell.ring_on_commit(BUILD_TASK, str(export.pk))
    return export


def selection(user, query: str):
    """The submissions the list showed `user` for this query string: the same filters and search, applied now."""
    request = HttpRequest()
    request.method = "GET"
    request.path = reverse("admin:feedback_submission_changelist")
    request.GET = QueryDict(query)
    request.META["QUERY_STRING"] = query
    request.user = user
    model_admin = site.get_model_admin(Submission)
    return model_admin.get_changelist_instance(request).get_queryset(request)


def _stale_claim(now: datetime) -> Q:
    return Q(status=ExportStatus.RUNNING, started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT))


def build(export_id: str, *, now: datetime | None = None) -> str:
    """Make the export's file, once. Returns the export's status afterwards."""
    now = now or timezone.now()
    claimed = Export.objects.filter(Q(status=ExportStatus.QUEUED) | _stale_claim(now), pk=export_id).update(
        status=ExportStatus.RUNNING, started_at=now, rows_written=0
    )
    export = Export.objects.select_related("requested_by").filter(pk=export_id).first()
    if export is None:
        return "gone"  # its person's account was removed, and the export with it
    if not claimed:
        return export.status

    def progress(rows: int) -> None:
        Export.objects.filter(pk=export.pk, status=ExportStatus.RUNNING).update(rows_written=rows)

    user = export.requested_by
    if not (user.is_active and user.has_perm(EXPORT_PERMISSION)):
        # The account lost the right to export after asking: nothing is made.
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, last_error="No longer allowed to export."
        )
        return ExportStatus.FAILED
    # Names and email addresses only while the person may still see them.
    include_personal = export.include_personal and user.has_perm(PERSONAL_DETAILS_PERMISSION)
    write = exports.write_csv if export.file_format == "csv" else exports.write_xlsx
    try:
        submissions = selection(export.requested_by, export.query)
        rows = exports.count_rows(submissions)
        Export.objects.filter(pk=export.pk).update(rows_expected=rows)
        if export.file_format == "xlsx" and rows > exports.XLSX_MAX_ROWS:
            raise TooManyRows(
                f"This selection has {rows:,} views, more than a spreadsheet sheet holds "
                f"({exports.XLSX_MAX_ROWS:,}). Narrow it with the filters, or export CSV."
            )
        with tempfile.TemporaryFile() as out:
            write(submissions, out, include_personal=include_personal, progress=progress)
            out.seek(0)
            name = storage().save(f"{export.pk}.{export.file_format}", File(out))
    except TooManyRows as error:
        Export.objects.filter(pk=export.pk).update(status=ExportStatus.TOO_LARGE, last_error=str(error))
        return ExportStatus.TOO_LARGE
    except Exception as error:
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        logger.exception("Making export %s failed", export.pk)
        return ExportStatus.FAILED
    finished = timezone.now()
    with transaction.atomic():
        Export.objects.filter(pk=export.pk).update(
            status=ExportStatus.READY,
            file=name,
            finished_at=finished,
            expires_at=finished + KEPT_FOR,
            include_personal=include_personal,
        )
        if user.email:
            outbox.enqueue(
                EmailKind.EXPORT_READY,
                key=f"export:{export.pk}",
                recipient=user.email,
                user=user,
                context={"export": str(export.pk)},
            )
    return ExportStatus.READY


def status_url(export: Export) -> str:
    return reverse("admin:feedback_submission_export_status", args=[export.pk])


def sweep(*, now: datetime | None = None) -> dict:
    """
    Hourly: delete the files of exports past their 24 hours, and queue again
    exports the broker lost or a dead worker left half-made.
    """
    now = now or timezone.now()
    expired = 0
    for export in Export.objects.filter(status=ExportStatus.READY, expires_at__lte=now):
        storage().delete(export.file)
        expired += Export.objects.filter(pk=export.pk, status=ExportStatus.READY).update(
            status=ExportStatus.EXPIRED, file=""
        )
    waiting = Export.objects.filter(
        Q(status=ExportStatus.QUEUED, requested_at__lt=now - QUEUED_AGAIN_AFTER) | _stale_claim(now)
    )
    queued = 0
    for export_id in waiting.values_list("pk", flat=True):
        doorbell.ring_on_commit(BUILD_TASK, str(export_id))
        queued += 1
    return {"expired": expired, "queued_again": queued}
