"""Polling sync of one channel: a SyncRun is both the report and the lease that keeps syncs of a channel apart.

The lease is a database row: at most one `running` SyncRun per channel (a partial unique index, so it holds across
processes and machines, on PostgreSQL and SQLite alike). A running run proves it is alive by its heartbeat, written
in every page's transaction; a run whose heartbeat is older than LEASE_TTL (its worker died) is marked failed by
the next sync, which then takes over. A page is committed only while the lease is still held.

Pages are committed one by one (orders, channel orders, run counters); the channel's sync cursor moves to a
window's end in the same transaction as that window's last page, so it never runs ahead of committed data and a
lost or killed task only delays data: the next run resumes from the cursor, and re-reading is harmless (upserts
are idempotent by payload hash). While a page is written, a thread already fetches and prepares the next one
(`prefetched`, `prepare_orders`: HTTP, JSON, payload hashes, mapping and, on PostgreSQL, the COPY text of the
new orders): that Python work overlaps the database's, which the writing thread waits for with the GIL released.
`throughput_tuning` keeps the two threads handing the GIL over quickly and the garbage collector out of the way.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import queue
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from channels.choices import SyncRunStatus, SyncTrigger
from channels.mapping import load_mapping
from channels.models import Channel, SyncRun
from channels.services.upsert import UpsertResult, prepare_orders, upsert_orders
from oms.actors import Actor
from oms.errors import OMSError

logger = logging.getLogger(__name__)

LEASE_TTL = dt.timedelta(minutes=10)
"""A running sync without a heartbeat for this long is taken to be dead (longer than any one page takes)."""
SETTLE_LAG = dt.timedelta(minutes=1)
"""The sync window ends this far in the past, so no modification can still enter it while we page."""
MAX_ERRORS_KEPT = 200
PREFETCH_PAGES = 1
"""Pages fetched ahead of the one being written (each is a few hundred orders in memory)."""
ANALYZE_FIRST_AT = 2000
"""Orders created by one run after which the looked-up tables' statistics are refreshed (then at 2×, 4×, …)."""
ANALYZED_TABLES = ("channels_channelorder", "orders_customer")
"""Tables each page looks orders and customers up in (by external id, by dedupe key)."""
SYNC_GC_THRESHOLD = 50_000
"""Allocations between young-generation collections while a sync runs (Python's default is 700): a page makes
hundreds of thousands of short-lived objects, and the default schedule also sweeps the whole heap every few
pages. Measured: about a sixth of the sync's Python time."""
SYNC_SWITCH_INTERVAL = 0.0002
"""Seconds the preparing thread may hold the GIL once the writing thread wants it back (Python's default is
0.005): the writer gets each database reply within this, so its statements follow each other closely."""


class SyncAlreadyRunning(OMSError):
    """Another sync of the same channel holds the lease."""

    default_code = "sync_running"


class LeaseLost(OMSError):
    """This run's lease expired and another run took over; stop without committing."""

    default_code = "lease_lost"


def build_adapter(channel: Channel, **kwargs: Any):
    """The platform adapter for a channel, with its decrypted credentials and (overridable) API base URL."""
    from channels.adapters.registry import get_adapter_class

    adapter_class = get_adapter_class(channel.platform)
    return adapter_class(channel.get_credentials(), channel.api_base_url or None, **kwargs)


def acquire_lease(channel: Channel, *, trigger: str = SyncTrigger.SCHEDULE) -> SyncRun:
    """Start a SyncRun for `channel`, or raise SyncAlreadyRunning if a live one exists (expired ones are failed)."""
    now = timezone.now()
    SyncRun.objects.filter(
        channel=channel, status=SyncRunStatus.RUNNING, heartbeat_at__lt=now - LEASE_TTL
    ).update(
        status=SyncRunStatus.FAILED,
        finished_at=now,
        errors=[{"code": "lease_expired", "message": "the worker stopped sending heartbeats; taken over"}],
    )
    try:
        with transaction.atomic():
            return SyncRun.objects.create(
                channel=channel,
                trigger=trigger,
                status=SyncRunStatus.RUNNING,
                started_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        raise SyncAlreadyRunning(
            _("a sync of channel %(code)s is already running") % {"code": channel.code}, code="sync_running"
        )


def _heartbeat(run: SyncRun, **fields: Any) -> None:
    """Write progress and prove the lease is still ours (inside the page transaction); LeaseLost otherwise."""
    fields["heartbeat_at"] = timezone.now()
    if not SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(**fields):
        raise LeaseLost(_("the sync lease was lost (another run took over)"))
    for name, value in fields.items():
        setattr(run, name, value)


def _finish(run: SyncRun, status: str, error: dict | None = None) -> None:
    if error:
        run.errors = [*run.errors, error][-MAX_ERRORS_KEPT:]
    run.status = status
    run.finished_at = timezone.now()
    if status == SyncRunStatus.SUCCEEDED:
        run.progress = 100
    SyncRun.objects.filter(pk=run.pk, status=SyncRunStatus.RUNNING).update(
        status=status, finished_at=run.finished_at, errors=run.errors, progress=run.progress
    )


def sync_window(channel: Channel, *, since: dt.datetime | None, until: dt.datetime | None, now: dt.datetime):
    """The window to poll: from the committed cursor (minus the adapter's overlap), or `since`, up to `until`."""
    if until is None:
        until = now - SETTLE_LAG
    if since is None:
        if channel.sync_cursor:
            from channels.adapters.registry import get_adapter_class

            since = channel.sync_cursor - get_adapter_class(channel.platform).overlap
        else:
            since = now - dt.timedelta(days=channel.initial_sync_days)
    return since, until


def sync_channel(
    channel: Channel | int,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    trigger: str = SyncTrigger.SCHEDULE,
    adapter: Any = None,
) -> SyncRun:
    """Poll the platform for orders modified in the window and upsert them page by page; returns the SyncRun.

    Raises SyncAlreadyRunning when the channel is busy. Platform or page errors end the run as failed (the
    error is on the run and re-raised for the task queue); committed pages stay committed.
    """
    channel = channel if isinstance(channel, Channel) else Channel.objects.get(pk=channel)
    run = acquire_lease(channel, trigger=trigger)
    own_adapter = adapter is None
    try:
        adapter = adapter or build_adapter(channel)
        start, end = sync_window(channel, since=since, until=until, now=run.started_at)
        windows = list(adapter.iter_windows(start, end)) if start < end else []
        SyncRun.objects.filter(pk=run.pk).update(
            window_start=start, window_end=end, windows_total=len(windows)
        )
        run.window_start, run.window_end, run.windows_total = start, end, len(windows)
        mapping = load_mapping(channel)
        actor = Actor.channel(channel.code)
        pages_in_window = 0
        analyze_at = ANALYZE_FIRST_AT
        channel.default_warehouse  # noqa: B018  (read here: the preparing thread must not query)
        pages = (
            (page, prepare_orders(page.orders, channel=channel, mapping=mapping))
            for page in adapter.fetch_orders(start, end)
        )
        for page, prepared in tuned_prefetch(pages) if windows else []:
            pages_in_window += 1
            with transaction.atomic():
                result = upsert_orders(channel, prepared, mapping=mapping, actor=actor)
                fields = _progress(run, result, page, pages_in_window)
                if not page.has_more and page.window_end is not None:
                    fields["windows_done"] = run.windows_done + 1
                    fields["cursor_after"] = page.window_end
                    pages_in_window = 0
                _heartbeat(run, **fields)
                if "cursor_after" in fields:
                    _advance_cursor(channel, page.window_end)
            if run.created >= analyze_at:
                _refresh_statistics()
                analyze_at = 2 * run.created
        _finish(run, SyncRunStatus.SUCCEEDED)
        Channel.objects.filter(pk=channel.pk).update(last_synced_at=run.finished_at)
        logger.info("sync %s: %s", channel.code, _summary(run))
        return run
    except Exception as exc:
        code = getattr(exc, "code", exc.__class__.__name__)
        _finish(
            run, SyncRunStatus.FAILED, {"code": str(code), "message": str(getattr(exc, "message", exc))[:500]}
        )
        logger.warning("sync %s failed: %s", channel.code, code)
        raise
    finally:
        if own_adapter and adapter is not None:
            adapter.close()


_tuned_runs = 0
_tuning_lock = threading.Lock()
_saved_tuning: tuple = ()


@contextmanager
def throughput_tuning() -> Iterator[None]:
    """Tune the interpreter for a sync while any sync of this process runs (`SYNC_GC_THRESHOLD`,
    `SYNC_SWITCH_INTERVAL`); the previous settings come back when the last one ends."""
    global _tuned_runs, _saved_tuning
    with _tuning_lock:
        if _tuned_runs == 0:
            _saved_tuning = (gc.get_threshold(), sys.getswitchinterval())
            gc.set_threshold(SYNC_GC_THRESHOLD, *_saved_tuning[0][1:])
            sys.setswitchinterval(SYNC_SWITCH_INTERVAL)
        _tuned_runs += 1
    try:
        yield
    finally:
        with _tuning_lock:
            _tuned_runs -= 1
            if _tuned_runs == 0:
                gc.set_threshold(*_saved_tuning[0])
                sys.setswitchinterval(_saved_tuning[1])


def prefetched[T](items: Iterator[T], *, ahead: int = PREFETCH_PAGES) -> Iterator[T]:
    """Yield `items` while a thread produces the next `ahead` of them; the producer's exception is re-raised
    here, in order. Meant for adapter pages: the thread does HTTP, parsing and preparation, never the database.

    When the consumer stops early (an error while writing), the producer stops at its next page.
    """
    slots: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((None, exc))

    thread = threading.Thread(target=produce, name="sync-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def tuned_prefetch[T](items: Iterator[T]) -> Iterator[T]:
    """`prefetched` under `throughput_tuning` (for as long as the pages are being consumed)."""
    with throughput_tuning():
        yield from prefetched(items)


def _progress(run: SyncRun, result: UpsertResult, page: Any, pages_in_window: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "pages": run.pages + 1,
        "created": run.created + result.created,
        "updated": run.updated + result.updated,
        "unchanged": run.unchanged + result.unchanged,
        "failed": run.failed + result.failed,
        "conflicts": run.conflicts + result.conflicts,
    }
    if result.errors:
        fields["errors"] = [*run.errors, *result.errors][-MAX_ERRORS_KEPT:]
    if run.windows_total:
        per_page = max(len(page.orders), 1)
        pages_total = (
            max(1, -(-(page.total or 0) // per_page)) if page.total else pages_in_window + int(page.has_more)
        )
        within = min(1.0, pages_in_window / max(pages_total, 1))
        fields["progress"] = min(99, int(100 * (run.windows_done + within) / run.windows_total))
    return fields


def _refresh_statistics() -> None:
    """ANALYZE the tables each page looks up (PostgreSQL). A first sync or a backfill can grow them from nothing
    to millions of rows before autovacuum's next look; with an empty table's statistics the planner reads every
    order of the channel for each page (quadratic in the backfill) instead of probing the unique index. Called
    at doubling order counts, so it costs a few statements per run."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in ANALYZED_TABLES:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def _advance_cursor(channel: Channel, window_end: dt.datetime) -> None:
    """Move the channel's cursor forward (never back) in the current transaction."""
    behind = Q(sync_cursor__isnull=True) | Q(sync_cursor__lt=window_end)
    if Channel.objects.filter(behind, pk=channel.pk).update(sync_cursor=window_end):
        channel.sync_cursor = window_end


def _summary(run: SyncRun) -> str:
    return (
        f"{run.pages} pages, {run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
        f"{run.failed} failed, {run.conflicts} conflicts"
    )
