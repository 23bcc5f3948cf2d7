"""django-q2 tasks of the orders app. Each takes ids, calls one service, and is idempotent.

Spreadsheet imports run here when the file is too large for a request (orders/importing/jobs.py), and so do
large exports (orders/exporting.py). A re-delivered task finds its job already done and does nothing.
"""

from __future__ import annotations


def analyse_import_task(job_id: int) -> str:
    """Check an uploaded order file and store its preview (nothing is written to orders)."""
    from orders.importing.jobs import analyse_import_job

    return analyse_import_job(job_id)


def run_import_task(job_id: int) -> str:
    """Import a confirmed order file in one transaction, with progress on the job."""
    from orders.importing.jobs import run_import_job

    return run_import_job(job_id)


def run_export_task(job_id: int) -> str:
    """Write a large export to a file (constant memory) and attach it to the job for download."""
    from orders.exporting import run_export_job

    return run_export_job(job_id)
