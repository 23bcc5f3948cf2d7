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
`throughput_tuning` keeps the threads handing the GIL over quickly and the garbage collector out of the way.

On PostgreSQL, outside a caller's transaction, pages are written on two connections (`PAGE_WRITERS`, one thread
each): a page starts once the page before it has written its orders and commits only after it has committed
(`_write_page`), so the commit of one page (its deferred foreign-key checks) overlaps the writes of the next while
the order of commits, the counters and the cursor stay as if written one by one. A failed page rolls back the
one written beside it (`EarlierPageFailed`); the run fails with the first error.
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
from dataclasses import dataclass, field
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
        context = _RunContext(channel, run, load_mapping(channel), Actor.channel(channel.code))
        channel.default_warehouse  # noqa: B018  (read here: the preparing thread must not query)
        pages = (
            (page, prepare_orders(page.orders, channel=channel, mapping=context.mapping))
            for page in adapter.fetch_orders(start, end)
        )
        with _page_writer(context) as write:
            pages_in_window = 0
            for page, prepared in tuned_prefetch(pages) if windows else []:
                pages_in_window += 1
                if not write(page, prepared, pages_in_window):
                    break  # a page failed: the writer raises its error on leaving
                if _ends_window(page):
                    pages_in_window = 0
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


PAGE_WRITERS = 2
"""Connections a PostgreSQL sync writes pages on at once (1: one after the other). With two, a page is written
while the one before it commits: the commit's deferred foreign-key checks overlap the next page's inserts."""


@dataclass
class _RunContext:
    """What every page write of one sync run shares."""

    channel: Channel
    run: SyncRun
    mapping: Any
    actor: Actor
    analyze_at: int = field(default_factory=lambda: ANALYZE_FIRST_AT)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh_statistics_if_due(self) -> None:
        """ANALYZE the lookup tables once the run's created orders pass the next doubling (after a commit)."""
        with self.lock:
            due = self.run.created >= self.analyze_at
            if due:
                self.analyze_at = 2 * self.run.created
        if due:
            _refresh_statistics()


def _ends_window(page: Any) -> bool:
    return not page.has_more and page.window_end is not None


def _write_page(
    context: _RunContext, page: Any, prepared: list, pages_in_window: int, turn: _PageTurn | None = None
) -> None:
    """Upsert one page and record it on the run (counters, heartbeat, the cursor at a window's end) in one
    transaction.

    Pipelined (`turn`), the page is written while the previous one finishes, never before: it starts once the
    previous page's orders are written (`upsert_orders`' `on_orders_written`: all but its own new channel
    orders) or, if the previous page holds any of its orders, once it has committed, so they are found; and it
    records nothing, so commits nothing, until the previous page has committed. Its writes may wait for rows of
    the previous page, never the other way round: no lock cycle."""
    previous = turn.previous if turn is not None else None
    run = context.run
    with transaction.atomic():
        if previous is not None:
            if previous.shares_orders_with(prepared):
                previous.wait_committed()
            else:
                previous.wait_written()
        result = upsert_orders(
            context.channel,
            prepared,
            mapping=context.mapping,
            actor=context.actor,
            on_orders_written=turn.written.set if turn is not None else None,
        )
        if previous is not None:
            previous.wait_committed()
        fields = _progress(run, result, page, pages_in_window)
        if _ends_window(page):
            fields["windows_done"] = run.windows_done + 1
            fields["cursor_after"] = page.window_end
        _heartbeat(run, **fields)
        if "cursor_after" in fields:
            _advance_cursor(context.channel, page.window_end)


class EarlierPageFailed(Exception):
    """A page written alongside an earlier one that did not commit: rolled back, so pages commit in order."""


class _PageTurn:
    """One page's place in the commit order of pipelined writers."""

    def __init__(self, previous: _PageTurn | None, page: Any, prepared: list, pages_in_window: int) -> None:
        self.previous = previous
        self.page = page
        self.prepared = prepared
        self.pages_in_window = pages_in_window
        self.external_ids = {item.order.external_id for item in prepared}
        self.error: BaseException | None = None
        self.written = threading.Event()
        """Set once the page's orders are written (before its commit), or when it finished without."""
        self._finished = threading.Event()

    def shares_orders_with(self, prepared: list) -> bool:
        """Whether this page holds any of `prepared`'s orders (an order modified while the platform was paged)."""
        return any(item.order.external_id in self.external_ids for item in prepared)

    def finish(self, error: BaseException | None = None) -> None:
        """Committed (no error) or rolled back; let the next page go on. Drops the page's data."""
        self.error, self.page, self.prepared, self.previous = error, None, [], None
        self._finished.set()
        self.written.set()

    def wait_written(self) -> None:
        """Block until this page's orders are written; EarlierPageFailed if it failed before."""
        self.written.wait()
        if self.error is not None:
            raise EarlierPageFailed(f"an earlier page failed: {self.error}")

    def wait_committed(self) -> None:
        """Block until this page has finished; EarlierPageFailed if it did not commit."""
        self._finished.wait()
        if self.error is not None:
            raise EarlierPageFailed(f"an earlier page failed: {self.error}")


class _PipelinedPageWriter:
    """Writes pages on `lanes` threads, each with a database connection of its own, page i on lane i % lanes:
    a page is written while the one before it commits, and commits only after it (`_write_page`). The first
    failure stops the pages after it; it is raised by `close`."""

    def __init__(self, context: _RunContext, lanes: int) -> None:
        self._context = context
        self._lanes: list[queue.Queue] = [queue.Queue(maxsize=1) for _ in range(lanes)]
        self._threads = [
            threading.Thread(target=self._serve, args=(lane,), name=f"sync-writer-{n}", daemon=True)
            for n, lane in enumerate(self._lanes)
        ]
        self._submitted = 0
        self._last: _PageTurn | None = None
        self._error: BaseException | None = None
        for thread in self._threads:
            thread.start()

    def __call__(self, page: Any, prepared: list, pages_in_window: int) -> bool:
        """Queue a page for writing (waits while its lane is busy); False once a page has failed."""
        if self._error is not None:
            return False
        turn = _PageTurn(self._last, page, prepared, pages_in_window)
        self._lanes[self._submitted % len(self._lanes)].put(turn)
        self._submitted += 1
        self._last = turn
        return self._error is None

    def close(self) -> None:
        """Let the queued pages finish, stop the threads (closing their connections), raise the first error."""
        for lane in self._lanes:
            lane.put(None)
        for thread in self._threads:
            thread.join()
        if self._error is not None:
            raise self._error

    def _serve(self, lane: queue.Queue) -> None:
        try:
            while (turn := lane.get()) is not None:
                try:
                    if self._error is not None:
                        raise EarlierPageFailed("an earlier page failed")
                    _write_page(self._context, turn.page, turn.prepared, turn.pages_in_window, turn)
                except BaseException as exc:
                    turn.finish(exc)
                    if not isinstance(exc, EarlierPageFailed):
                        with self._context.lock:
                            self._error = self._error or exc
                    continue
                turn.finish()
                self._context.refresh_statistics_if_due()
        finally:
            connection.close()


@contextmanager
def _page_writer(context: _RunContext) -> Iterator[Any]:
    """A function writing one page (`write(page, prepared, pages_in_window) -> bool`, False once a page failed):
    pipelined over `PAGE_WRITERS` connections on PostgreSQL when the sync runs outside a transaction (inside one,
    other connections could not see its rows), one page after the other otherwise."""
    if PAGE_WRITERS > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        writer = _PipelinedPageWriter(context, PAGE_WRITERS)
        try:
            yield writer
        finally:
            writer.close()
        return

    def write(page: Any, prepared: list, pages_in_window: int) -> bool:
        _write_page(context, page, prepared, pages_in_window)
        context.refresh_statistics_if_due()
        return True

    yield write


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
