"""Routes: a user's notifications (coaches hear about their contracts' payments)."""

from __future__ import annotations

from aiohttp import web

from skileez_contracts.entrypoints.resources import api, caller, reading
from skileez_contracts.entrypoints.schemas import NotificationList, NotificationOut, Page
from skileez_contracts.service_layer.notifications import notifications_of
from skileez_web.problems import parse_query


@api.operation(
    "GET",
    "/notifications",
    summary="The caller's notifications, newest first",
    query=Page,
    responses={200: NotificationList, 401: None, 422: None},
)
async def list_notifications(request: web.Request) -> web.Response:
    principal = caller(request)
    page = parse_query(request, Page)
    async with reading(request) as uow:
        found = await notifications_of(principal.user_id, uow, limit=page.limit, offset=page.offset)
    listing = NotificationList(items=[NotificationOut.of(n) for n in found])
    return web.json_response(listing.model_dump(mode="json"))
