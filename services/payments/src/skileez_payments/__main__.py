"""`python -m skileez_payments migrate|serve|prune`."""

from skileez_payments.entrypoints.app import create_app, retention
from skileez_payments.settings import PaymentsRetentionSettings, PaymentsSettings
from skileez_web.cli import run_service

run_service(
    "skileez_payments",
    PaymentsSettings,
    create_app,
    retention=retention,
    retention_settings=PaymentsRetentionSettings,
)
