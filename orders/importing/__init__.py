"""Spreadsheet order import, pure layer: read a file, map its columns, parse values, group rows into orders.

Nothing here touches the database: ``read_table`` -> ``build_import_plan`` gives ``ParsedOrder`` data and
``RowError``s; the order services write the orders (all or nothing) only when the plan has no errors.
"""
