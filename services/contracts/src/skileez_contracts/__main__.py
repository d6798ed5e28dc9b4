"""`python -m skileez_contracts migrate|serve|prune`."""

from skileez_contracts.entrypoints.app import create_app, retention
from skileez_contracts.settings import ContractsSettings
from skileez_web.cli import run_service
from skileez_web.settings import RetentionSettings

if __name__ == "__main__":
    run_service(
        "skileez_contracts",
        ContractsSettings,
        create_app,
        retention=retention,
        retention_settings=RetentionSettings,
    )
