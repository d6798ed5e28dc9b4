"""`python -m skileez_backoffice migrate|serve|prune|rebuild`."""

import asyncio

from skileez_backoffice.adapters.unit_of_work import rebuild_read_model
from skileez_backoffice.entrypoints.app import create_app, retention
from skileez_backoffice.settings import BackofficeSettings
from skileez_web.cli import run_service
from skileez_web.database import create_engine
from skileez_web.logs import log_json_lines
from skileez_web.settings import DatabaseSettings, RetentionSettings


def rebuild() -> None:
    """Empty the read model and fill it again from the event archive (DATABASE_URL alone)."""
    settings = DatabaseSettings()
    log_json_lines("backoffice", settings.log_level)

    async def run() -> None:
        engine = create_engine(settings.database_url, pool_size=1, statement_timeout=None)
        try:
            rebuilt = await rebuild_read_model(engine)
        finally:
            await engine.dispose()
        print(f"{rebuilt.replayed} archived events replayed, {rebuilt.unknown} of unknown types")

    asyncio.run(run())


if __name__ == "__main__":
    run_service(
        "skileez_backoffice",
        BackofficeSettings,
        create_app,
        retention=retention,
        retention_settings=RetentionSettings,
        commands={"rebuild": rebuild},
    )
