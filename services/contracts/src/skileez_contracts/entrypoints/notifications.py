"""Routes: a user's notifications (coaches hear about their contracts' payments); the page
marks those it shows read."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.entrypoints.resources import api, caller, reading, request_unit_of_work
from skileez_contracts.entrypoints.schemas import NotificationList, NotificationOut, Page
from skileez_contracts.service_layer.notifications import notifications_of, read_notifications
from skileez_web.negotiation import wants_html
from skileez_web.pages import render_page
from skileez_web.problems import parse_query


@api.operation(
    "GET",
    "/notifications",
    summary="The caller's notifications, newest first (a page for browsers, which marks those"
    " it shows read; the JSON list leaves them as they are)",
    query=Page,
    responses={200: NotificationList, 401: None, 422: None},
)
async def list_notifications(request: web.Request) -> web.Response:
    principal = caller(request)
    page = parse_query(request, Page)
    if wants_html(request):
        async with request_unit_of_work(request) as uow:
            shown = await read_notifications(
                principal.user_id, uow, limit=page.limit, offset=page.offset
            )
        return render_page(request, "notifications.html", {"notifications": shown})
    async with reading(request) as uow:
        found = await notifications_of(principal.user_id, uow, limit=page.limit, offset=page.offset)
    listing = NotificationList(items=[NotificationOut.of(n) for n in found])
    return web.json_response(listing.model_dump(mode="json"))
