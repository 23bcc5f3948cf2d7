"""Every business write of the order domain. Admin, API, imports, syncs and rules call these functions."""

from orders.services.assignment import add_tag, assign_warehouse, remove_tag, set_tags, update_order_details
from orders.services.creation import LineInput, OrderInput, create_order, reserve_order_numbers
from orders.services.customers import find_or_create_customer, normalize_phone
from orders.services.events import record_event
from orders.services.lifecycle import (
    add_note,
    cancel_order,
    close_order,
    complete_order,
    confirm_order,
    flag_exception,
    hold_order,
    lock_order,
    mark_delivered,
    release_hold,
    resolve_exception,
    transition_order,
)
from orders.services.payments import record_payment
from orders.services.shipping import ship_order, update_shipment
from orders.services.stock import adjust_stock, release_order_stock, reserve_order_stock

__all__ = [
    "LineInput",
    "OrderInput",
    "add_note",
    "add_tag",
    "assign_warehouse",
    "adjust_stock",
    "cancel_order",
    "close_order",
    "complete_order",
    "confirm_order",
    "create_order",
    "find_or_create_customer",
    "flag_exception",
    "hold_order",
    "lock_order",
    "mark_delivered",
    "normalize_phone",
    "record_event",
    "record_payment",
    "release_hold",
    "release_order_stock",
    "remove_tag",
    "reserve_order_numbers",
    "reserve_order_stock",
    "resolve_exception",
    "set_tags",
    "ship_order",
    "transition_order",
    "update_order_details",
    "update_shipment",
]

from orders.services.presale import convert_to_presale  # noqa: E402  (rules engine)

__all__ += ["convert_to_presale"]

from orders.services.fulfilment import (  # noqa: E402  (after confirmation: issue 8)
    allocate_order,
    merge_orders,
    merge_with_candidates,
    plan_allocation,
    ship_merged_orders,
    split_order,
    unmerge_order,
)
from orders.services.invoices import issue_invoice, request_invoice, void_invoice  # noqa: E402
from orders.services.reconciliation import import_statement, rematch_statement  # noqa: E402
from orders.services.returns import (  # noqa: E402
    approve_return,
    receive_return,
    refund_order,
    refund_return,
    refuse_return,
    request_return,
)
from orders.services.special import (  # noqa: E402
    allocate_arrived_stock,
    create_installment_plan,
    flag_overdue_payments,
    inspect_trade_in,
    register_trade_in,
    set_presale_terms,
)
from orders.services.tracking import poll_open_shipments, record_tracking  # noqa: E402

__all__ += [
    "allocate_arrived_stock",
    "allocate_order",
    "approve_return",
    "create_installment_plan",
    "flag_overdue_payments",
    "import_statement",
    "inspect_trade_in",
    "issue_invoice",
    "merge_orders",
    "merge_with_candidates",
    "plan_allocation",
    "poll_open_shipments",
    "receive_return",
    "record_tracking",
    "refund_order",
    "refund_return",
    "refuse_return",
    "register_trade_in",
    "rematch_statement",
    "request_invoice",
    "request_return",
    "set_presale_terms",
    "ship_merged_orders",
    "split_order",
    "unmerge_order",
    "void_invoice",
]
