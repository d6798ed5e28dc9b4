"""`GET /admin/dead-letters` and `POST /admin/dead-letters/{message_id}/replay` (admins): a
service's own dead letters over HTTP, as `python -m skileez_events dead-letters` gives them on
the command line, so the operators' console can list and replay those of every service.

Every service serves them (`skileez_web.app.service_app` adds them and says whose dead letters
they are under `DEAD_LETTERS`: its consumer's name, broker and namespace).
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from skileez_events import Names
from skileez_events.deadletters import DeadLetter, list_dead_letters, replay
from skileez_web.auth import TOKEN_RULES, Role, authenticate, require_role
from skileez_web.openapi import Api
from skileez_web.problems import Problem


@dataclass(frozen=True)
class DeadLetterSource:
    amqp_url: str
    names: Names
    consumer: str


DEAD_LETTERS = web.AppKey("dead_letters", DeadLetterSource)


class DeadLetterOut(BaseModel):
    queue: str
    message_id: str | None
    event_type: str | None
    reason: str
    deaths: int
    body: str

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        return cls(
            queue=letter.queue,
            message_id=letter.message_id,
            event_type=letter.event_type,
            reason=letter.reason,
            deaths=letter.deaths,
            body=letter.body.decode("utf-8", errors="replace"),
        )


class DeadLettersOut(BaseModel):
    dead_letters: list[DeadLetterOut]


def _broker_unavailable(error: Exception) -> Problem:
    return Problem(
        503,
        "broker_unavailable",
        f"The broker did not answer ({type(error).__name__}); nothing was changed.",
    )


dead_letters_api = Api("dead-letters")
"""The two routes, on every service (`service_app`; the app holds `DEAD_LETTERS`)."""


@dead_letters_api.operation(
    "GET",
    "/admin/dead-letters",
    summary="This service's dead letters, each with its queue, why and how often it died,"
    " and its body (admins)",
    responses={200: DeadLettersOut, 401: None, 403: None, 503: None},
)
async def dead_letters(request: web.Request) -> web.Response:
    require_role(authenticate(request, request.app[TOKEN_RULES]), Role.ADMIN)
    source = request.app[DEAD_LETTERS]
    try:
        letters = await list_dead_letters(source.amqp_url, source.names, source.consumer)
    except Exception as error:
        raise _broker_unavailable(error) from None
    body = DeadLettersOut(dead_letters=[DeadLetterOut.of(letter) for letter in letters])
    return web.json_response(body.model_dump(mode="json"))


@dead_letters_api.operation(
    "POST",
    "/admin/dead-letters/{message_id}/replay",
    summary="Send a dead letter back to the queue of the consumer that gave up on it"
    " (admins); 404 when no dead letter has this id",
    responses={200: DeadLettersOut, 401: None, 403: None, 404: None, 503: None},
)
async def replay_dead_letter(request: web.Request) -> web.Response:
    require_role(authenticate(request, request.app[TOKEN_RULES]), Role.ADMIN)
    source = request.app[DEAD_LETTERS]
    message_id = request.match_info["message_id"]
    try:
        done = await replay(source.amqp_url, source.names, message_id, source.consumer)
    except Exception as error:
        raise _broker_unavailable(error) from None
    if not done:
        raise Problem(404, "dead_letter_not_found", "No dead letter of this service has this id.")
    body = DeadLettersOut(dead_letters=[DeadLetterOut.of(letter) for letter in done])
    return web.json_response(body.model_dump(mode="json"))
