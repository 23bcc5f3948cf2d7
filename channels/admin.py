"""Admin of the channels app: channels with write-only credentials, mappings with a preview, sync runs with live
progress, channel orders (raw payload, push back), webhook deliveries and completeness checks.

Every write goes through channels.services; admin actions only call them.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldBooleanSwitchWidget

from channels import services
from channels.choices import PushbackStatus, SyncRunStatus, SyncTrigger
from channels.crypto import key_source
from channels.mapping import ChannelMapping, FieldRule, load_mapping, preview
from channels.models import (
    Channel,
    ChannelOrder,
    CompletenessCheck,
    FieldMapping,
    StatusMapping,
    SyncRun,
    WebhookDelivery,
)

SECRET_FIELDS = ("app_key", "app_secret", "access_token", "shop_id")


def _secret_field(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Write-only: leave empty to keep the stored value. Stored values are never shown."),
    )


class ChannelAdminForm(forms.ModelForm):
    """The channel form; credentials are write-only fields encrypted by the service, never rendered back."""

    app_key = _secret_field(_("app key"))
    app_secret = _secret_field(_("app secret"))
    access_token = _secret_field(_("access token"))
    shop_id = _secret_field(_("shop id"))
    clear_credentials = forms.BooleanField(
        label=_("forget stored credentials"), required=False, widget=UnfoldBooleanSwitchWidget
    )

    class Meta:
        model = Channel
        fields = (
            "code",
            "name",
            "platform",
            "currency",
            "is_active",
            "default_warehouse",
            "api_base_url",
            "sync_enabled",
            "sync_interval_minutes",
            "initial_sync_days",
            "sync_cursor",
        )


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    """Shops on platforms: connection, credentials (write-only), sync settings and actions."""

    form = ChannelAdminForm
    list_display = (
        "code",
        "name",
        "platform",
        "is_active",
        "sync_enabled",
        "sync_interval_minutes",
        "last_synced_at",
        "sync_cursor",
        "credentials_display",
    )
    list_filter = ("platform", "is_active", "sync_enabled")
    search_fields = ("code", "name")
    readonly_fields = ("credentials_status", "last_synced_at", "webhook_url")
    actions = ("sync_now", "load_default_mappings", "check_completeness")
    fieldsets = (
        (None, {"fields": ("code", "name", "platform", "currency", "is_active", "default_warehouse")}),
        (_("Connection"), {"fields": ("api_base_url", "webhook_url")}),
        (
            _("Credentials"),
            {
                "fields": ("credentials_status", *SECRET_FIELDS, "clear_credentials"),
                "description": _("Encrypted at rest; a stored value is never displayed or logged."),
            },
        ),
        (
            _("Sync"),
            {
                "fields": (
                    "sync_enabled",
                    "sync_interval_minutes",
                    "initial_sync_days",
                    "sync_cursor",
                    "last_synced_at",
                )
            },
        ),
    )

    @display(description=_("credentials"), boolean=True)
    def credentials_display(self, obj: Channel) -> bool:
        return obj.has_credentials

    @display(description=_("stored credentials"))
    def credentials_status(self, obj: Channel) -> str:
        if not obj.pk or not obj.has_credentials:
            return _("none stored")
        note = _("stored, encrypted (updated %(when)s)") % {"when": obj.credentials_updated_at or "-"}
        if key_source() == "derived":
            note += " — " + str(_("key derived from SECRET_KEY (development only): set OMS_CREDENTIALS_KEY"))
        return note

    @display(description=_("webhook URL"))
    def webhook_url(self, obj: Channel) -> str:
        return reverse("channels:webhook", kwargs={"code": obj.code}) if obj.pk else "-"

    def save_model(self, request: HttpRequest, obj: Channel, form, change: bool) -> None:
        """Save, then store credentials and match the sync schedule through the services (no signals)."""
        super().save_model(request, obj, form, change)
        if form.cleaned_data.get("clear_credentials"):
            services.clear_credentials(obj)
        values = {name: form.cleaned_data.get(name) or "" for name in SECRET_FIELDS}
        if any(values.values()):
            services.set_credentials(obj, **values)
        services.configure_sync_schedule(obj)

    @action(description=_("Sync now"), permissions=["change"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        from channels.tasks import enqueue_sync

        for channel in queryset:
            enqueue_sync(channel, trigger=SyncTrigger.MANUAL)
        self.message_user(
            request, _("Sync queued for %(n)s channels; follow it under Sync runs.") % {"n": len(queryset)}
        )

    @action(description=_("Load the platforms' default status mappings"), permissions=["change"])
    def load_default_mappings(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        added = sum(
            services.load_default_status_mappings(p) for p in set(queryset.values_list("platform", flat=True))
        )
        self.message_user(request, _("%(n)s default mappings added.") % {"n": added})

    @action(description=_("Check completeness (last 7 days)"), permissions=["view"])
    def check_completeness(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        gaps = 0
        for channel in queryset:
            gaps += sum(1 for check in services.check_recent_days(channel, 7) if not check.is_complete)
        level = messages.WARNING if gaps else messages.SUCCESS
        self.message_user(
            request, _("%(n)s channel-days with missing orders or errors.") % {"n": gaps}, level
        )


@admin.register(StatusMapping)
class StatusMappingAdmin(ModelAdmin):
    """Platform status → OMS status; rows without a channel are the platform defaults."""

    list_display = ("platform", "channel", "platform_status", "internal_status", "stored_orders", "note")
    list_editable = ("internal_status",)
    list_filter = ("platform", "channel", "internal_status")
    search_fields = ("platform_status",)
    autocomplete_fields = ("channel",)

    @display(description=_("stored orders with this status"))
    def stored_orders(self, obj: StatusMapping) -> int:
        orders = ChannelOrder.objects.filter(
            platform_status=obj.platform_status, channel__platform=obj.platform
        )
        if obj.channel_id:
            orders = orders.filter(channel_id=obj.channel_id)
        return orders.count()


class FieldMappingForm(forms.ModelForm):
    """A field mapping with a 'Preview' that shows what a stored raw payload becomes, without saving."""

    preview_external_id = forms.CharField(
        label=_("preview against order"),
        required=False,
        help_text=_("External id of a stored channel order; empty: the most recent one of the platform."),
    )

    class Meta:
        model = FieldMapping
        fields = ("platform", "channel", "source_path", "target_field", "transform", "is_active")

    def clean(self):
        cleaned = super().clean()
        if "_preview" not in self.data or self.errors:
            return cleaned
        self.preview = build_preview(
            platform=cleaned.get("platform"),
            channel=cleaned.get("channel"),
            rule=FieldRule(
                cleaned.get("source_path", ""), cleaned.get("target_field", ""), cleaned.get("transform", "")
            ),
            external_id=cleaned.get("preview_external_id", ""),
        )
        raise ValidationError(_("Preview only: nothing was saved. Check the result below, then save."))


def build_preview(
    *, platform: str, channel: Channel | None, rule: FieldRule | None, external_id: str = ""
) -> dict:
    """Preview a (possibly unsaved) field rule on a stored payload with the channel's other mappings."""
    from channels.services.sync import build_adapter

    payloads = ChannelOrder.objects.filter(channel__platform=platform).select_related("channel")
    if channel is not None:
        payloads = payloads.filter(channel=channel)
    if external_id:
        payloads = payloads.filter(external_id=external_id.strip())
    stored = payloads.order_by("-synced_at").first()
    if stored is None:
        return {"error": str(_("no stored payload to preview against"))}
    target = channel or stored.channel
    base = load_mapping(target)
    rules = [r for r in base.field_rules if rule is None or r.target != rule.target]
    if rule is not None:
        rules.append(rule)
    mapping = ChannelMapping(platform=base.platform, status_map=base.status_map, field_rules=tuple(rules))
    adapter = build_adapter(target)
    try:
        result = preview(stored.raw, adapter=adapter, channel=target, mapping=mapping)
    finally:
        adapter.close()
    result["source"] = f"{stored.channel.code}:{stored.external_id}"
    result["raw"] = json.dumps(stored.raw, ensure_ascii=False, indent=2)[:20000]
    return result


@admin.register(FieldMapping)
class FieldMappingAdmin(ModelAdmin):
    """Raw payload paths → order fields, with transforms and a preview on stored payloads before saving."""

    form = FieldMappingForm
    change_form_template = "admin/channels/fieldmapping/change_form.html"
    list_display = ("platform", "channel", "source_path", "target_field", "transform", "is_active")
    list_filter = ("platform", "channel", "is_active")
    search_fields = ("source_path",)
    autocomplete_fields = ("channel",)

    def render_change_form(self, request, context, *args, **kwargs):
        form = context.get("adminform").form if context.get("adminform") else None
        context["mapping_preview"] = getattr(form, "preview", None)
        return super().render_change_form(request, context, *args, **kwargs)


def _progress_bar(run: SyncRun) -> str:
    colour = {"running": "bg-primary-600", "succeeded": "bg-green-600", "failed": "bg-red-600"}[run.status]
    return format_html(
        '<div class="w-32 h-2 bg-base-200 rounded" title="{}%"><div class="h-2 rounded {}" style="width:{}%"></div></div>'
        '<span class="text-xs">{} · {}</span>',
        run.progress,
        colour,
        run.progress,
        _("%(p)s pages") % {"p": run.pages},
        _("%(r)s rows") % {"r": run.rows},
    )


@admin.register(SyncRun)
class SyncRunAdmin(ModelAdmin):
    """Sync runs, read-only; pages refresh themselves while a run is in progress."""

    change_form_template = "admin/channels/syncrun/change_form.html"
    change_list_template = "admin/channels/syncrun/change_list.html"
    list_display = (
        "channel",
        "status_display",
        "trigger",
        "started_at",
        "duration",
        "progress_display",
        "created",
        "updated",
        "unchanged",
        "failed",
        "conflicts",
    )
    list_filter = ("status", "trigger", "channel")
    list_select_related = ("channel",)
    date_hierarchy = "started_at"
    show_full_result_count = False
    readonly_fields = (
        "channel",
        "trigger",
        "status",
        "window_start",
        "window_end",
        "progress_display",
        "pages",
        "windows_total",
        "windows_done",
        "created",
        "updated",
        "unchanged",
        "failed",
        "conflicts",
        "cursor_after",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "duration",
        "errors_display",
    )
    exclude = ("errors", "progress")

    @display(description=_("status"), label={"running": "info", "succeeded": "success", "failed": "danger"})
    def status_display(self, obj: SyncRun) -> str:
        return obj.status

    @display(description=_("progress"))
    def progress_display(self, obj: SyncRun) -> str:
        return _progress_bar(obj)

    @display(description=_("errors"))
    def errors_display(self, obj: SyncRun) -> str:
        if not obj.errors:
            return "-"
        return format_html(
            "<pre class='text-xs whitespace-pre-wrap'>{}</pre>",
            json.dumps(obj.errors, ensure_ascii=False, indent=1),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "any_running": SyncRun.objects.filter(status=SyncRunStatus.RUNNING).exists(),
        }
        return super().changelist_view(request, extra_context)


@admin.register(ChannelOrder)
class ChannelOrderAdmin(ModelAdmin):
    """Platform orders as received: raw payload, import errors and the push back of tracking numbers."""

    list_display = (
        "external_id",
        "channel",
        "order_link",
        "platform_status",
        "platform_updated_at",
        "synced_at",
        "has_error",
        "pushback_status",
        "pushback_attempts",
    )
    list_filter = ("channel", "pushback_status", "platform_status")
    list_select_related = ("channel", "order")
    search_fields = ("=external_id",)
    show_full_result_count = False
    readonly_fields = (
        "channel",
        "external_id",
        "order_link",
        "platform_status",
        "platform_updated_at",
        "synced_at",
        "payload_hash",
        "last_error",
        "pushback_status",
        "pushback_error",
        "pushback_attempts",
        "pushback_next_at",
        "pushed_back_at",
        "raw_display",
    )
    exclude = ("raw", "order")
    actions = ("retry_pushback",)

    @display(description=_("order"))
    def order_link(self, obj: ChannelOrder) -> str:
        if not obj.order_id:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[obj.order_id]), obj.order
        )

    @display(description=_("import error"), boolean=True)
    def has_error(self, obj: ChannelOrder) -> bool:
        return bool(obj.last_error)

    @display(description=_("raw payload"))
    def raw_display(self, obj: ChannelOrder) -> str:
        return format_html(
            "<pre class='text-xs whitespace-pre-wrap'>{}</pre>",
            json.dumps(obj.raw, ensure_ascii=False, indent=2),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @action(description=_("Retry push back"), permissions=["change"])
    def retry_pushback(self, request: HttpRequest, queryset: QuerySet[ChannelOrder]) -> None:
        from channels.tasks import kick_pushback

        rows = list(queryset.filter(pushback_status__in=[PushbackStatus.FAILED, PushbackStatus.PENDING]))
        for row in rows:
            services.retry_pushback(row)
        for channel_id in {row.channel_id for row in rows}:
            kick_pushback(channel_id)
        self.message_user(request, _("%(n)s push backs queued again.") % {"n": len(rows)})


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    """Pushes received, including refused ones with the reason (never a signature or secret)."""

    list_display = ("received_at", "channel", "delivery_id", "topic", "status", "reason", "remote_addr")
    list_filter = ("status", "channel")
    search_fields = ("=delivery_id",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(CompletenessCheck)
class CompletenessCheckAdmin(ModelAdmin):
    """Platform order counts against OMS's per channel and day; a gap means orders to look for."""

    list_display = ("day", "channel", "platform_count", "oms_count", "missing_display", "error", "checked_at")
    list_filter = ("channel",)
    date_hierarchy = "day"
    actions = ("check_again",)

    @display(description=_("missing"), label={"ok": "success", "gap": "danger", "unknown": "warning"})
    def missing_display(self, obj: CompletenessCheck):
        if obj.missing is None:
            return "unknown", "?"
        return ("ok" if obj.is_complete else "gap"), obj.missing

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @action(description=_("Check again"), permissions=["view"])
    def check_again(self, request: HttpRequest, queryset: QuerySet[CompletenessCheck]) -> None:
        for check in queryset.select_related("channel"):
            services.check_completeness(check.channel, check.day)
        self.message_user(request, _("Checked again."))
