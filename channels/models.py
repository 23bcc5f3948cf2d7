"""Sales channels. A Channel is one shop on one platform; orders reference it."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels.choices import Platform


class Channel(models.Model):
    """One shop on one sales platform (e.g. the merchant's Tmall flagship store)."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("shop name"), max_length=200)
    platform = models.CharField(_("platform"), max_length=20, choices=Platform.choices)
    currency = models.CharField(_("currency"), max_length=3, default=settings.OMS_CURRENCY)
    default_warehouse = models.ForeignKey(
        "orders.Warehouse",
        verbose_name=_("default warehouse"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(platform__in=Platform.values), name="channel_platform_valid"
            )
        ]

    def __str__(self) -> str:
        return self.name
