from alembic import context

from skileez_backoffice.adapters.tables import metadata
from skileez_web.database import run_migrations_online

run_migrations_online(context.config, metadata)
