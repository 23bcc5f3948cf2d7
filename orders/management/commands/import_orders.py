"""`manage.py import_orders FILE [--profile NAME] [--channel CODE] [--dry-run] [--valid-only] [--errors OUT.xlsx]`.

Imports one order spreadsheet through the same fast path as the admin (read_table → build_import_plan →
bulk apply in one transaction). A refused file writes nothing, prints every row error and exits with 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from oms.actors import Actor
from orders.importing.apply import ImportResult, import_file
from orders.models import ImportProfile

EXIT_REFUSED = 1


class Command(BaseCommand):
    """Thin wrapper around orders.importing.apply.import_file."""

    help = (
        "Import orders from an .xlsx/.xls/.ods/.csv file. Orders are upserted by channel + order number: "
        "re-importing a file changes nothing, a corrected file updates only what changed. All or nothing: a "
        "file with errors imports nothing (exit status 1) unless --valid-only. Unknown SKUs create products "
        "unless the profile forbids it; unknown channels are row errors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="the spreadsheet to import")
        parser.add_argument(
            "--profile", help="name of a saved import profile (column mapping, date order, ...)"
        )
        parser.add_argument("--channel", help="channel code or shop name for rows without a channel column")
        parser.add_argument("--dry-run", action="store_true", help="check and preview only; write nothing")
        parser.add_argument(
            "--valid-only",
            action="store_true",
            help="import the valid orders even when other rows have errors",
        )
        parser.add_argument(
            "--errors", type=Path, help="write the error workbook (.xlsx) here when rows fail"
        )
        parser.add_argument("--max-errors", type=int, default=200, help="row errors to print (default 200)")

    def handle(
        self,
        *args,
        file: Path,
        profile: str | None,
        channel: str | None,
        dry_run: bool,
        valid_only: bool,
        errors: Path | None,
        max_errors: int,
        **options,
    ) -> None:
        if not file.is_file():
            raise CommandError(_("%(file)s: no such file") % {"file": file})
        spec, create_unknown = None, True
        if profile:
            saved = ImportProfile.objects.filter(name=profile).select_related("default_channel").first()
            if saved is None:
                names = ", ".join(ImportProfile.objects.values_list("name", flat=True)) or _("none")
                raise CommandError(
                    _("unknown import profile '%(name)s' (saved profiles: %(names)s)")
                    % {"name": profile, "names": names}
                )
            spec, create_unknown = saved.to_spec(), saved.create_unknown_skus
        result = import_file(
            file,
            profile=spec,
            channel=channel,
            actor=Actor.importer(file.name),
            dry_run=dry_run,
            valid_only=valid_only,
            create_unknown_skus=create_unknown,
            progress=self._progress if options.get("verbosity", 1) > 1 else None,
        )
        self._report(result, max_errors)
        if errors and result.errors:
            workbook = result.error_workbook()
            if workbook:
                errors.write_bytes(workbook)
                self.stderr.write(_("Error workbook written to %(path)s") % {"path": errors})
        if result.refused:
            sys.exit(EXIT_REFUSED)

    def _progress(self, done: int, total: int, phase: str) -> None:
        self.stderr.write(f"\r{phase}: {done:,}/{total:,}", ending="")

    def _report(self, result: ImportResult, max_errors: int) -> None:
        for error in result.errors[:max_errors]:
            self.stderr.write(error.message)
        if len(result.errors) > max_errors:
            self.stderr.write(_("… and %(n)s more errors") % {"n": len(result.errors) - max_errors})
        figures = {
            "file": result.filename,
            "rows": result.rows,
            "created": result.created,
            "updated": result.updated,
            "skipped": result.skipped,
            "products": result.new_products,
            "customers": result.new_customers,
            "errors": len(result.errors),
            "seconds": result.seconds,
            "rate": result.rows_per_second,
        }
        if result.refused:
            line = _(
                "%(file)s refused: %(errors)s errors, nothing imported. Fix the rows (see --errors) or use "
                "--valid-only."
            )
        elif result.dry_run:
            line = _(
                "%(file)s (dry run, nothing written): %(rows)s rows → %(created)s to create, %(updated)s to "
                "update, %(skipped)s unchanged, %(products)s new products, %(errors)s errors."
            )
        else:
            line = _(
                "%(file)s: %(rows)s rows → %(created)s created, %(updated)s updated, %(skipped)s unchanged, "
                "%(products)s new products, %(customers)s new customers, %(errors)s errors skipped "
                "in %(seconds).1f s (%(rate).0f rows/s)."
            )
        (self.stderr if result.refused else self.stdout).write(line % figures)
