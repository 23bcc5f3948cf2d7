"""The admin import: upload → preview (created/updated/skipped, errors, error workbook) → confirm → result.

Also the task path for large files (tasks run inline in tests), progress JSON, permissions and profiles.
"""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from orders.importing import jobs
from orders.models import ImportJob, ImportProfile, Order
from orders.tests.factories import ChannelFactory, UserFactory
from orders.tests.importing_corpus import sample

pytestmark = pytest.mark.django_db

TMALL = "sheets/tmall_order_report.csv"


def _csv(rows: list[list[str]], name: str = "tmall.csv") -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def _tmall(count: int) -> list[list[str]]:
    with sample(TMALL).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[: count + 1]


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> None:
    """Uploads and error workbooks go to a temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def tmall(db):
    """The Tmall shop."""
    return ChannelFactory(code="tmall", name="天猫旗舰店")


def _upload(client, upload, **data) -> ImportJob:
    response = client.post(reverse("admin:orders_importjob_add"), {"file": upload, **data})
    assert response.status_code == 302, response.content[:2000]
    job = ImportJob.objects.latest("pk")
    assert response["Location"] == reverse("admin:orders_importjob_change", args=[job.pk])
    return job


def test_upload_preview_confirm_and_result(admin_client, tmall) -> None:
    page = admin_client.get(reverse("admin:orders_importjob_add"))
    assert page.status_code == 200 and b"oms-import-upload" in page.content
    job = _upload(admin_client, _csv(_tmall(200)), channel=tmall.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    assert (job.summary["created"], job.summary["updated"], job.summary["skipped"]) == (200, 0, 0)
    assert Order.objects.count() == 0  # the preview writes nothing
    preview = admin_client.get(reverse("admin:orders_importjob_change", args=[job.pk]))
    assert preview.status_code == 200
    assert b'data-action="create"' in preview.content
    response = admin_client.post(
        reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "0"}
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.summary["applied"]
    assert Order.objects.count() == 200
    event = Order.objects.get(external_id="1").events.get()
    assert event.actor_user is not None and event.actor_label == "tmall.csv"
    result = admin_client.get(reverse("admin:orders_importjob_change", args=[job.pk]))
    assert result.status_code == 200 and b'data-status="succeeded"' in result.content
    # a second confirmation (double click) does nothing
    admin_client.post(reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "0"})
    assert Order.objects.count() == 200

    again = _upload(admin_client, _csv(_tmall(200)), channel=tmall.pk)
    again.refresh_from_db()
    assert (again.summary["created"], again.summary["updated"], again.summary["skipped"]) == (0, 0, 200)


def test_errors_are_shown_and_downloadable_and_nothing_imports(admin_client, tmall) -> None:
    rows = _tmall(30)
    rows[4][1] = "=1+2"
    rows[7][4] = "2024-02-30 10:00:00"
    job = _upload(admin_client, _csv(rows), channel=tmall.pk)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED and job.summary["error_count"] == 2
    page = admin_client.get(reverse("admin:orders_importjob_change", args=[job.pk])).content.decode()
    assert "oms-import-errors" in page and "2024-02-30 10:00:00" in page and "订单创建时间" in page
    assert 'name="valid_only" value="1"' in page and 'name="valid_only" value="0"' not in page
    download = admin_client.get(reverse("admin:orders_importjob_errors", args=[job.pk]))
    assert download.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    data = list(sheet.iter_rows(values_only=True))
    assert [r[-1] for r in data[1:]] == [5, 8]
    assert data[1][1] == "'=1+2"  # the failed cell as it was, neutralised

    admin_client.post(reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "0"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED and Order.objects.count() == 0
    admin_client.post(reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "1"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and Order.objects.count() == 28


def test_unreadable_file_is_refused(admin_client, tmall) -> None:
    job = _upload(admin_client, SimpleUploadedFile("orders.csv", b"\x00\x01\x02" * 100))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REFUSED
    assert "binary data" in job.summary["errors"][0]["message"]
    page = admin_client.get(reverse("admin:orders_importjob_change", args=[job.pk]))
    assert b"Import</button>" not in page.content


def test_large_file_goes_through_the_task_with_progress(admin_client, tmall, monkeypatch) -> None:
    monkeypatch.setattr(jobs, "INLINE_BYTES", 10)
    calls: list[str] = []
    real = jobs.async_task

    def spy(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(jobs, "async_task", spy)
    job = _upload(admin_client, _csv(_tmall(300)), channel=tmall.pk)
    admin_client.post(reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "0"})
    assert calls == ["orders.tasks.analyse_import_task", "orders.tasks.run_import_task"]
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and Order.objects.count() == 300
    progress = admin_client.get(reverse("admin:orders_importjob_progress", args=[job.pk])).json()
    assert progress["finished"] and progress["percent"] == 100 and progress["rows_done"] == 300
    assert progress["rows_per_second"] > 0


def test_running_job_page_refreshes_itself(admin_client, tmall) -> None:
    job = ImportJob.objects.create(
        filename="big.csv",
        status=ImportJob.Status.RUNNING,
        rows_total=1000,
        rows_done=250,
        file="imports/x.csv",
    )
    page = admin_client.get(reverse("admin:orders_importjob_change", args=[job.pk])).content.decode()
    assert 'http-equiv="refresh"' in page and 'aria-valuenow="25"' in page


def test_clerk_without_add_order_cannot_import(client, tmall) -> None:
    user = UserFactory(username="viewer", perms=["orders.view_importjob"], is_staff=True)
    client.force_login(user)
    assert client.get(reverse("admin:orders_importjob_add")).status_code == 403


def test_profile_is_validated_and_used(admin_client, tmall) -> None:
    url = reverse("admin:orders_importprofile_add")
    bad = admin_client.post(
        url, {"name": "p", "column_mapping": '{"单号X": "nonsense"}', "create_unknown_skus": "on"}
    )
    assert bad.status_code == 200 and b"nonsense" in bad.content
    ok = admin_client.post(
        url,
        {
            "name": "book",
            "column_mapping": '{"单号X": "external_order_id"}',
            "day_first": "on",
            "default_channel": tmall.pk,
            "default_status": "completed",
            "create_unknown_skus": "on",
        },
    )
    assert ok.status_code == 302
    profile = ImportProfile.objects.get(name="book")
    assert profile.created_by is not None
    job = _upload(
        admin_client,
        _csv([["单号X", "下单时间", "总金额"], ["P1", "03/04/2024 10:00", "5"]]),
        profile=profile.pk,
    )
    admin_client.post(reverse("admin:orders_importjob_confirm", args=[job.pk]), {"valid_only": "0"})
    order = Order.objects.get(external_id="P1")
    assert (order.channel, order.status, order.placed_at.month) == (tmall, "completed", 4)


def test_changelists_render(admin_client, tmall) -> None:
    _upload(admin_client, _csv(_tmall(5)), channel=tmall.pk)
    for name in ("importjob", "importprofile", "exportjob"):
        assert admin_client.get(reverse(f"admin:orders_{name}_changelist")).status_code == 200
