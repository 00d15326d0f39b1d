#!/bin/sh
# The grafana container's entrypoint (docker-compose.yml): no admin/admin.
# Refuses to start (one line naming the variable, exit 2) unless
# GF_SECURITY_ADMIN_PASSWORD (from GRAFANA_ADMIN_PASSWORD in the host env
# file) is set to a real password: not empty, not "admin", not a CHANGE-ME
# placeholder, at least 12 characters. Then runs the container's command (the
# image's /run.sh). Only this service refuses: hosts without the monitoring
# profile never run it.
value=${GF_SECURITY_ADMIN_PASSWORD:-}
case "$value" in
  "") problem="is not set" ;;
  admin) problem="is Grafana's default \"admin\"" ;;
  *[Cc][Hh][Aa][Nn][Gg][Ee]-[Mm][Ee]*) problem="is a CHANGE-ME placeholder" ;;
  *) if [ "${#value}" -lt 12 ]; then problem="is shorter than 12 characters"; else problem=""; fi ;;
esac
if [ -n "$problem" ]; then
  echo "invalid configuration: GRAFANA_ADMIN_PASSWORD $problem: set it in deploy/hosts/<host>.env (e.g. \$(openssl rand -hex 16)); Grafana does not start with admin/admin" >&2
  exit 2
fi
exec "$@"
