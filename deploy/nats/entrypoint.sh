#!/bin/sh
# The nats container's entrypoint: refuses to start when a NATS user's
# password is not at least 16 letters, digits, "_" or "-" starting with a
# letter, or is still a CHANGE-ME placeholder (one line naming the variable,
# exit 2), then runs nats-server with the container's command. The same rule
# as every service's NATS_PASS (libs/config). A letter first: nats-server
# reads a `$VAR` value as a config value, and one like 12e45... is a number.
for var in NATS_PASS_GATEWAY NATS_PASS_REGISTRY NATS_PASS_SYNC NATS_PASS_STORE NATS_PASS_PRODUCER NATS_PASS_OPERATOR; do
  eval "value=\${$var:-}"
  case "$value" in
    *[Cc][Hh][Aa][Nn][Gg][Ee]-[Mm][Ee]*) problem="is a CHANGE-ME placeholder" ;;
    "") problem="is empty" ;;
    [!A-Za-z]* | *[!A-Za-z0-9_-]*) problem="must start with a letter and hold only letters, digits, _ and -" ;;
    *) if [ "${#value}" -lt 16 ]; then problem="is shorter than 16 characters"; else problem=""; fi ;;
  esac
  if [ -n "$problem" ]; then
    echo "invalid configuration: $var $problem: set it in deploy/hosts/<host>.env (p\$(openssl rand -hex 24))" >&2
    exit 2
  fi
done
exec nats-server "$@"
