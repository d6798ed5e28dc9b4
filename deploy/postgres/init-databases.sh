#!/bin/bash
# PostgreSQL init (docker-entrypoint-initdb.d, first start of an empty data volume only):
# one login role and one database per service, each database owned by its service's role,
# so no service can read another's tables (DESIGN.md: each service owns its database).
#
# Passwords come from the environment (CONTRACTS_DB_PASSWORD, ...; see .env.example).
# DATABASE_PREFIX (default empty) prefixes role and database names; the validation tests
# use it to run this very script against the machine's PostgreSQL.
set -euo pipefail

prefix="${DATABASE_PREFIX:-}"
for service in contracts payments scheduling backoffice; do
  var="${service^^}_DB_PASSWORD"
  password="${!var:-}"
  if [[ -z "$password" ]]; then
    echo "init-databases: $var is not set (see .env.example)" >&2
    exit 1
  fi
  psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
    --set=name="${prefix}${service}" --set=password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"name" TO :"name";
SQL
  echo "init-databases: database ${prefix}${service} owned by role ${prefix}${service}"
done
