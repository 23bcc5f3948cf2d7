"""`manage.py sync_channel CODE [--since ISO] [--until ISO]`: run one channel's sync in this process."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from channels.choices import SyncTrigger
from channels.models import Channel
from channels.services import SyncAlreadyRunning, sync_channel


def _moment(value: str | None, option: str):
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None or moment.tzinfo is None:
        raise CommandError(f"{option}: '{value}' is not an ISO 8601 time with a UTC offset")
    return moment


class Command(BaseCommand):
    """Sync one channel now, from its cursor or from --since; prints the run's counts."""

    help = "Sync one channel's orders from its platform (from the sync cursor, or from --since)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="channel code")
        parser.add_argument("--since", help="start of the window (ISO 8601 with offset); default: the cursor")
        parser.add_argument("--until", help="end of the window (ISO 8601 with offset); default: a minute ago")

    def handle(self, *args, code: str, since: str | None = None, until: str | None = None, **options) -> None:
        channel = Channel.objects.filter(code=code).first()
        if channel is None:
            raise CommandError(f"no channel with code '{code}'")
        try:
            run = sync_channel(
                channel,
                since=_moment(since, "--since"),
                until=_moment(until, "--until"),
                trigger=SyncTrigger.COMMAND,
            )
        except SyncAlreadyRunning as exc:
            raise CommandError(str(exc))
        self.stdout.write(
            f"{channel.code}: {run.window_start:%Y-%m-%d %H:%M} → {run.window_end:%Y-%m-%d %H:%M}, {run.pages} pages, "
            f"{run.created} created, {run.updated} updated, {run.unchanged} unchanged, {run.failed} failed, "
            f"{run.conflicts} conflicts in {run.duration}"
        )
        for error in run.errors[:20]:
            self.stderr.write(
                f"  {error.get('external_id', '-')}: {error.get('code')}: {error.get('message')}"
            )
