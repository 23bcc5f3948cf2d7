"""Import and export in the admin: order imports with preview and progress, saved profiles, list exports.

- ``ImportJobAdmin``: "Import orders" uploads a file, shows the preview (what will be created, updated or
  skipped, every error with row, column and value, the error workbook to download), imports on
  confirmation (all or nothing, or only the valid rows when the clerk chooses so), with a progress bar that
  refreshes itself for large files, and a result page. All the work is in orders/importing/.
- ``ImportProfileAdmin``: saved layouts (column → field, day first, default channel and status, sheet,
  encoding, unknown SKUs).
- ``ExportXlsxMixin``: any ModelAdmin gets "Export…" (the filtered list, .xlsx or .csv; orders: one row per
  order or per line) and "Export selected" actions; large exports run as an ``ExportJob`` in a task.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_q.tasks import async_task
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from channels.models import Channel
from orders.exporting import EXPORT_ASYNC_ROWS, export_orders, model_columns, write_export
from orders.importing.headers import FIELD_LABELS
from orders.importing.jobs import start_analysis, start_import
from orders.importing.profile import IGNORE
from orders.importing.readers import SUPPORTED_EXTENSIONS
from orders.models import ExportJob, ImportJob, ImportProfile, Order

FORMAT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


# --- export ---


class ExportForm(forms.Form):
    """What to export: format, and for orders one row per order or per line."""

    file_format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("xlsx", "Excel (.xlsx)"), ("csv", "CSV (.csv)")],
        initial="xlsx",
    )
    per_line = forms.TypedChoiceField(
        label=gettext_lazy("Rows"),
        choices=[("0", gettext_lazy("One row per order")), ("1", gettext_lazy("One row per order line"))],
        coerce=lambda v: v == "1",
        initial="0",
        required=False,
    )
    query = forms.CharField(widget=forms.HiddenInput, required=False)


class ExportXlsxMixin:
    """Adds exports to a ModelAdmin: the filtered list (button "Export…") and the selected rows (actions).

    Columns: ``export_fields`` if set, else ``list_display``; orders use the order export (importable
    headers, per order or per line). Over ``export_async_rows`` rows the export runs in a task.
    Use: ``class ProductAdmin(ExportXlsxMixin, ModelAdmin)``; a ModelAdmin with its own ``actions_list``
    adds ``"export_list_action"`` to it.
    """

    export_fields: list[str] | None = None
    export_async_rows = EXPORT_ASYNC_ROWS
    export_selection_actions = True
    """False where the ModelAdmin has its own export action for the selection (the order list)."""
    actions_list = ["export_list_action"]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)  # type: ignore[misc]
        if self.export_selection_actions and self.has_view_permission(request):  # type: ignore[attr-defined]
            for name, description in (
                ("export_selected_xlsx", _("Export selected to Excel (.xlsx)")),
                ("export_selected_csv", _("Export selected to CSV")),
            ):
                actions[name] = (getattr(type(self), name), name, description)
        return actions

    def export_selected_xlsx(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        """Admin action: the selected rows as .xlsx."""
        return self._export(
            request, queryset, "xlsx", per_line=False, ids=list(queryset.values_list("pk", flat=True))
        )

    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        """Admin action: the selected rows as .csv."""
        return self._export(
            request, queryset, "csv", per_line=False, ids=list(queryset.values_list("pk", flat=True))
        )

    @action(description=gettext_lazy("Export…"), url_path="export", icon="download")
    def export_list_action(self, request: HttpRequest) -> HttpResponse:
        """The "Export…" page: choose format and rows, then download the list as filtered on screen."""
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        opts = self.model._meta  # type: ignore[attr-defined]
        changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        if request.method == "POST":
            form = ExportForm(request.POST)
            if form.is_valid():
                query = form.cleaned_data["query"]
                queryset = self._filtered(request, query)
                return self._export(
                    request,
                    queryset,
                    form.cleaned_data["file_format"],
                    per_line=bool(form.cleaned_data["per_line"]),
                    query=query,
                )
        else:
            referer = urlsplit(request.META.get("HTTP_REFERER", ""))
            query = referer.query if referer.path == changelist else request.GET.urlencode()
            form = ExportForm(initial={"query": query})
        query = form["query"].value() or ""
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": _("Export %(list)s") % {"list": opts.verbose_name_plural},
            "opts": opts,
            "form": form,
            "count": self._filtered(request, query).count(),
            "is_orders": self.model is Order,  # type: ignore[attr-defined]
            "filtered": bool(query),
            "changelist_url": f"{changelist}?{query}" if query else changelist,
            "async_rows": self.export_async_rows,
        }
        return TemplateResponse(request, "admin/orders/import_export_options.html", context)

    def _filtered(self, request: HttpRequest, query: str) -> QuerySet:
        """The queryset of the changelist with the filters, search and ordering of ``query``."""
        from django.http import QueryDict

        original = request.GET
        request.GET = QueryDict(query)
        try:
            changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
            return changelist.get_queryset(request)
        finally:
            request.GET = original

    def _export(
        self,
        request: HttpRequest,
        queryset: QuerySet,
        fmt: str,
        *,
        per_line: bool,
        query: str = "",
        ids: list[Any] | None = None,
    ) -> HttpResponse:
        model = self.model  # type: ignore[attr-defined]
        if queryset.count() > self.export_async_rows:
            job = ExportJob.objects.create(
                model_label=model._meta.label_lower,
                query=query[:2000],
                ids=ids,
                file_format=fmt,
                per_line=per_line,
                created_by=request.user,
            )
            async_task("orders.tasks.run_export_task", job.pk, q_options={"task_name": f"export {job.pk}"})
            messages.info(request, _("The export runs in the background; download it here when it is ready."))
            return HttpResponseRedirect(reverse("admin:orders_exportjob_change", args=[job.pk]))
        name = f"{model._meta.model_name}-{timezone.localtime():%Y%m%d-%H%M%S}.{fmt}"
        if model is Order:
            import tempfile

            handle = tempfile.TemporaryFile()  # noqa: SIM115  (the response closes it)
            export_orders(queryset, handle, fmt=fmt, per_line=per_line)
            handle.seek(0)
        else:
            handle, _count = write_export(
                fmt,
                model_columns(self, request),
                queryset.iterator(chunk_size=2000),
                title=str(model._meta.verbose_name_plural),
            )
        return FileResponse(handle, as_attachment=True, filename=name, content_type=FORMAT_TYPES[fmt])


# --- import profiles ---


class ImportProfileForm(forms.ModelForm):
    """The profile form, with the known fields listed under the mapping."""

    class Meta:
        model = ImportProfile
        fields = [
            "name",
            "column_mapping",
            "day_first",
            "default_channel",
            "default_status",
            "sheet_name",
            "encoding",
            "timezone",
            "create_unknown_skus",
        ]
        widgets = {"column_mapping": forms.Textarea(attrs={"rows": 8, "style": "font-family: monospace"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        known = ", ".join(f"{name} ({label})" for name, label in FIELD_LABELS.items())
        self.fields["column_mapping"].help_text = _(
            'Column header → field, as JSON, e.g. {"单号": "external_order_id", "备注2": "%(ignore)s"}. '
            "Fields: %(known)s."
        ) % {"ignore": IGNORE, "known": known}


@admin.register(ImportProfile)
class ImportProfileAdmin(ExportXlsxMixin, ModelAdmin):
    """Saved spreadsheet layouts a manager reuses for a recurring file."""

    form = ImportProfileForm
    list_display = (
        "name",
        "default_channel",
        "default_status",
        "day_first",
        "create_unknown_skus",
        "updated_at",
    )
    search_fields = ("name",)
    readonly_fields = ("created_by", "updated_at")

    def save_model(self, request: HttpRequest, obj: ImportProfile, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


# --- import jobs ---


class UploadForm(forms.Form):
    """The file to import and how to read it."""

    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy(".xlsx, .xls, .ods, .csv or .txt; up to 50 MB."),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(SUPPORTED_EXTENSIONS)}),
    )
    profile = forms.ModelChoiceField(
        label=gettext_lazy("Import profile"),
        queryset=ImportProfile.objects.all(),
        required=False,
        help_text=gettext_lazy("A saved layout; leave empty for the usual Taobao/Tmall and English headers."),
    )
    channel = forms.ModelChoiceField(
        label=gettext_lazy("Channel"),
        queryset=Channel.objects.filter(is_active=True),
        required=False,
        help_text=gettext_lazy("For rows without a channel column (overrides the profile's)."),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not name.endswith(SUPPORTED_EXTENSIONS):
            raise forms.ValidationError(
                _("Unsupported file type; use .xlsx, .xls, .ods, .csv or .txt."), code="unsupported_type"
            )
        return upload


@admin.register(ImportJob)
class ImportJobAdmin(ExportXlsxMixin, ModelAdmin):
    """Order imports: upload → preview → import (inline or in a task, with progress) → result."""

    list_display = (
        "filename",
        "status_badge",
        "progress_display",
        "counts_display",
        "created_by",
        "created_at",
    )
    list_filter = ("status",)
    search_fields = ("filename",)
    list_select_related = ("created_by",)
    actions_list = ["import_orders_action", "export_list_action"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # jobs are written by the import, never edited

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("orders.add_importjob") and request.user.has_perm("orders.add_order")

    @display(description=gettext_lazy("status"), label=True)
    def status_badge(self, job: ImportJob) -> str:
        return job.get_status_display()

    @display(description=gettext_lazy("progress"))
    def progress_display(self, job: ImportJob) -> str:
        return f"{job.percent}%"

    @display(description=gettext_lazy("created / updated / unchanged / errors"))
    def counts_display(self, job: ImportJob) -> str:
        s = job.summary or {}
        return f"{s.get('created', 0)} / {s.get('updated', 0)} / {s.get('skipped', 0)} / {s.get('error_count', 0)}"

    @action(description=gettext_lazy("Import orders"), url_path="upload", icon="upload", permissions=["add"])
    def import_orders_action(self, request: HttpRequest) -> HttpResponse:
        """The upload page."""
        return HttpResponseRedirect(reverse("admin:orders_importjob_add"))

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/confirm/", wrap(self.confirm_view), name="orders_importjob_confirm"),
            path("<int:pk>/errors.xlsx", wrap(self.errors_view), name="orders_importjob_errors"),
            path("<int:pk>/progress.json", wrap(self.progress_view), name="orders_importjob_progress"),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """Upload a file: store it as a job and analyse it (inline for small files, else in a task)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = ImportJob(
                filename=upload.name[:255],
                profile=form.cleaned_data["profile"],
                channel=form.cleaned_data["channel"],
                created_by=request.user,
            )
            job.file.save(upload.name, upload, save=False)
            job.save()
            start_analysis(job)
            return HttpResponseRedirect(reverse("admin:orders_importjob_change", args=[job.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import orders"),
            "opts": self.model._meta,
            "form": form,
            "profiles": ImportProfile.objects.exists(),
        }
        return TemplateResponse(request, "admin/orders/import_upload.html", context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The job page: analysing/importing (progress, refreshes itself), preview, or result."""
        job = get_object_or_404(
            ImportJob.objects.select_related("profile", "channel", "created_by"), pk=object_id
        )
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        summary = job.summary or {}
        running = job.status in (
            ImportJob.Status.ANALYSING,
            ImportJob.Status.QUEUED,
            ImportJob.Status.RUNNING,
        )
        context = {
            **self.admin_site.each_context(request),
            "title": job.filename,
            "opts": self.model._meta,
            "job": job,
            "summary": summary,
            "running": running,
            "can_import": job.status == ImportJob.Status.PREVIEWED
            and request.user.has_perm("orders.add_order")
            and not summary.get("error_count"),
            "can_import_valid": job.status == ImportJob.Status.PREVIEWED
            and request.user.has_perm("orders.add_order")
            and bool(summary.get("error_count"))
            and bool(summary.get("created") or summary.get("updated")),
            "more_errors": max(0, summary.get("error_count", 0) - len(summary.get("errors", []))),
            "upload_url": reverse("admin:orders_importjob_add"),
            "orders_url": reverse("admin:orders_order_changelist"),
        }
        return TemplateResponse(request, "admin/orders/import_job.html", context)

    def confirm_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Import a previewed job (POST): everything, or only the valid rows when asked explicitly."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("orders.add_order"):
            raise PermissionDenied
        job = get_object_or_404(ImportJob, pk=pk)
        valid_only = request.POST.get("valid_only") == "1"
        if (job.summary or {}).get("error_count") and not valid_only:
            messages.error(
                request, _("The file has errors: fix them, or choose to import only the valid rows.")
            )
        else:
            start_import(job, valid_only=valid_only)
        return HttpResponseRedirect(reverse("admin:orders_importjob_change", args=[job.pk]))

    def errors_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Download the error workbook: the failed rows as they were, with the reasons, ready to fix."""
        job = get_object_or_404(ImportJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        if not job.error_workbook:
            raise Http404(_("This import has no error workbook."))
        stem = job.filename.rsplit(".", 1)[0]
        return FileResponse(
            job.error_workbook.open("rb"),
            as_attachment=True,
            filename=f"{stem}-errors.xlsx",
            content_type=FORMAT_TYPES["xlsx"],
        )

    def progress_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """Progress as JSON, for scripts and the page's refresh."""
        job = get_object_or_404(ImportJob, pk=pk)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return JsonResponse(
            {
                "status": job.status,
                "finished": job.is_finished or job.status == ImportJob.Status.PREVIEWED,
                "rows_total": job.rows_total,
                "rows_done": job.rows_done,
                "percent": job.percent,
                "rows_per_second": job.rows_per_second,
                "seconds_left": job.seconds_left,
            }
        )


@admin.register(ExportJob)
class ExportJobAdmin(ModelAdmin):
    """Large exports written by a task, with their download link."""

    list_display = ("__str__", "status", "file_format", "rows_done", "download", "created_by", "created_at")
    list_filter = ("status",)
    list_select_related = ("created_by",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(created_by=request.user)

    @display(description=gettext_lazy("download"))
    def download(self, job: ExportJob) -> str:
        if job.status != ExportJob.Status.SUCCEEDED or not job.file:
            return "—"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_exportjob_download", args=[job.pk]), _("Download")
        )

    def get_urls(self) -> list:
        return [
            path(
                "<int:pk>/download/",
                self.admin_site.admin_view(self.download_view),
                name="orders_exportjob_download",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The export's page: progress (refreshes itself) until the download link appears."""
        job = get_object_or_404(self.get_queryset(request), pk=object_id)
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "opts": self.model._meta,
            "job": job,
            "running": job.status in (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING),
        }
        return TemplateResponse(request, "admin/orders/import_export_job.html", context)

    def download_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The exported file (only the user who asked for it, or a superuser)."""
        job = get_object_or_404(self.get_queryset(request), pk=pk, status=ExportJob.Status.SUCCEEDED)
        name = job.file.name.rsplit("/", 1)[-1]
        return FileResponse(
            job.file.open("rb"), as_attachment=True, filename=name, content_type=FORMAT_TYPES[job.file_format]
        )
