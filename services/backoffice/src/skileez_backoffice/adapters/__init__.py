"""Storage and the other services: tables, repositories, report queries, the services' APIs."""
