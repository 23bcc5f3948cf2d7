"""Built-in report definitions. Importing this package registers every report (see reports.registry)."""

from reports.specs import (  # noqa: F401
    channels,
    customers,
    exceptions,
    fulfilment,
    heatmap,
    payments,
    products,
    sales,
)
