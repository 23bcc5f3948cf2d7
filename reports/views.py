"""Admin pages of the reports app (mounted by SavedReportAdmin.get_urls): the catalogue, a built-in report,
a saved report and the report builder. Each renders any ReportResult the same way: filters, chart, table,
Excel export.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.widgets import UnfoldAdminSelectMultipleWidget, UnfoldAdminTextInputWidget

from reports.builder import BuilderForm
from reports.charts import chart_payload
from reports.excel import workbook_bytes, workbook_filename
from reports.forms import ReportForm, form_from_json, local_today
from reports.models import CUSTOM, SavedReport
from reports.queries import local_tz
from reports.registry import ReportResult, Section, all_reports, get_report
from reports.services import form_class_for, run_form

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def format_value(value: Any, kind: str) -> str:
    """A cell as a manager reads it on screen (Excel gets the raw typed value)."""
    if value is None or value == "":
        return "—" if kind != "text" else ""
    if kind == "int":
        return f"{int(value):,}"
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if kind in {"float", "hours", "days"}:
        return f"{float(value):,.1f}"
    if isinstance(value, dt.datetime):
        return value.astimezone(local_tz()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def section_context(section: Section, index: int) -> dict[str, Any]:
    """What the template needs for one section: formatted rows, totals, heat shades and chart data."""
    columns = section.columns
    heat_keys: set[str] = set()
    peak = 0.0
    chart = section.spec.chart
    if chart and chart.kind == "heatmap":
        heat_keys = set(chart.series)
        peak = max((float(row.get(k) or 0) for row in section.rows for k in heat_keys), default=0.0)
    rows = []
    for row in section.rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            shade = ""
            if column.key in heat_keys and peak:
                alpha = float(value or 0) / peak
                shade = f"background-color: rgba(0, 114, 178, {alpha:.2f}); color: {'#fff' if alpha > 0.55 else 'inherit'}"
            cells.append(
                {"text": format_value(value, column.kind), "numeric": column.numeric, "style": shade}
            )
        rows.append(cells)
    totals = None
    if section.totals is not None:
        totals = [
            {
                "text": format_value(section.totals.get(c.key), c.kind)
                if c.numeric
                else (str(section.totals.get(c.key) or _("Total")) if i == 0 else ""),
                "numeric": c.numeric,
            }
            for i, c in enumerate(columns)
        ]
    payload = chart_payload(section) if chart and chart.kind != "heatmap" else None
    return {
        "title": section.spec.title,
        "description": section.spec.description,
        "note": section.note,
        "columns": columns,
        "rows": rows,
        "totals": totals,
        "chart": payload,
        "chart_id": f"report-chart-{index}",
        "data_id": f"report-chart-{index}-data",
        "heatmap": bool(heat_keys),
    }


def _excel_response(result: ReportResult) -> HttpResponse:
    """The result as a downloaded workbook."""
    response = HttpResponse(workbook_bytes(result), content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="{workbook_filename(result, local_today())}"'
    return response


def _render(request: HttpRequest, model_admin, template: str, context: dict[str, Any]) -> TemplateResponse:
    """An admin page with the site's context (sidebar, branding)."""
    base = {**model_admin.admin_site.each_context(request), "opts": model_admin.model._meta}
    return TemplateResponse(request, template, {**base, **context})


def _result_context(result: ReportResult | None) -> dict[str, Any]:
    """Sections, filters and notes of a result for the template."""
    if result is None:
        return {"sections": [], "filters": [], "notes": []}
    return {
        "sections": [section_context(section, index) for index, section in enumerate(result.sections)],
        "filters": result.filters,
        "notes": result.notes,
    }


class SaveReportForm(forms.Form):
    """Keep the current filters as a named report, optionally shared with groups."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, widget=UnfoldAdminTextInputWidget)
    shared_with = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Share with groups"),
        queryset=Group.objects.all(),
        required=False,
        widget=UnfoldAdminSelectMultipleWidget(attrs={"size": 3}),
    )


def catalog_view(request: HttpRequest, model_admin) -> TemplateResponse:
    """The list of built-in reports and of the saved reports the user may open."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    saved = SavedReport.objects.visible_to(request.user).select_related("owner")
    built_in = {spec.code: spec for spec in all_reports()}
    return _render(
        request,
        model_admin,
        "admin/reports/catalog.html",
        {
            "title": _("Reports"),
            "reports": all_reports(),
            "saved_reports": [(r, built_in.get(r.report)) for r in saved],
            "can_build": model_admin.has_add_permission(request),
        },
    )


def report_view(request: HttpRequest, model_admin, code: str) -> HttpResponse:
    """A built-in report: filters from the query string, table + chart, Excel with ?format=xlsx, save on POST."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    try:
        spec = get_report(code)
    except KeyError:
        raise Http404(_("No such report."))
    form: ReportForm = spec.form_class(request.GET or None)
    save_form = SaveReportForm(request.POST or None)
    if request.method == "POST":
        if not model_admin.has_add_permission(request):
            raise PermissionDenied
        form = spec.form_class(request.POST)
        if form.is_valid() and save_form.is_valid():
            saved = SavedReport.objects.create(
                name=save_form.cleaned_data["name"], report=code, params=form.to_json(), owner=request.user
            )
            saved.shared_with.set(save_form.cleaned_data["shared_with"])
            messages.success(request, _("Saved “%(name)s”.") % {"name": saved.name})
            return HttpResponseRedirect(reverse("admin:reports_savedreport_open", args=[saved.pk]))
    if not request.GET and request.method == "GET":
        form = spec.form_class(data=_initial_data(spec.form_class()))
    result = run_form(code, form) if form.is_valid() else None
    if result is not None and request.GET.get("format") == "xlsx":
        return _excel_response(result)
    return _render(
        request,
        model_admin,
        "admin/reports/report.html",
        {
            "title": spec.title,
            "description": spec.description,
            "form": form,
            "save_form": save_form if model_admin.has_add_permission(request) else None,
            "export_query": _export_query(request),
            "save_data": _form_pairs(form),
            **_result_context(result),
        },
    )


def _form_pairs(form: forms.Form) -> list[tuple[str, Any]]:
    """The bound form's data as (name, value) pairs for hidden inputs (lists give one pair per item)."""
    pairs = []
    data = form.data
    for key in data:
        if key == "format":
            continue
        values = data.getlist(key) if hasattr(data, "getlist") else data[key]
        for value in values if isinstance(values, list | tuple) else [values]:
            pairs.append((key, value))
    return pairs


def _initial_data(form: forms.Form) -> dict[str, Any]:
    """A form's initial values as data, so a report opens with its defaults already run."""
    data = {}
    for name, field_ in form.fields.items():
        initial = form.get_initial_for_field(field_, name)
        if initial not in (None, "", []):
            data[name] = initial
    return data


def _export_query(request: HttpRequest) -> str:
    """The current query string with format=xlsx."""
    query = request.GET.copy()
    query["format"] = "xlsx"
    return query.urlencode()


def saved_report_view(request: HttpRequest, model_admin, pk: int) -> HttpResponse:
    """A saved report, with its stored filters; the period and filters may be changed for this view only."""
    saved = get_object_or_404(SavedReport.objects.visible_to(request.user), pk=pk)
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form_class = form_class_for(saved.report)
    if request.GET.get("period"):
        form = form_class(request.GET)
        if saved.is_custom:
            data = request.GET.copy()
            for key, value in (saved.params or {}).items():
                if key not in data and value not in (None, ""):
                    if isinstance(value, list):
                        data.setlist(key, [str(v) for v in value])
                    else:
                        data[key] = value
            form = form_class(data)
    else:
        form = form_from_json(form_class, saved.params)
    result = run_form(saved.report, form, title=saved.name) if form.is_valid() else None
    if result is not None and request.GET.get("format") == "xlsx":
        return _excel_response(result)
    spec = None if saved.is_custom else get_report(saved.report)
    return _render(
        request,
        model_admin,
        "admin/reports/report.html",
        {
            "title": saved.name,
            "description": saved.description or (spec.description if spec else ""),
            "form": form,
            "hide_options": saved.is_custom,
            "saved": saved,
            "export_query": _export_query(request) if request.GET else "format=xlsx",
            "edit_url": reverse("admin:reports_savedreport_build_edit", args=[saved.pk])
            if saved.is_custom and model_admin.has_change_permission(request, saved)
            else None,
            **_result_context(result),
        },
    )


class BuilderSaveForm(SaveReportForm):
    """Name and sharing of a custom report (the definition comes from BuilderForm)."""

    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=UnfoldAdminTextInputWidget
    )


def builder_view(request: HttpRequest, model_admin, pk: int | None = None) -> HttpResponse:
    """The report builder: pick dimensions, measures and filters, preview, save (and share)."""
    saved = None
    if pk is not None:
        saved = get_object_or_404(SavedReport.objects.visible_to(request.user), pk=pk, report=CUSTOM)
        if not model_admin.has_change_permission(request, saved):
            raise PermissionDenied
    elif not model_admin.has_add_permission(request):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else (request.GET or None)
    if data is None and saved is not None:
        form = form_from_json(BuilderForm, saved.params)
    else:
        form = BuilderForm(data)
    initial = (
        {"name": saved.name, "description": saved.description, "shared_with": saved.shared_with.all()}
        if saved
        else {}
    )
    save_form = BuilderSaveForm(request.POST if request.method == "POST" else None, initial=initial)
    result = None
    if form.is_bound and form.is_valid():
        if request.method == "POST" and save_form.is_valid():
            if saved is None:
                saved = SavedReport(report=CUSTOM, owner=request.user)
            saved.name = save_form.cleaned_data["name"]
            saved.description = save_form.cleaned_data["description"]
            saved.params = form.to_json()
            saved.full_clean()
            saved.save()
            saved.shared_with.set(save_form.cleaned_data["shared_with"])
            messages.success(request, _("Saved “%(name)s”.") % {"name": saved.name})
            return HttpResponseRedirect(reverse("admin:reports_savedreport_open", args=[saved.pk]))
        result = run_form(CUSTOM, form, title=(saved.name if saved else _("Custom report")))
        if request.GET.get("format") == "xlsx":
            return _excel_response(result)
    return _render(
        request,
        model_admin,
        "admin/reports/builder.html",
        {
            "title": _("Edit custom report") if saved else _("New custom report"),
            "form": form,
            "save_form": save_form,
            "saved": saved,
            "export_query": _export_query(request),
            **_result_context(result),
        },
    )
