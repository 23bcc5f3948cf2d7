"""What rule actions do: one executor per action type of rules.actions_spec, each calling the order services.

An executor gets the validated Action and the EffectContext (rule, order, actor, run) and returns a short
text of what it did. It raises
- EffectSkipped when there is nothing to do (already on hold, no customer to give a coupon to);
- RuleConfigError when the rule itself is wrong (unknown warehouse or status): the engine disables the rule;
- any other OMSError when the order refuses the change right now (the run records it, the rule stays on).

Notifications and webhook calls are written as pending rows here, in the rule's transaction, and sent by
django-q2 tasks after commit (rules.notifications), so nothing is sent for a change that rolled back.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.actors import Actor
from oms.errors import OMSError, TransitionNotAllowed
from orders import services
from orders.choices import ExceptionReason, HoldKind, OrderStatus
from orders.models import Order, Tag, Warehouse
from rules.actions_spec import Action, render_template
from rules.models import Coupon, Notification, Rule, WebhookCall


class EffectSkipped(Exception):
    """Nothing to do for this order (recorded on the run as skipped, not as an error)."""


class RuleConfigError(OMSError):
    """The rule asks for something that cannot exist (unknown warehouse or status): it gets disabled."""

    default_code = "rule_config"


@dataclass
class EffectContext:
    """What an executor knows: the rule, the order, the actor it acts as, and what earlier actions made."""

    rule: Rule
    order_id: int
    actor: Actor
    trigger: str = ""
    coupon: Coupon | None = None
    notifications: list[int] = field(default_factory=list)
    webhook_calls: list[int] = field(default_factory=list)

    def order(self) -> Order:
        """The order as it is now (actions before this one may have changed it)."""
        return Order.objects.select_related("channel", "customer").get(pk=self.order_id)


Executor = Callable[[Action, EffectContext], str]
EFFECTS: dict[str, Executor] = {}


def effect(action_type: str) -> Callable[[Executor], Executor]:
    """Register the executor of an action type."""

    def decorate(executor: Executor) -> Executor:
        EFFECTS[action_type] = executor
        return executor

    return decorate


_HOLD_KINDS = {"normal": HoldKind.REVIEW, "finance": HoldKind.FINANCE, "delayed": HoldKind.DELAYED}


@effect("hold_for_review")
def hold_for_review(action: Action, ctx: EffectContext) -> str:
    """Put the order on hold (review, finance review or delayed shipment) with the rule's reason."""
    kind = _HOLD_KINDS[action.params.get("kind") or "normal"]
    order = ctx.order()
    if order.status == OrderStatus.ON_HOLD:
        raise EffectSkipped(_("already on hold (%(kind)s)") % {"kind": order.get_hold_kind_display()})
    services.hold_order(order, kind=kind, reason=action.params["reason"], actor=ctx.actor)
    return _("on hold: %(kind)s") % {"kind": HoldKind(kind).label}


@effect("flag_exception")
def flag_exception(action: Action, ctx: EffectContext) -> str:
    """Flag the order as an exception 'flagged by a rule' with the rule's reason as detail."""
    services.flag_exception(
        ctx.order_id, reason=ExceptionReason.RULE_FLAGGED, detail=action.params["reason"], actor=ctx.actor
    )
    return _("flagged: %(reason)s") % {"reason": action.params["reason"]}


@effect("set_status")
def set_status(action: Action, ctx: EffectContext) -> str:
    """Move the order through the verb that owns the move (confirm, cancel, close, ...), never around it."""
    target = action.params["status"]
    if target not in OrderStatus.values:
        raise RuleConfigError(_("unknown status '%(s)s'") % {"s": target}, field="status")
    if target in (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED):
        raise RuleConfigError(_("a rule cannot ship orders (a parcel needs a carrier and tracking number)"))
    order = ctx.order()
    if order.status == target:
        raise EffectSkipped(_("already %(s)s") % {"s": OrderStatus(target).label})
    reason = _("by rule %(rule)s") % {"rule": ctx.rule.name}
    if order.status == OrderStatus.ON_HOLD and target != OrderStatus.CANCELLED:
        if order.hold_kind == HoldKind.FINANCE:
            raise TransitionNotAllowed(
                _("order %(n)s is in finance review; only finance can release it") % {"n": order.number},
                code="finance_permission_required",
            )
        services.release_hold(order, actor=ctx.actor, note=reason)
    elif target == OrderStatus.AWAITING_SHIPMENT:
        services.confirm_order(order, actor=ctx.actor)
    elif target == OrderStatus.ON_HOLD:
        services.hold_order(order, kind=HoldKind.OTHER, reason=reason, actor=ctx.actor)
    elif target == OrderStatus.CANCELLED:
        services.cancel_order(order, reason=reason, actor=ctx.actor)
    elif target == OrderStatus.CLOSED:
        services.close_order(order, reason=reason, actor=ctx.actor)
    elif target == OrderStatus.DELIVERED:
        services.mark_delivered(order, actor=ctx.actor)
    elif target == OrderStatus.COMPLETED:
        services.complete_order(order, actor=ctx.actor)
    else:
        services.transition_order(order, target, actor=ctx.actor, message=reason)
    return _("status: %(s)s") % {"s": OrderStatus(target).label}


@effect("add_tag")
def add_tag(action: Action, ctx: EffectContext) -> str:
    """Put a tag on the order (the tag is created the first time a rule uses it)."""
    tag, _created = Tag.objects.get_or_create(name=action.params["tag"])
    if not services.add_tag(ctx.order_id, tag, actor=ctx.actor):
        raise EffectSkipped(_("already tagged %(tag)s") % {"tag": tag.name})
    return _("tag: %(tag)s") % {"tag": tag.name}


@effect("add_note")
def add_note(action: Action, ctx: EffectContext) -> str:
    """Add the rule's note to the order's timeline."""
    services.add_note(ctx.order_id, text=action.params["text"], actor=ctx.actor)
    return _("note added")


@effect("assign_warehouse")
def assign_warehouse(action: Action, ctx: EffectContext) -> str:
    """Ship from the given warehouse (moving any reservation there)."""
    warehouse = Warehouse.objects.filter(code=action.params["warehouse"]).first()
    if warehouse is None:
        raise RuleConfigError(
            _("unknown warehouse '%(code)s'") % {"code": action.params["warehouse"]}, field="warehouse"
        )
    services.assign_warehouse(ctx.order_id, warehouse, actor=ctx.actor, move_reservation=True)
    return _("warehouse: %(w)s") % {"w": warehouse.code}


@effect("convert_to_presale")
def convert_to_presale(action: Action, ctx: EffectContext) -> str:
    """Make the order a presale that ships when stock arrives."""
    if not services.convert_to_presale(ctx.order_id, actor=ctx.actor, reason=ctx.rule.name):
        raise EffectSkipped(_("already a presale"))
    return _("converted to presale")


@effect("merge_orders")
def merge_orders(action: Action, ctx: EffectContext) -> str:
    """Merge the order with the same buyer's unshipped orders to the same address (one parcel)."""
    master = services.merge_with_candidates(ctx.order_id, actor=ctx.actor)
    if master is None:
        raise EffectSkipped(_("no other order to merge with"))
    return _("merged; ships with %(number)s") % {"number": master.number}


def _amount_text(amount: Decimal) -> str:
    """10.00 → '10', 10.50 → '10.50' (as a customer reads an amount)."""
    return str(amount.quantize(Decimal(1))) if amount == amount.to_integral_value() else str(amount)


def template_values(order: Order, coupon: Coupon | None = None) -> dict[str, Any]:
    """The values of the message placeholders (rules.actions_spec.TEMPLATE_FIELDS) for one order."""
    customer = order.customer
    values: dict[str, Any] = {
        "order.number": order.number,
        "order.platform_order_no": order.external_id,
        "order.total": order.total,
        "order.status": order.get_status_display(),
        "order.placed_at": timezone.localtime(order.placed_at).strftime("%Y-%m-%d %H:%M"),
        "order.channel": order.channel.name if order.channel_id else "",
        "customer.name": (customer.name if customer else "") or order.buyer_name,
        "address.receiver": order.receiver_name,
        "address.province": order.province,
        "address.city": order.city,
        "address.district": order.district,
    }
    if coupon is not None:
        values.update(
            {
                "coupon.code": coupon.code,
                "coupon.amount": _amount_text(Decimal(coupon.amount)),
                "coupon.valid_until": timezone.localtime(coupon.valid_until).strftime("%Y-%m-%d"),
            }
        )
    return values


@effect("notify_customer")
def notify_customer(action: Action, ctx: EffectContext) -> str:
    """Queue an SMS or email to the customer, filled from the order; sent after commit with retries."""
    order = ctx.order()
    channel = action.params["channel"]
    if channel == Notification.Channel.SMS:
        recipient = (
            order.buyer_phone or order.receiver_phone or (order.customer.phone if order.customer else "")
        )
    else:
        recipient = order.buyer_email or (order.customer.email if order.customer else "")
    body = render_template(action.params["template"], template_values(order, ctx.coupon))
    notification = Notification.objects.create(
        order=order,
        rule=ctx.rule,
        channel=channel,
        recipient=recipient,
        subject=_("About your order %(n)s") % {"n": order.number},
        body=body,
        next_attempt_at=timezone.now(),
    )
    ctx.notifications.append(notification.pk)
    return _("%(channel)s queued to %(to)s") % {"channel": channel, "to": recipient or "—"}


def _coupon_code() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "C" + "".join(secrets.choice(alphabet) for _n in range(11))


@effect("issue_coupon")
def issue_coupon(action: Action, ctx: EffectContext) -> str:
    """Give the order's customer a coupon of the amount, valid for the number of days."""
    order = ctx.order()
    if order.customer_id is None:
        raise EffectSkipped(_("the order has no customer to give a coupon to"))
    now = timezone.now()
    for _attempt in range(5):
        try:
            with transaction.atomic():
                ctx.coupon = Coupon.objects.create(
                    code=_coupon_code(),
                    customer_id=order.customer_id,
                    amount=action.params["amount"],
                    currency=order.currency,
                    rule=ctx.rule,
                    order=order,
                    issued_at=now,
                    valid_until=now + timedelta(days=action.params["valid_days"]),
                )
            break
        except IntegrityError:
            if Coupon.objects.filter(rule=ctx.rule, order=order).exists():
                raise EffectSkipped(_("a coupon was already issued for this order"))
    else:  # pragma: no cover - five code collisions in a row
        raise OMSError(_("could not generate a unique coupon code"), code="coupon_code")
    return _("coupon %(code)s of %(amount)s") % {"code": ctx.coupon.code, "amount": ctx.coupon.amount}


@effect("call_webhook")
def call_webhook(action: Action, ctx: EffectContext) -> str:
    """Queue a signed POST of the order to the rule's URL; delivered after commit with retries."""
    order = ctx.order()
    delivery_id = uuid.uuid4()
    payload = {
        "event": "rule_fired",
        "delivery_id": str(delivery_id),
        "occurred_at": timezone.now().isoformat(),
        "rule": {"id": ctx.rule.pk, "name": ctx.rule.name, "trigger": ctx.trigger},
        "order": {
            "id": order.pk,
            "number": order.number,
            "external_id": order.external_id,
            "channel": order.channel.code if order.channel_id else "",
            "status": order.status,
            "payment_status": order.payment_status,
            "total": str(order.total),
            "currency": order.currency,
        },
    }
    call = WebhookCall.objects.create(
        order=order,
        rule=ctx.rule,
        url=action.params["url"],
        delivery_id=delivery_id,
        payload=payload,
        next_attempt_at=timezone.now(),
    )
    ctx.webhook_calls.append(call.pk)
    return _("webhook queued to %(url)s") % {"url": call.url}


def describe_action(action: Action) -> str:
    """A one-line description of an action for previews ('Test this rule')."""
    from rules.actions_spec import ACTIONS

    spec = ACTIONS[action.type]
    params = ", ".join(f"{key}={value}" for key, value in action.params.items() if value not in (None, ""))
    return f"{spec.label}" + (f" ({params})" if params else "")
