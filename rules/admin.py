"""Rules in the admin: managers write rules with a builder (or JSON), test them on an order, backtest them,
start from presets; runs, notifications, webhook calls, coupons and restricted regions alongside."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from rules import services
from rules.actions_spec import PRESETS
from rules.conditions import describe
from rules.forms import BacktestForm, RuleForm, RuleTestForm, builder_schema
from rules.models import Coupon, Notification, OutboxStatus, RestrictedRegion, Rule, RuleRun, WebhookCall


class ReadOnlyAdmin(ModelAdmin):
    """Records written by the engine: looked at, never typed in."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(ModelAdmin):
    """Rules with the condition/action builder, 'Test this rule', 'Backtest' and presets."""

    form = RuleForm
    list_display = ("name", "trigger_display", "summary", "priority", "enabled", "state", "updated_at")
    list_filter = ("enabled", "trigger")
    search_fields = ("name", "description")
    ordering = ("priority", "pk")
    readonly_fields = ("preset", "disabled_reason", "disabled_at", "last_error", "created_by", "updated_at")
    change_form_after_template = "admin/rules/rule/builder.html"
    change_list_template = "admin/rules/rule/change_list.html"
    actions = ("enable_rules", "disable_rules")
    fieldsets = (
        (None, {"fields": ("name", "description", "enabled", "preset")}),
        (_("When"), {"fields": ("trigger", "trigger_status", "active_from", "active_until")}),
        (_("If"), {"fields": ("conditions",)}),
        (_("Then"), {"fields": ("actions", "priority", "stop_after_match")}),
        (
            _("Schedule"),
            {
                "fields": (
                    "schedule_every_minutes",
                    "schedule_statuses",
                    "schedule_min_age_minutes",
                    "schedule_lookback_days",
                ),
                "classes": ("collapse",),
            },
        ),
        (
            _("Health"),
            {"fields": ("disabled_reason", "disabled_at", "last_error", "created_by", "updated_at")},
        ),
    )

    @display(description=_("trigger"), ordering="trigger")
    def trigger_display(self, rule: Rule) -> str:
        label = rule.get_trigger_display()
        if rule.trigger_status:
            label = f"{label} → {rule.get_trigger_status_display()}"
        return label

    @display(description=_("conditions"))
    def summary(self, rule: Rule) -> str:
        try:
            return describe(rule.conditions)[:160]
        except Exception:
            return gettext("(invalid)")

    @display(description=_("health"))
    def state(self, rule: Rule) -> str:
        if rule.disabled_reason and not rule.enabled:
            return format_html(
                '<span class="oms-exception" title="{}">{}</span>',
                rule.disabled_reason,
                _("disabled by an error"),
            )
        if rule.enabled and not rule.is_active_at():
            return gettext("outside its dates")
        return "✓" if rule.enabled else "—"

    def save_model(self, request: HttpRequest, obj: Rule, form, change: bool) -> None:
        services.save_rule(obj, user=request.user)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        broken = list(
            Rule.objects.filter(enabled=False)
            .exclude(disabled_reason="")
            .values_list("name", "disabled_reason")
        )
        for name, reason in broken[:5]:
            messages.warning(
                request,
                gettext("Rule '%(name)s' was disabled after an error: %(reason)s")
                % {"name": name, "reason": reason},
            )
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "builder_schema": builder_schema()}
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "builder_schema": builder_schema()}
        return super().add_view(request, form_url, extra_context)

    @admin.action(description=_("Enable selected rules"), permissions=["change"])
    def enable_rules(self, request: HttpRequest, queryset) -> None:
        for rule in queryset:
            rule.enabled = True
            services.save_rule(rule, user=request.user)
        self.message_user(request, gettext("%(n)d rules enabled.") % {"n": queryset.count()})

    @admin.action(description=_("Disable selected rules"), permissions=["change"])
    def disable_rules(self, request: HttpRequest, queryset) -> None:
        for rule in queryset:
            rule.enabled = False
            services.save_rule(rule, user=request.user)
        self.message_user(request, gettext("%(n)d rules disabled.") % {"n": queryset.count()})

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("presets/", wrap(self.presets_view), name="rules_rule_presets"),
            path("<int:pk>/test/", wrap(self.test_view), name="rules_rule_test"),
            path("<int:pk>/backtest/", wrap(self.backtest_view), name="rules_rule_backtest"),
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest, title: str, **extra) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "title": title, **extra}

    def presets_view(self, request: HttpRequest):
        """The ready-made rules; 'Create' copies one as a disabled rule to review and switch on."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:rules_rule_changelist"))
        if request.method == "POST":
            rule = services.create_rule_from_preset(request.POST.get("code", ""), user=request.user)
            messages.success(
                request,
                gettext("Rule '%(name)s' created (disabled): review it, then enable it.")
                % {"name": rule.name},
            )
            return HttpResponseRedirect(reverse("admin:rules_rule_change", args=[rule.pk]))
        presets = [
            {
                "code": p["code"],
                "name": p["name"],
                "description": p["description"],
                "conditions": describe(p["conditions"]),
            }
            for p in PRESETS
        ]
        return TemplateResponse(
            request,
            "admin/rules/rule/presets.html",
            self._context(request, gettext("Rule presets"), presets=presets),
        )

    def test_view(self, request: HttpRequest, pk: int):
        """'Test this rule' on one order: matched or not, each condition with the order's actual value."""
        rule = get_object_or_404(Rule, pk=pk)
        if not self.has_view_permission(request, rule):
            return HttpResponseRedirect(reverse("admin:index"))
        form = RuleTestForm(request.GET or None)
        outcome = services.try_rule(rule, form.cleaned_data["order_number"]) if form.is_valid() else None
        context = self._context(
            request,
            gettext("Test rule '%(name)s'") % {"name": rule.name},
            rule=rule,
            form=form,
            outcome=outcome,
        )
        return TemplateResponse(request, "admin/rules/rule/test.html", context)

    def backtest_view(self, request: HttpRequest, pk: int):
        """'Backtest': how many orders of the last N days the rule would have matched, with a sample."""
        rule = get_object_or_404(Rule, pk=pk)
        if not self.has_view_permission(request, rule):
            return HttpResponseRedirect(reverse("admin:index"))
        form = BacktestForm(request.GET or None)
        outcome = services.backtest_rule(rule, days=form.cleaned_data["days"]) if form.is_valid() else None
        context = self._context(
            request,
            gettext("Backtest rule '%(name)s'") % {"name": rule.name},
            rule=rule,
            form=form,
            outcome=outcome,
        )
        return TemplateResponse(request, "admin/rules/rule/backtest.html", context)


@admin.register(RuleRun)
class RuleRunAdmin(ReadOnlyAdmin):
    """Every firing: matched, actions done, errors and duration."""

    list_display = ("created_at", "rule", "order", "trigger", "matched", "outcome", "duration_ms")
    list_filter = ("trigger", "matched", "rule")
    list_select_related = ("rule", "order")
    search_fields = ("order__number", "rule__name")
    show_full_result_count = False

    @display(description=_("outcome"))
    def outcome(self, run: RuleRun) -> str:
        if run.errors:
            return format_html(
                '<span class="oms-exception">{}</span>', "; ".join(e.get("message", "") for e in run.errors)
            )
        return "; ".join(item.get("result") or item.get("skipped", "") for item in run.actions_done)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """SMS and emails rules sent, with status and retries; failed ones can be retried."""

    list_display = (
        "created_at",
        "channel",
        "recipient",
        "status",
        "attempts",
        "backend",
        "last_error",
        "order",
    )
    list_filter = ("status", "channel", "backend")
    list_select_related = ("order",)
    search_fields = ("recipient", "order__number")
    actions = ("retry_now",)
    show_full_result_count = False

    @admin.action(description=_("Retry now"), permissions=["view"])
    def retry_now(self, request: HttpRequest, queryset) -> None:
        from rules.notifications import retry_notifications_now

        ids = list(queryset.exclude(status=OutboxStatus.SENT).values_list("pk", flat=True))
        sent = retry_notifications_now(ids)
        self.message_user(request, gettext("%(sent)d of %(n)d sent.") % {"sent": sent, "n": len(ids)})


@admin.register(WebhookCall)
class WebhookCallAdmin(ReadOnlyAdmin):
    """Webhook calls rules made."""

    list_display = ("created_at", "url", "status", "attempts", "response_code", "last_error", "order")
    list_filter = ("status",)
    list_select_related = ("order",)


@admin.register(Coupon)
class CouponAdmin(ModelAdmin):
    """Coupons issued to customers: by which rule, valid until, redeemed or not."""

    list_display = ("code", "customer", "amount", "rule", "issued_at", "valid_until", "redeemed_at")
    list_filter = ("rule",)
    list_select_related = ("customer", "rule")
    search_fields = ("code", "customer__phone", "customer__name")
    readonly_fields = ("code", "customer", "rule", "order", "issued_at")
    raw_id_fields = ("redeemed_order",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RestrictedRegion)
class RestrictedRegionAdmin(ModelAdmin):
    """The regions the 'restricted region' fact (and the delay preset) treat as restricted."""

    list_display = ("__str__", "note", "is_active")
    list_editable = ("is_active",)
    list_filter = ("is_active",)
    search_fields = ("province", "city", "district")
