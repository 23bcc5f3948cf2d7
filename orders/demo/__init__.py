"""Deterministic demo data: channels, a catalogue, warehouses with stock, customers and orders in every status.

`DemoGenerator(orders=N, seed=S, today=D).run()` writes the data with bulk inserts (batches of ~2,000 rows).
The same seed and `today` give the same data: every random draw comes from `random.Random(seed)`, and the
orders cover the 90 days before `today` (the window ends at today's local midnight, so the wall clock at
run time never enters the data). Orders are written in their final state, consistent with what the services
would have produced step by step: statuses with payment/fulfilment/stock statuses, timestamps in order,
payments, shipments, stock reservations, holds, exceptions, tags and a timeline of events with actors.

The generator runs in two phases: a light plan of every order (time, status, stage timestamps: the status
depends on the order's age), then per batch the details (lines, amounts, rows) and the bulk writes.
"""

from orders.demo.generator import DemoGenerator
from orders.demo.writing import database_supports_demo

__all__ = ["DemoGenerator", "database_supports_demo"]
