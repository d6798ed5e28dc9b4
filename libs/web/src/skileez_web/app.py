"""What every service's `create_app` builds on: middlewares, standard routes, background loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from functools import partial
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from skileez_events import EventConsumer, Inbox, Names, Outbox, OutboxRelay, Subscription
from skileez_events.consumer import LockAhead
from skileez_web.auth import TOKEN_RULES
from skileez_web.backlog import Sample, outbox_sample, queues_sample, sample_every
from skileez_web.correlation import correlation_middleware
from skileez_web.database import create_engine
from skileez_web.dead_letters import DEAD_LETTERS, DeadLetterSource, dead_letters_api
from skileez_web.docs import DOCS_PAGE, docs_api, docs_page
from skileez_web.logs import access_log_middleware
from skileez_web.observability import READINESS, metrics_middleware, standard_api
from skileez_web.openapi import Api
from skileez_web.origins import ORIGINS, Origins, origin_middleware, security_headers
from skileez_web.pages import LINKS, pages_api, problem_page
from skileez_web.problems import PROBLEM_PAGE, REFUSALS, Refusals, problem_middleware
from skileez_web.readiness import ReadinessCheck, ReadinessChecks
from skileez_web.retention import Pruning, prune_every
from skileez_web.settings import ServiceSettings
from skileez_web.shutdown import within
from skileez_web.sign_in import keeping_sign_in_codes, sign_in_api

log = logging.getLogger(__name__)


def service_app(
    api: Api,
    readiness: dict[str, ReadinessCheck],
    settings: ServiceSettings,
    refusals: Refusals,
    *,
    public_url: str,
    engine: web.AppKey[AsyncEngine],
    consumer: str,
) -> web.Application:
    """An application with problem+json errors (the domain's `refusals` among them), metrics,
    health, readiness, the sign-in links (their codes in the database of `engine`), the
    checks on requests from other sites, an `/openapi.json` that describes every route,
    `/docs`, the same document as a page, and the shared stylesheet; a browser sees every
    refusal as the shared error page (`skileez_web.pages`).

    `public_url` is where browsers reach this service (one of `settings`' public URLs);
    `consumer` names its queues, whose dead letters `/admin/dead-letters` lists and replays."""
    app = web.Application(
        middlewares=[
            correlation_middleware,
            *([access_log_middleware] if settings.access_log else []),
            metrics_middleware,
            problem_middleware,
            origin_middleware,
        ]
    )
    app[REFUSALS] = refusals
    app[PROBLEM_PAGE] = problem_page
    app[LINKS] = settings.links
    app[READINESS] = ReadinessChecks(readiness)
    app[TOKEN_RULES] = settings.token_rules
    app[DEAD_LETTERS] = DeadLetterSource(
        settings.amqp_url, Names(settings.events_namespace), consumer
    )
    app[ORIGINS] = Origins.of(
        public_url, (settings.contracts_url, settings.payments_url, settings.scheduling_url)
    )
    app.on_response_prepare.append(security_headers)
    app.on_startup.append(keeping_sign_in_codes(engine))
    app.add_routes(standard_api.routes)
    app.add_routes(sign_in_api.routes)
    app.add_routes(docs_api.routes)
    app.add_routes(pages_api.routes)
    app.add_routes(dead_letters_api.routes)
    spec = api.spec(standard_api, sign_in_api, docs_api, pages_api, dead_letters_api)
    app[DOCS_PAGE] = docs_page(spec)

    async def openapi(_request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/openapi.json", openapi)
    app.add_routes(api.routes)
    return app


def database(
    settings: ServiceSettings, engine_key: web.AppKey[AsyncEngine]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the service's engine under its key, disposed at exit.

    The engine is its connection pool: queries run on asyncpg connections borrowed from it
    (`skileez_db.connections`); Alembic and the few cold queries use it directly.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        app[engine_key] = engine
        yield
        await within("closing the database pool", engine.dispose())

    return context


def background(
    name: str,
    run: Callable[[], Coroutine[Any, Any, None]],
    drain: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs a loop for the app's lifetime; on shutdown, drain then cancel
    (each step bounded: `skileez_web.shutdown`)."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(), name=name)
        yield
        try:
            if drain is not None:
                await within(f"draining the {name}", drain())
        finally:
            task.cancel()
            if await within(f"stopping the {name}", task):
                log.info("%s stopped", name)

    return context


def relaying(
    settings: ServiceSettings,
    engine_key: web.AppKey[AsyncEngine],
    outbox: Outbox,
    relay_key: web.AppKey[OutboxRelay],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the service's outbox relay, drained then stopped at shutdown, and
    the sampling of its backlog (`skileez_web.backlog`)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(
            app[engine_key], outbox, settings.amqp_url, Names(settings.events_namespace)
        )
        app[relay_key] = relay
        samples = [("outbox", outbox_sample(app[engine_key], outbox))]
        watch = partial(sample_every, settings.metrics_interval_seconds, samples)
        async for _ in background("outbox relay", relay.run, relay.drain)(app):
            async for _ in background("outbox metrics", watch)(app):
                yield

    return context


def sampling(
    settings: ServiceSettings, samples: Callable[[web.Application], Sequence[tuple[str, Sample]]]
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: a service's own gauges, `samples` of the started app taken every
    `METRICS_INTERVAL_SECONDS` (`skileez_web.backlog`)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        watch = partial(sample_every, settings.metrics_interval_seconds, samples(app))
        async for _ in background("metrics sampling", watch)(app):
            yield

    return context


def pruning(
    settings: ServiceSettings,
    engine_key: web.AppKey[AsyncEngine],
    prunings: Sequence[Pruning],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the retention job (`skileez_web.retention`), stopped at shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        run = partial(
            prune_every,
            app[engine_key],
            prunings,
            batch_size=settings.retention_batch_size,
            interval=settings.retention_interval_seconds,
        )
        async for _ in background("retention job", run)(app):
            yield

    return context


def consuming(
    settings: ServiceSettings,
    engine_key: web.AppKey[AsyncEngine],
    consumer_key: web.AppKey[EventConsumer],
    *,
    consumer: str,
    inbox: Inbox,
    subscriptions: Sequence[Subscription],
    lock_ahead: LockAhead | None = None,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context: the service's event consumer, drained then stopped at shutdown, and
    the sampling of its queues (`skileez_web.backlog`)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        names = Names(settings.events_namespace)
        running = EventConsumer(
            consumer=consumer,
            engine=app[engine_key],
            inbox=inbox,
            amqp_url=settings.amqp_url,
            names=names,
            subscriptions=subscriptions,
            lock_ahead=lock_ahead,
        )
        app[consumer_key] = running
        samples = [
            ("queues", queues_sample(lambda: running.ready, consumer, settings.amqp_url, names))
        ]
        watch = partial(sample_every, settings.metrics_interval_seconds, samples)
        async for _ in background(f"{consumer} consumer", running.run, running.drain)(app):
            async for _ in background(f"{consumer} queue metrics", watch)(app):
                yield

    return context
