"""`python -m skileez_scheduling migrate|serve`."""

from skileez_scheduling.entrypoints.app import create_app
from skileez_scheduling.settings import SchedulingSettings
from skileez_web.cli import run_service

if __name__ == "__main__":
    run_service("skileez_scheduling", SchedulingSettings, create_app)
