"""The URLs of the database and the broker, checked at start-up, and their TLS options carried
through to asyncpg and aio-pika (deploy/README.md, "TLS to PostgreSQL and RabbitMQ")."""

from __future__ import annotations

import aio_pika
import asyncpg
import pytest
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from yarl import URL

from skileez_db.connections import connection
from skileez_web.database import create_engine
from skileez_web.settings import SSL_MODES, DatabaseSettings, ServiceSettings

pytestmark = pytest.mark.timeout(60)

GOOD_DATABASE_URL = "postgresql+asyncpg://svc:s3cret-pw@db.example:5432/svc"


def service_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> ServiceSettings:
    """ServiceSettings read from the environment, as a service reads them at start-up."""
    values = {
        "DATABASE_URL": GOOD_DATABASE_URL,
        "AMQP_URL": "amqp://svc:pw@mq.example:5672/skileez",
        "PORT": "8000",
        "JWT_SECRET": "a-test-secret-of-more-than-thirty-two-bytes",
        **env,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return ServiceSettings()


@pytest.mark.parametrize(
    ("url", "refusal"),
    [
        ("mysql://svc:s3cret-pw@db.example/svc", "postgresql+asyncpg://"),
        ("postgresql://svc:s3cret-pw@db.example/svc", "postgresql+asyncpg://"),
        ("postgresql+psycopg2://svc:s3cret-pw@db.example/svc", "postgresql+asyncpg://"),
        ("db.example:5432", "postgresql+asyncpg://"),
        (f"{GOOD_DATABASE_URL}?sslmode=required", "sslmode must be one of disable, allow"),
        (f"{GOOD_DATABASE_URL}?sslmode=require&sslmode=disable", "sslmode once"),
        (f"{GOOD_DATABASE_URL}?ssl=require", "sslmode=..., not ssl="),
    ],
)
def test_a_database_url_asyncpg_cannot_use_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str, refusal: str
) -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL") as refused:
        service_settings(monkeypatch, DATABASE_URL=url)
    assert refusal in str(refused.value)
    assert "s3cret-pw" not in str(refused.value)  # the password is never printed


@pytest.mark.parametrize("mode", SSL_MODES)
def test_every_sslmode_asyncpg_knows_is_accepted(
    monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    url = f"{GOOD_DATABASE_URL}?sslmode={mode}&sslrootcert=/etc/skileez/ca.pem"
    assert service_settings(monkeypatch, DATABASE_URL=url).database_url == url


def test_migrations_read_the_database_url_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration Job is given DATABASE_URL and nothing else (deploy/k8s)."""
    for name in ("AMQP_URL", "PORT", "JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"{GOOD_DATABASE_URL}?sslmode=verify-full")
    assert DatabaseSettings().database_url.endswith("?sslmode=verify-full")
    monkeypatch.setenv("DATABASE_URL", f"{GOOD_DATABASE_URL}?sslmode=on")
    with pytest.raises(ValidationError, match="sslmode must be one of"):
        DatabaseSettings()


@pytest.mark.parametrize(
    "url", ["http://mq.example:5672/", "amqp+ssl://mq.example/", "mq.example:5672", ""]
)
def test_an_amqp_url_that_is_not_amqp_or_amqps_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    with pytest.raises(ValidationError, match=r"AMQP_URL must be amqp://\.\.\. or"):
        service_settings(monkeypatch, AMQP_URL=url)


@pytest.mark.parametrize(
    "url", ["amqp://svc:pw@mq.example:5672/skileez", "amqps://svc:pw@mq.example:5671/skileez"]
)
def test_amqp_and_amqps_urls_are_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert service_settings(monkeypatch, AMQP_URL=url).amqp_url == url


def with_sslmode(postgres_server_url: str, mode: str) -> str:
    url = make_url(postgres_server_url).set(drivername="postgresql+asyncpg")
    return url.update_query_dict({"sslmode": mode}).render_as_string(hide_password=False)


async def connected_with_tls(url: str) -> bool:
    """Whether the engine's connection to `url` runs over TLS, as the server sees it."""
    engine = create_engine(url, pool_size=1)
    try:
        async with connection(engine) as borrowed:
            tls: bool = await borrowed.fetchval(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
            return tls
    finally:
        await engine.dispose()


async def test_sslmode_disable_reaches_asyncpg_and_connects_without_tls(
    postgres_server_url: str,
) -> None:
    assert await connected_with_tls(with_sslmode(postgres_server_url, "disable")) is False


async def test_sslmode_require_never_falls_back_to_a_connection_without_tls(
    postgres_server_url: str,
) -> None:
    admin = await asyncpg.connect(
        make_url(postgres_server_url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        server_offers_tls = await admin.fetchval("SHOW ssl") == "on"
    finally:
        await admin.close()
    url = with_sslmode(postgres_server_url, "require")
    if server_offers_tls:
        assert await connected_with_tls(url) is True
    else:
        with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
            await connected_with_tls(url)


async def test_an_amqps_url_makes_aio_pika_speak_tls(amqp_url: str) -> None:
    """The services hand AMQP_URL to aio-pika as it is: `amqps://` starts a TLS handshake
    (here against the broker's plain AMQP port, which answers in clear, so it fails)."""
    plain = URL(amqp_url)
    assert plain.scheme == "amqp"
    async with await aio_pika.connect(str(plain)):
        pass
    tls = plain.with_scheme("amqps").with_port(plain.port or 5672)
    with pytest.raises(ConnectionError, match=r"\[SSL"):
        await aio_pika.connect(str(tls), timeout=10)
