"""The HTML page of a contract's sessions, with a booking form and cancel buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp_jinja2
from aiohttp import web

from skileez_scheduling.domain.sessions import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from skileez_scheduling.entrypoints.resources import PROBLEMS, SETTINGS, api
from skileez_scheduling.entrypoints.schemas import ContractSessions
from skileez_scheduling.entrypoints.sessions import sessions_of_contract
from skileez_web.openapi import HTML


@api.operation(
    "GET",
    "/contracts/{contract_id}/schedule",
    summary="HTML page: a contract's sessions and a form to book one",
    responses={200: HTML, **PROBLEMS},
)
async def schedule_page(request: web.Request) -> web.Response:
    contract, sessions = await sessions_of_contract(request)
    links = request.app[SETTINGS].links
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    response: web.Response = aiohttp_jinja2.render_template(
        "schedule.html",
        request,
        {
            "view": ContractSessions.of(contract, sessions),
            "title": contract.title,
            "payment_url": links.pay(contract.id),
            "contract_url": links.contract(contract.id),
            "suggested_start": tomorrow.isoformat(),
            "min_duration": MIN_DURATION_MINUTES,
            "max_duration": MAX_DURATION_MINUTES,
        },
    )
    return response
