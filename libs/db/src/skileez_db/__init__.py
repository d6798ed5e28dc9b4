"""The database machinery the services share: asyncpg transactions on SQLAlchemy's pool, staged
writes, the identity map of a transaction and group commits."""
