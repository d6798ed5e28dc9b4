"""The HTML page of a contract's sessions, with a booking form and cancel buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp_jinja2
from aiohttp import web

from skileez_scheduling.domain.errors import NotFound
from skileez_scheduling.domain.sessions import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from skileez_scheduling.entrypoints.resources import (
    PROBLEMS,
    SETTINGS,
    api,
    caller,
    request_unit_of_work,
)
from skileez_scheduling.entrypoints.schemas import ContractState, SessionOut
from skileez_scheduling.service_layer.booking import schedule_of
from skileez_web.openapi import HTML
from skileez_web.problems import path_id

CANCELLED_SHOWN = 10
"""The latest cancellations the page lists; the JSON list pages through all of them."""


@api.operation(
    "GET",
    "/contracts/{contract_id}/schedule",
    summary="HTML page: a contract's sessions to come, held and lately cancelled, and a form"
    " to book one",
    responses={200: HTML, **PROBLEMS},
)
async def schedule_page(request: web.Request) -> web.Response:
    user_id = caller(request).user_id
    contract_id = path_id(request, NotFound, "contract_id")
    now = datetime.now(UTC)
    async with request_unit_of_work(request) as uow:
        schedule = await schedule_of(
            contract_id, uow, user_id=user_id, now=now, cancelled_shown=CANCELLED_SHOWN
        )
    contract = schedule.contract
    links = request.app[SETTINGS].links
    tomorrow = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    response: web.Response = aiohttp_jinja2.render_template(
        "schedule.html",
        request,
        {
            "view": ContractState.of(contract, schedule.tally),
            "upcoming": [SessionOut.of(session) for session in schedule.upcoming],
            "past": [SessionOut.of(session) for session in schedule.past],
            "cancelled": [SessionOut.of(session) for session in schedule.recently_cancelled],
            "sessions_url": f"/contracts/{contract.id}/sessions",
            "title": contract.title,
            "payment_url": links.pay(contract.id),
            "contract_url": links.contract(contract.id),
            "suggested_start": tomorrow.isoformat(),
            "min_duration": MIN_DURATION_MINUTES,
            "max_duration": MAX_DURATION_MINUTES,
        },
    )
    return response
