"""CSV for the clients that ask for it (`Accept: text/csv`), and for the console's exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from aiohttp import web

CSV = "text/csv"


def wants_csv(request: web.Request) -> bool:
    return CSV in request.headers.get("Accept", "")


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> web.Response:
    """The rows as a CSV download named `filename` (cells that a spreadsheet would run as a
    formula are quoted with a leading apostrophe)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    response = web.Response(text=out.getvalue(), content_type=CSV, charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return f"'{value}"
    return value
