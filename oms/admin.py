"""Admin for shared infrastructure: outgoing webhook subscriptions and their delivery log."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from oms.models import WebhookDelivery, WebhookSubscription


class WebhookSubscriptionForm(forms.ModelForm):
    """Subscription form: events as checkboxes, the secret write-only."""

    events = forms.MultipleChoiceField(
        label=_("events"), choices=WebhookSubscription.Event.choices, widget=forms.CheckboxSelectMultiple
    )
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    secret = forms.CharField(
        label=_("signing secret"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("Leave empty to keep the current secret. It is never shown again."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "secret", "events", "is_active"]

    def clean_secret(self) -> str:
        """Keep the stored secret unless a new one is typed; a new subscription needs one."""
        secret = self.cleaned_data.get("secret", "")
        if not secret and not self.instance.pk:
            raise forms.ValidationError(_("A signing secret is required."))
        return secret or self.instance.secret


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ModelAdmin):
    """Managers add receivers, pick events, and re-activate paused ones."""

    form = WebhookSubscriptionForm
    list_display = ["name", "url", "is_active", "consecutive_failures", "paused_at", "pause_reason"]
    list_filter = ["is_active"]

    def save_model(self, request, obj, form, change) -> None:
        """Re-activating a paused subscription clears its failure count."""
        if obj.is_active and obj.paused_at:
            obj.paused_at, obj.pause_reason, obj.consecutive_failures = None, "", 0
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ModelAdmin):
    """Read-only log of every delivery and its last response."""

    list_display = [
        "event",
        "subscription",
        "status",
        "attempts",
        "response_code",
        "last_error",
        "created_at",
    ]
    list_filter = ["status", "event", "subscription"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
