"""Admin pages, Excel workbooks, the builder, saved reports and sharing, subscriptions and the dashboard."""

from __future__ import annotations

import datetime as dt
import io
from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse
from django_q.models import Schedule
from openpyxl import load_workbook

from orders.tests.factories import UserFactory
from reports.dashboard import headline_figures
from reports.models import ReportSubscription, SavedReport
from reports.registry import all_reports
from reports.services import deliver_subscription, next_run_at, run_saved_report, sync_subscription_schedule
from reports.tests.conftest import MARCH, at

pytestmark = pytest.mark.django_db

MANAGER_PERMS = [
    "reports.view_savedreport",
    "reports.add_savedreport",
    "reports.change_savedreport",
    "reports.delete_savedreport",
    "reports.view_reportsubscription",
    "reports.add_reportsubscription",
    "reports.change_reportsubscription",
    "orders.view_order",
]


@pytest.fixture
def manager(db):
    return UserFactory(username="manager", perms=MANAGER_PERMS)


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def test_catalog_lists_every_report(manager_client):
    response = manager_client.get(reverse("admin:reports_catalog"))
    assert response.status_code == 200
    for spec in all_reports():
        assert reverse("admin:reports_run", args=[spec.code]) in response.content.decode()


@pytest.mark.parametrize("code", [spec.code for spec in all_reports()])
def test_every_report_page_renders_table_and_chart_from_local_static(manager_client, book, code):
    response = manager_client.get(reverse("admin:reports_run", args=[code]), MARCH)
    assert response.status_code == 200
    html = response.content.decode()
    assert "report-table" in html
    assert "reports/vendor/chart.umd.js" in html
    assert "cdn" not in html.lower()


def test_report_page_opens_with_defaults(manager_client, book):
    response = manager_client.get(reverse("admin:reports_run", args=["sales"]))
    assert response.status_code == 200
    assert response.context["sections"]


def test_report_needs_permission(client, book):
    client.force_login(UserFactory(username="nobody"))
    assert client.get(reverse("admin:reports_run", args=["sales"]), MARCH).status_code == 403


@pytest.mark.parametrize("code", [spec.code for spec in all_reports()])
def test_excel_export_of_every_report(manager_client, book, code):
    response = manager_client.get(reverse("admin:reports_run", args=[code]), {**MARCH, "format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames


def test_sales_workbook_is_typed_totalled_frozen_and_charted(manager_client, book):
    response = manager_client.get(
        reverse("admin:reports_run", args=["sales"]), {**MARCH, "grain": "week", "format": "xlsx"}
    )
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    values = [[cell.value for cell in row] for row in ws.iter_rows()]
    assert values[0][0] == "Orders and revenue"
    header_index = next(i for i, row in enumerate(values) if row[:2] == ["Period", "Orders"])
    first = values[header_index + 1]
    assert first[0] == dt.datetime(2025, 2, 24)  # a real date (Excel stores dates as datetimes)
    week = values[header_index + 2]
    assert (week[1], week[2]) == (2, 300.0)  # real numbers
    totals = values[header_index + 7]
    assert (totals[1], totals[2]) == (4, 720.0)
    assert ws.freeze_panes == f"B{header_index + 2}"
    assert ws.cell(header_index + 2, 3).number_format == "#,##0.00"
    assert len(ws._charts) == 1
    assert any("Period" in str(row[0]) for row in values[:6])  # the filters block


def test_customers_workbook_converts_aware_datetimes(manager_client, book):
    response = manager_client.get(
        reverse("admin:reports_run", args=["customers"]), {**MARCH, "format": "xlsx"}
    )
    workbook = load_workbook(io.BytesIO(response.content))
    ws = workbook["Top customers"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    bob = next(row for row in rows if row[0] == "Bob")
    assert bob[5] == dt.datetime(2025, 3, 16, 0, 30)  # local time, naive


def test_save_builtin_report_and_share_with_group(manager_client, manager, book):
    from django.contrib.auth.models import Group

    finance = Group.objects.create(name="Finance")
    response = manager_client.post(
        reverse("admin:reports_run", args=["channels"]),
        {**MARCH, "name": "March channels", "shared_with": [finance.pk]},
    )
    saved = SavedReport.objects.get(name="March channels")
    assert response.status_code == 302
    assert saved.report == "channels" and saved.owner == manager
    assert saved.params["period"] == "custom" and saved.params["date_from"] == "2025-03-01"
    colleague = UserFactory(username="colleague", groups=["Finance"], perms=["reports.view_savedreport"])
    outsider = UserFactory(username="outsider", perms=["reports.view_savedreport"])
    assert list(SavedReport.objects.visible_to(colleague)) == [saved]
    assert list(SavedReport.objects.visible_to(outsider)) == []
    manager_client.force_login(colleague)
    page = manager_client.get(reverse("admin:reports_savedreport_open", args=[saved.pk]))
    assert page.status_code == 200
    assert "Shop A" in page.content.decode()
    manager_client.force_login(outsider)
    assert manager_client.get(reverse("admin:reports_savedreport_open", args=[saved.pk])).status_code == 404


def test_builder_preview_save_and_export(manager_client, manager, book):
    definition = {
        **MARCH,
        "dimension_1": "channel",
        "dimension_2": "",
        "measures": ["orders", "revenue", "refunds"],
        "chart": "bar",
    }
    preview = manager_client.get(reverse("admin:reports_savedreport_build"), definition)
    assert preview.status_code == 200
    rows = {row[0]["text"]: row for row in preview.context["sections"][0]["rows"]}
    assert rows["Shop A"][1]["text"] == "2" and rows["Shop A"][2]["text"] == "300.00"
    assert rows["Shop A"][3]["text"] == "50.00"
    saved = manager_client.post(
        reverse("admin:reports_savedreport_build") + "?" + "&".join(f"{k}={v}" for k, v in MARCH.items()),
        {**definition, "name": "Channels custom"},
    )
    assert saved.status_code == 302
    report = SavedReport.objects.get(name="Channels custom")
    assert report.is_custom and report.params["measures"] == ["orders", "revenue", "refunds"]
    export = manager_client.get(
        reverse("admin:reports_savedreport_open", args=[report.pk]), {"format": "xlsx"}
    )
    assert export.status_code == 200
    load_workbook(io.BytesIO(export.content))


def test_builder_figures_by_sku_and_month_by_status(book, manager):
    from reports.builder import BuilderForm, run_custom

    form = BuilderForm(
        data={
            **MARCH,
            "dimension_1": "category",
            "dimension_2": "sku",
            "measures": ["units", "revenue"],
            "chart": "bar",
        }
    )
    assert form.is_valid(), form.errors
    section = run_custom(form.to_params(), "t").sections[0]
    assert [(r["dim_0"], r["dim_1"], r["units"], r["revenue"]) for r in section.rows] == [
        ("Tops", "P2", 9, 450),
        ("Tops", "P1", 4, 270),
    ]
    assert section.totals["units"] == 13
    form = BuilderForm(
        data={
            **MARCH,
            "dimension_1": "month",
            "dimension_2": "status",
            "measures": ["orders"],
            "chart": "line",
        }
    )
    assert form.is_valid(), form.errors
    rows = run_custom(form.to_params(), "t").sections[0].rows
    assert {r["dim_1"]: r["orders"] for r in rows}["Cancelled"] == 1
    assert sum(r["orders"] for r in rows) == 5
    form = BuilderForm(
        data={**MARCH, "dimension_1": "segment", "measures": ["orders", "revenue"], "chart": "bar"}
    )
    assert form.is_valid(), form.errors
    rows = {r["dim_0"]: r for r in run_custom(form.to_params(), "t").sections[0].rows}
    assert (rows["New customer"]["orders"], rows["Returning customer"]["orders"]) == (1, 3)


def test_builder_refuses_refunds_by_sku(book):
    from reports.builder import BuilderForm

    form = BuilderForm(data={**MARCH, "dimension_1": "sku", "measures": ["refunds"], "chart": "bar"})
    assert not form.is_valid()


def test_saved_params_are_validated(manager):
    report = SavedReport(name="x", report="sales", params={"period": "custom"}, owner=manager)
    with pytest.raises(Exception, match="Enter both dates"):
        report.full_clean()
    report = SavedReport(name="x", report="nope", params={}, owner=manager)
    with pytest.raises(Exception, match="Unknown report"):
        report.full_clean()


def test_subscription_schedule_created_updated_removed(manager, book):
    saved = SavedReport.objects.create(
        name="Weekly sales", report="sales", params={"grain": "day"}, owner=manager
    )
    subscription = ReportSubscription.objects.create(
        report=saved, frequency="weekly", recipients="boss@example.com, cfo@example.com"
    )
    sync_subscription_schedule(subscription)
    schedule = Schedule.objects.get(pk=subscription.schedule_id)
    assert schedule.func == "reports.tasks.deliver_subscription_task"
    assert schedule.schedule_type == "W" and schedule.args == str(subscription.pk)
    assert schedule.next_run.astimezone(at("2025-01-01 00:00").tzinfo).weekday() == 0
    subscription.frequency = "monthly"
    subscription.save()
    sync_subscription_schedule(subscription)
    schedule.refresh_from_db()
    assert schedule.schedule_type == "M"
    assert Schedule.objects.filter(name__startswith="report-subscription-").count() == 1
    subscription.is_active = False
    subscription.save()
    sync_subscription_schedule(subscription)
    assert not Schedule.objects.filter(name__startswith="report-subscription-").exists()


def test_next_run_times(manager):
    sub = ReportSubscription(frequency="daily", send_time=dt.time(7, 0))
    assert next_run_at(sub, at("2025-03-05 06:00")) == at("2025-03-05 07:00")
    assert next_run_at(sub, at("2025-03-05 08:00")) == at("2025-03-06 07:00")
    sub.frequency = "weekly"
    assert next_run_at(sub, at("2025-03-05 08:00")) == at("2025-03-10 07:00")
    sub.frequency = "monthly"
    assert next_run_at(sub, at("2025-03-05 08:00")) == at("2025-04-01 07:00")


def test_delivery_mails_the_workbook(manager, book, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    saved = SavedReport.objects.create(name="Monthly channels", report="channels", params={}, owner=manager)
    subscription = ReportSubscription.objects.create(
        report=saved, frequency="monthly", recipients="boss@example.com"
    )
    with mock.patch("reports.forms.local_today", return_value=dt.date(2025, 4, 2)):
        assert deliver_subscription(subscription.pk) == 1
    message = mail.outbox[0]
    assert message.to == ["boss@example.com"]
    name, content, mimetype = message.attachments[0]
    assert name.endswith(".xlsx") and "spreadsheetml" in mimetype
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    cells = [c.value for row in ws.iter_rows() for c in row]
    assert "2025-03-01 – 2025-03-31" in cells  # last month
    assert "Shop A" in cells
    subscription.refresh_from_db()
    assert subscription.last_sent_at is not None


def test_subscription_admin_save_creates_schedule(manager_client, manager, book):
    saved = SavedReport.objects.create(name="Daily", report="sales", params={}, owner=manager)
    response = manager_client.post(
        reverse("admin:reports_reportsubscription_add"),
        {
            "report": saved.pk,
            "frequency": "daily",
            "send_time": "07:30",
            "recipients": "a@example.com",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    subscription = ReportSubscription.objects.get()
    assert subscription.schedule.schedule_type == "D"


def test_run_saved_report_with_period_override(manager, book):
    saved = SavedReport.objects.create(name="S", report="sales", params={"grain": "month"}, owner=manager)
    with mock.patch("reports.forms.local_today", return_value=dt.date(2025, 4, 2)):
        result = run_saved_report(saved, period="last_month")
    assert result.sections[0].totals["revenue"] == 720


def test_headline_figures(rf, manager, book):
    from orders.models import Order

    Order.objects.filter(pk=book.o1.pk).update(exception_reason="address_incomplete")
    request = rf.get("/admin/")
    request.user = manager
    figures = {f["code"]: f for f in headline_figures(request, today=dt.date(2025, 3, 31))["figures"]}
    orders = figures["orders"]
    assert orders["today"] == 1 and len(orders["series"]) == 14
    # This week: Monday 31 March only (O5).
    assert orders["week"] == 1
    assert orders["series"][-16 + 14 + 1] == 1  # 18 March .. 31 March; O3 on 16 March is outside
    assert figures["revenue"]["today"] == 120
    assert figures["exceptions"]["value"] == 1
    assert "placed_at_from=2025-03-31" in orders["url"]
    assert figures["to_ship"]["url"].endswith("status__exact=awaiting_shipment&stock_status__exact=reserved")
    request.user = UserFactory(username="nobody")
    assert headline_figures(request) == {}


def test_dashboard_snippet_renders(rf, manager, book):
    from django.template.loader import render_to_string

    request = rf.get("/admin/")
    request.user = manager
    html = render_to_string("reports/_dashboard_figures.html", {"headline": headline_figures(request)})
    assert "data-sparkline" in html and "reports/vendor/chart.umd.js" in html
