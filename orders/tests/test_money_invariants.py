"""Money invariants under random orders, payments, refunds, splits and trade-in credits (hypothesis).

Whatever the sequence, for every order: totals add up (lines − discount + shipping + tax), paid and
refunded equal the sums of the payment rows, refunds never exceed what was paid, the payment status is
the one derived from the sums, and every amount is a cent-exact Decimal. Splitting conserves money.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from oms.errors import OMSError
from oms.money import CENT, ZERO
from orders import services, state
from orders.choices import PaymentKind, PaymentMethod, PaymentStatus
from orders.models import Order, Payment, Product
from orders.services import fulfilment, returns, special
from orders.tests.factories import ADDRESS, TEST_ACTOR, WarehouseFactory

cents = st.integers(min_value=1, max_value=99_999).map(lambda n: Decimal(n) / 100)
line_st = st.tuples(st.integers(1, 4), cents, st.integers(0, 100))  # quantity, unit price, discount %
operation = st.one_of(
    st.tuples(st.just("pay"), cents),
    st.tuples(st.just("refund"), cents),
    st.tuples(st.just("split"), st.integers(0, 10)),
    st.tuples(st.just("trade_in"), cents),
)


def check(order: Order) -> None:
    """Every invariant of one order, read fresh from the database."""
    order.refresh_from_db()
    lines = list(order.lines.all())
    for value in (order.subtotal, order.discount, order.shipping_fee, order.tax, order.total):
        assert isinstance(value, Decimal) and value == value.quantize(CENT)
    for line in lines:
        assert line.total == line.unit_price * line.quantity - line.discount
    assert order.subtotal == sum((line.total for line in lines), ZERO)
    assert order.total == order.subtotal - order.discount + order.shipping_fee + order.tax
    assert order.total >= 0
    payments = Payment.objects.filter(order=order, status=Payment.Status.SUCCEEDED)
    paid = sum((p.amount for p in payments if p.kind == PaymentKind.PAYMENT), ZERO)
    refunded = sum((p.amount for p in payments if p.kind == PaymentKind.REFUND), ZERO)
    assert (order.paid_amount, order.refunded_amount) == (paid, refunded)
    assert paid - refunded >= 0
    assert refunded <= paid
    assert order.payment_status == state.payment_status_for(order.total, paid, refunded)
    if refunded == 0 and order.total > 0:
        expected = (
            PaymentStatus.UNPAID
            if paid == 0
            else PaymentStatus.PAID
            if paid >= order.total
            else PaymentStatus.PARTIALLY_PAID
        )
        assert order.payment_status == expected
    if refunded > 0:
        assert order.payment_status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED)
        assert (order.payment_status == PaymentStatus.REFUNDED) == (refunded >= paid)


class MoneyInvariants(TestCase):
    """One hypothesis example = one fresh order in its own transaction (rolled back after)."""

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        lines=st.lists(line_st, min_size=1, max_size=3),
        order_discount=st.integers(0, 30),
        shipping=st.integers(0, 2000).map(lambda n: Decimal(n) / 100),
        tax=st.integers(0, 2000).map(lambda n: Decimal(n) / 100),
        operations=st.lists(operation, max_size=8),
    )
    def test_totals_always_add_up(self, lines, order_discount, shipping, tax, operations):
        warehouse = WarehouseFactory()
        inputs, subtotal = [], ZERO
        for n, (quantity, price, percent) in enumerate(lines):
            product = Product.objects.create(sku=f"H-{warehouse.pk}-{n}", name="p", price=price)
            discount = (price * quantity * percent / 100).quantize(CENT)
            subtotal += price * quantity - discount
            inputs.append(services.LineInput(sku=product.sku, quantity=quantity, discount=discount))
        discount = (subtotal * order_discount / 100).quantize(CENT)
        order = services.create_order(
            services.OrderInput(
                lines=inputs,
                discount=discount,
                shipping_fee=shipping,
                tax=tax,
                warehouse=warehouse,
                **ADDRESS,
            ),
            actor=TEST_ACTOR,
        )
        family = [order]
        money_in = money_out = ZERO
        check(order)
        for kind, value in operations:
            target = family[-1] if kind != "pay" else family[0]
            try:
                if kind == "pay":
                    services.record_payment(
                        target, amount=value, method=PaymentMethod.ALIPAY, actor=TEST_ACTOR
                    )
                    money_in += value
                elif kind == "refund":
                    returns.refund_order(target, amount=value, reason="hypothesis", actor=TEST_ACTOR)
                    money_out += value
                elif kind == "split":
                    line = target.lines.order_by("pk")[value % target.lines.count()]
                    child = fulfilment.split_order(target, lines={line.pk: 1}, actor=TEST_ACTOR)
                    family.append(child)
                else:
                    special.register_trade_in(
                        target, description="old phone", assessed_value=value, actor=TEST_ACTOR
                    )
            except OMSError:
                pass  # refused (over-refund, nothing left to split, credit above total...): must change nothing
            for member in family:
                check(member)
        for member in family:
            member.refresh_from_db()
        assert sum((m.paid_amount for m in family), ZERO) == money_in
        assert sum((m.refunded_amount for m in family), ZERO) == money_out
