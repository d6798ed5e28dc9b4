"""PostgreSQL tables and the repository over them."""
