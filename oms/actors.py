"""Who caused a change: a user, a rule, a channel sync, an import, the API or the system itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class ActorKind(models.TextChoices):
    """The kinds of actor recorded on every timeline event."""

    USER = "user", _("User")
    RULE = "rule", _("Rule")
    CHANNEL = "channel", _("Channel sync")
    IMPORT = "import", _("Import")
    API = "api", _("API")
    SYSTEM = "system", _("System")


@dataclass(frozen=True)
class Actor:
    """The cause of a change, passed to every service and stored on the events it writes."""

    kind: str
    user: Any = None
    label: str = ""

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        """A person acting in the admin or the warehouse page."""
        return cls(ActorKind.USER, user=user, label=user.get_username() if user else "")

    @classmethod
    def api(cls, user: Any) -> Actor:
        """An integration calling the REST API with its token."""
        return cls(ActorKind.API, user=user, label=user.get_username() if user else "api")

    @classmethod
    def rule(cls, name: str) -> Actor:
        """An automation rule."""
        return cls(ActorKind.RULE, label=name)

    @classmethod
    def channel(cls, code: str) -> Actor:
        """A channel sync or webhook."""
        return cls(ActorKind.CHANNEL, label=code)

    @classmethod
    def importer(cls, source: str) -> Actor:
        """A spreadsheet import (label: the file name)."""
        return cls(ActorKind.IMPORT, label=source)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        """OMS itself (schedules, demo data)."""
        return cls(ActorKind.SYSTEM, label=label)

    @property
    def user_id(self) -> int | None:
        """Primary key of the acting user, if any."""
        return getattr(self.user, "pk", None)

    def __str__(self) -> str:
        return f"{self.kind}:{self.label}"
