"""Admin of saved reports and subscriptions; SavedReportAdmin also mounts the report pages (get_urls)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminSelectWidget

from reports import services, views
from reports.models import CUSTOM, ReportSubscription, SavedReport
from reports.registry import report_choices


@admin.register(SavedReport)
class SavedReportAdmin(ModelAdmin):
    """Saved and custom reports, plus the catalogue, report, builder and export pages."""

    list_display = ("name", "report_display", "owner", "shared_display", "open_link", "updated_at")
    list_filter = ("report",)
    search_fields = ("name", "description")
    filter_horizontal = ("shared_with",)
    readonly_fields = ("owner", "created_at", "updated_at")
    fields = ("name", "description", "report", "params", "shared_with", "owner", "created_at", "updated_at")
    actions_list = ["open_catalog", "open_builder"]

    def get_urls(self):
        """The report pages live under this admin: catalog/, run/<code>/, <pk>/open/, build/."""
        wrap = self.admin_site.admin_view
        return [
            path("catalog/", wrap(lambda r: views.catalog_view(r, self)), name="reports_catalog"),
            path(
                "run/<slug:code>/", wrap(lambda r, code: views.report_view(r, self, code)), name="reports_run"
            ),
            path(
                "<int:pk>/open/",
                wrap(lambda r, pk: views.saved_report_view(r, self, pk)),
                name="reports_savedreport_open",
            ),
            path("build/", wrap(lambda r: views.builder_view(r, self)), name="reports_savedreport_build"),
            path(
                "build/<int:pk>/",
                wrap(lambda r, pk: views.builder_view(r, self, pk)),
                name="reports_savedreport_build_edit",
            ),
            *super().get_urls(),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Only the reports the user owns or that are shared with the user's groups."""
        return (
            super()
            .get_queryset(request)
            .visible_to(request.user)
            .select_related("owner")
            .prefetch_related("shared_with")
        )

    def formfield_for_dbfield(self, db_field, request: HttpRequest, **kwargs):
        """The report code is picked from the registry (or 'custom')."""
        if db_field.name == "report":
            return forms.ChoiceField(
                label=db_field.verbose_name,
                choices=[(CUSTOM, _("Custom")), *report_choices()],
                widget=UnfoldAdminSelectWidget,
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_change_permission(self, request: HttpRequest, obj: SavedReport | None = None) -> bool:
        """Only the owner (or a superuser) changes a saved report; others may open and export it."""
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or request.user.is_superuser or obj.owner_id == request.user.pk)

    def has_delete_permission(self, request: HttpRequest, obj: SavedReport | None = None) -> bool:
        """As for changes: the owner only."""
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or request.user.is_superuser or obj.owner_id == request.user.pk)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        """New reports are made in the builder or saved from a built-in report page."""
        return HttpResponseRedirect(reverse("admin:reports_savedreport_build"))

    def save_model(self, request: HttpRequest, obj: SavedReport, form, change: bool) -> None:
        """A new saved report belongs to whoever saves it."""
        if not obj.owner_id:
            obj.owner = request.user
        super().save_model(request, obj, form, change)

    @display(description=_("Report"))
    def report_display(self, obj: SavedReport) -> str:
        """The built-in report's title, or 'Custom'."""
        return _("Custom") if obj.report == CUSTOM else dict(report_choices()).get(obj.report, obj.report)

    @display(description=_("Shared with"))
    def shared_display(self, obj: SavedReport) -> str:
        """Group names."""
        return ", ".join(group.name for group in obj.shared_with.all())

    @display(description=_("Open"))
    def open_link(self, obj: SavedReport) -> str:
        """Links to the report page and its workbook."""
        url = reverse("admin:reports_savedreport_open", args=[obj.pk])
        return format_html('<a href="{}">{}</a> · <a href="{}?format=xlsx">Excel</a>', url, _("Open"), url)

    @action(description=_("All reports"), url_path="catalog-link", icon="monitoring")
    def open_catalog(self, request: HttpRequest):
        """Go to the report catalogue."""
        return HttpResponseRedirect(reverse("admin:reports_catalog"))

    @action(description=_("Build a report"), url_path="build-link", icon="add_chart", permissions=["add"])
    def open_builder(self, request: HttpRequest):
        """Go to the report builder."""
        return HttpResponseRedirect(reverse("admin:reports_savedreport_build"))


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(ModelAdmin):
    """E-mail subscriptions; saving one creates or updates its django-q2 schedule."""

    list_display = ("report", "frequency", "send_time", "recipients", "is_active", "last_sent_at", "next_run")
    list_filter = ("frequency", "is_active")
    readonly_fields = ("created_by", "last_sent_at", "next_run")
    fields = (
        "report",
        "frequency",
        "send_time",
        "recipients",
        "is_active",
        "created_by",
        "last_sent_at",
        "next_run",
    )
    actions = ["send_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        """Subscriptions of reports the user may see."""
        visible = SavedReport.objects.visible_to(request.user)
        return super().get_queryset(request).filter(report__in=visible).select_related("report", "schedule")

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        """Only reports the user may see can be subscribed to."""
        if db_field.name == "report":
            kwargs["queryset"] = SavedReport.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @display(description=_("Next delivery"))
    def next_run(self, obj: ReportSubscription):
        """When the schedule runs next."""
        return obj.schedule.next_run if obj.schedule_id else None

    def save_model(self, request: HttpRequest, obj: ReportSubscription, form, change: bool) -> None:
        """Save, then create or update the schedule through the service."""
        if not obj.created_by_id:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        services.sync_subscription_schedule(obj)

    def delete_model(self, request: HttpRequest, obj: ReportSubscription) -> None:
        """Delete with its schedule."""
        services.delete_subscription(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Bulk delete, each with its schedule."""
        for subscription in queryset:
            services.delete_subscription(subscription)

    @admin.action(description=_("Send now"), permissions=["change"])
    def send_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        """Queue an immediate delivery of each selected subscription."""
        from django_q.tasks import async_task

        for subscription in queryset:
            async_task("reports.tasks.deliver_subscription_task", subscription.pk)
        messages.success(request, _("Queued %(count)s deliveries.") % {"count": queryset.count()})
