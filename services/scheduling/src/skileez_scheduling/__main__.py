"""`python -m skileez_scheduling migrate|serve|prune`."""

from skileez_scheduling.entrypoints.app import create_app, retention
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.cli import run_service
from skileez_web.settings import RetentionSettings

if __name__ == "__main__":
    run_service(
        "skileez_scheduling",
        SchedulingSettings,
        create_app,
        retention=retention,
        retention_settings=RetentionSettings,
    )
