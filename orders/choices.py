"""Choices of the order domain. The lifecycle transitions themselves live in orders/state.py."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStatus(models.TextChoices):
    """The order's lifecycle status; only orders.services.transitions writes it."""

    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    PENDING_REVIEW = "pending_review", _("Pending review")
    AWAITING_SHIPMENT = "awaiting_shipment", _("Awaiting shipment")
    PARTIALLY_SHIPPED = "partially_shipped", _("Partially shipped")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    ON_HOLD = "on_hold", _("On hold")
    CANCELLED = "cancelled", _("Cancelled")
    CLOSED = "closed", _("Closed")


class PaymentStatus(models.TextChoices):
    """How much of the order has been paid or refunded."""

    UNPAID = "unpaid", _("Unpaid")
    PARTIALLY_PAID = "partially_paid", _("Partially paid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class FulfillmentStatus(models.TextChoices):
    """How much of the order has left the warehouse."""

    UNFULFILLED = "unfulfilled", _("Unfulfilled")
    PARTIALLY_FULFILLED = "partially_fulfilled", _("Partially fulfilled")
    FULFILLED = "fulfilled", _("Fulfilled")
    DELIVERED = "delivered", _("Delivered")
    RETURNED = "returned", _("Returned")


class StockStatus(models.TextChoices):
    """Where the order's stock stands: nothing reserved yet, reserved, waiting (presale), deducted, released."""

    NONE = "none", _("Not reserved")
    RESERVED = "reserved", _("Reserved")
    WAITING = "waiting", _("Waiting for stock")
    DEDUCTED = "deducted", _("Deducted")
    RELEASED = "released", _("Released")


class OrderType(models.TextChoices):
    """Special order types change how stock and payments are handled."""

    NORMAL = "normal", _("Normal")
    PRESALE = "presale", _("Presale")
    INSTALLMENT = "installment", _("Installment")
    TRADE_IN = "trade_in", _("Trade-in")


class HoldKind(models.TextChoices):
    """Why an order is on hold: a clerk's review, a finance review, or another hold."""

    REVIEW = "review", _("Review")
    FINANCE = "finance", _("Finance review")
    DELAYED = "delayed", _("Delayed shipment")
    OTHER = "other", _("Other")


class ExceptionReason(models.TextChoices):
    """Reasons an order needs a clerk's attention; exception orders are pinned to the top of the list."""

    ADDRESS_INCOMPLETE = "address_incomplete", _("Incomplete address")
    PAYMENT_OVERDUE = "payment_overdue", _("Payment overdue")
    STOCK_SHORT = "stock_short", _("Stock short")
    SUSPECTED_DUPLICATE = "suspected_duplicate", _("Suspected duplicate")
    AMOUNT_ANOMALY = "amount_anomaly", _("Amount anomaly")
    RULE_FLAGGED = "rule_flagged", _("Flagged by a rule")
    SYNC_CONFLICT = "sync_conflict", _("Channel sync conflict")


class EventType(models.TextChoices):
    """Types of timeline events. Notes are events too."""

    CREATED = "created", _("Created")
    STATUS_CHANGED = "status_changed", _("Status changed")
    PAYMENT_RECORDED = "payment_recorded", _("Payment recorded")
    STOCK_RESERVED = "stock_reserved", _("Stock reserved")
    STOCK_RELEASED = "stock_released", _("Stock released")
    STOCK_DEDUCTED = "stock_deducted", _("Stock deducted")
    STOCK_SHORT = "stock_short", _("Stock short")
    NOTE_ADDED = "note_added", _("Note added")
    HOLD_SET = "hold_set", _("Hold set")
    HOLD_RELEASED = "hold_released", _("Hold released")
    EXCEPTION_FLAGGED = "exception_flagged", _("Exception flagged")
    EXCEPTION_RESOLVED = "exception_resolved", _("Exception resolved")
    SHIPMENT_CREATED = "shipment_created", _("Shipment created")
    TRACKING_UPDATED = "tracking_updated", _("Tracking updated")
    WAREHOUSE_ASSIGNED = "warehouse_assigned", _("Warehouse assigned")
    TAGS_CHANGED = "tags_changed", _("Tags changed")
    UPDATED = "updated", _("Updated")
    IMPORTED = "imported", _("Imported")
    SYNCED = "synced", _("Synced")
    RULE_FIRED = "rule_fired", _("Rule fired")
    NOTIFICATION_SENT = "notification_sent", _("Notification sent")
    ORDER_SPLIT = "order_split", _("Order split")
    ORDERS_MERGED = "orders_merged", _("Orders merged")
    CARRIER_EVENT = "carrier_event", _("Carrier tracking")
    INVOICE_CHANGED = "invoice_changed", _("Invoice")
    RETURN_CHANGED = "return_changed", _("Return")
    PAYMENT_SCHEDULE = "payment_schedule", _("Payment schedule")
    TRADE_IN_CHANGED = "trade_in_changed", _("Trade-in")


class PaymentMethod(models.TextChoices):
    """How a payment was made."""

    ALIPAY = "alipay", _("Alipay")
    WECHAT_PAY = "wechat_pay", _("WeChat Pay")
    CARD = "card", _("Card")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CASH_ON_DELIVERY = "cod", _("Cash on delivery")
    PLATFORM = "platform", _("Platform settlement")
    OTHER = "other", _("Other")


class PaymentKind(models.TextChoices):
    """A payment takes money in (payment) or gives it back (refund)."""

    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")


class InvoiceStatus(models.TextChoices):
    """Where the order's invoice stands (derived from its Invoice rows by orders.services.invoices)."""

    NONE = "none", _("Not requested")
    REQUESTED = "requested", _("Requested")
    ISSUED = "issued", _("Issued")
    VOIDED = "voided", _("Voided")


class InspectionStatus(models.TextChoices):
    """The inspection of a trade-in's old item; a trade-in order ships only once it passed."""

    PENDING = "pending", _("Pending inspection")
    PASSED = "passed", _("Passed")
    FAILED = "failed", _("Failed")
