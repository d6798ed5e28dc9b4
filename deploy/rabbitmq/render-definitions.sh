#!/bin/sh
# Entry point of the RabbitMQ container: render definitions.json with the per-service
# passwords from the environment, then hand over to the image's own entry point.
#
# Passwords must be URL-safe (they also go into AMQP URLs): letters, digits, `.`, `_`, `~`
# and `-`. Anything else is refused here rather than producing a broken JSON or URL.
#
# Without arguments it only renders (SKILEEZ_DEFINITIONS_RENDERED says where to).
set -eu

# Overridable so the validation tests can run this very script outside a container.
template=${SKILEEZ_DEFINITIONS_TEMPLATE:-/etc/skileez/definitions.json}
rendered=${SKILEEZ_DEFINITIONS_RENDERED:-/var/lib/rabbitmq/skileez-definitions.json}

contents=$(cat "$template")
for name in OPS CONTRACTS PAYMENTS SCHEDULING BACKOFFICE; do
  var="RABBITMQ_${name}_PASSWORD"
  value=$(printenv "$var" || true)
  if [ -z "$value" ]; then
    echo "render-definitions: $var is not set (see .env.example)" >&2
    exit 1
  fi
  case "$value" in
    *[!A-Za-z0-9._~-]*)
      echo "render-definitions: $var may only contain A-Z a-z 0-9 . _ ~ -" >&2
      exit 1
      ;;
  esac
  contents=$(printf '%s' "$contents" | sed "s/\${$var}/$value/g")
done

umask 077
printf '%s\n' "$contents" > "$rendered"
chown rabbitmq:rabbitmq "$rendered" 2>/dev/null || true

# No command: render only (e.g. to build the Kubernetes definitions Secret).
if [ "$#" -eq 0 ]; then
  exit 0
fi
exec docker-entrypoint.sh "$@"
