"""Channel services: sync, upsert, webhooks processing, push back, completeness, configuration.

Admin, tasks, the command line and webhooks all call these functions.
"""

from channels.services.completeness import check_completeness, check_recent_days
from channels.services.config import (
    clear_credentials,
    configure_sync_schedule,
    load_default_status_mappings,
    set_credentials,
)
from channels.services.pushback import mark_pending, push_back_channel, retry_pushback
from channels.services.sync import LeaseLost, SyncAlreadyRunning, acquire_lease, build_adapter, sync_channel
from channels.services.upsert import UpsertResult, payload_hash, upsert_orders

__all__ = [
    "LeaseLost",
    "SyncAlreadyRunning",
    "UpsertResult",
    "acquire_lease",
    "build_adapter",
    "check_completeness",
    "check_recent_days",
    "clear_credentials",
    "configure_sync_schedule",
    "load_default_status_mappings",
    "mark_pending",
    "payload_hash",
    "push_back_channel",
    "retry_pushback",
    "set_credentials",
    "sync_channel",
    "upsert_orders",
]
