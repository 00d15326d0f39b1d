# Hardening checks of deploy/compose-e2e.sh (source it after compose-lib.sh;
# the caller defines `compose`). deploy/README.md, "Hardening".
#   hardening_config             `compose config`: every service read-only, no
#                                capabilities, no-new-privileges, memory and pids
#                                limits, a healthcheck, the gRPC ports reserved
#                                from the ephemeral range; pinned monitoring images;
#                                Grafana behind its password entrypoint
#   hardening_grafana_entrypoint deploy/grafana/entrypoint.sh refuses admin/admin
#   hardening_containers         the running containers, as Docker applied it
#   hardening_stats              `docker stats` of every running container (printed
#                                for deploy/README.md); fails above 90 % of a limit

# `compose config` checked by hardening-config.py.
hardening_config() {
  local out
  # The shipped defaults, not this run's stand-in images.
  out=$(unset PROMETHEUS_IMAGE GRAFANA_IMAGE GRAFANA_ADMIN_PASSWORD; compose config 2>&1) || fail "docker-compose config: $out"
  out=$(python3 deploy/e2e/hardening-config.py <<<"$out" 2>&1)
  [[ $out == ok* ]] || fail "docker-compose.yml is not hardened: $out"
  HARDENED_SERVICES=${out#ok }
}

# exit code and first line of the Grafana entrypoint with a password.
grafana_entry() { GF_SECURITY_ADMIN_PASSWORD=$1 sh deploy/grafana/entrypoint.sh true 2>&1 | head -1; echo "rc=${PIPESTATUS[0]}"; }

hardening_grafana_entrypoint() {
  local out pw
  for pw in "" admin CHANGE-ME-please short; do
    out=$(grafana_entry "$pw")
    [[ $out == *"GRAFANA_ADMIN_PASSWORD"*rc=2 ]] || fail "grafana entrypoint with password '$pw': expected a refusal (exit 2), got: $out"
  done
  out=$(grafana_entry "a-real-password-$RANDOM$RANDOM")
  [[ $out == rc=0 ]] || fail "grafana entrypoint with a real password did not run its command: $out"
}

# Every container of the current host as Docker runs it; the gateway's process
# has no capabilities, cannot write its root filesystem, and its namespace
# keeps the gRPC ports out of the ephemeral range.
hardening_containers() {
  local id line bad="" gw
  for id in $(compose ps -q); do
    line=$(docker inspect -f '{{.Name}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.Config.Image}} {{with .Config.User}}{{.}}{{else}}root{{end}}' "$id")
    read -r name ro caps sec mem pids image user <<<"$line"
    [[ $ro == true && $caps == "[ALL]" && $sec == *no-new-privileges:true* && $mem -gt 0 && $pids -gt 0 ]] || bad+=" $line;"
    # Our images run as the timenet user (uid 10001), never root.
    if [[ $image == timenet/* && $user != timenet && $user != 10001* ]]; then bad+=" $name runs as '$user';"; fi
  done
  [[ -z $bad ]] || fail "containers not hardened:$bad"
  gw=$(compose exec -T p2p-gateway sh -c 'grep CapEff /proc/1/status /proc/self/status | tr -s "\t " " "; touch /app/probe 2>&1; touch /app/data/.probe && rm /app/data/.probe && echo data-writable; echo "reserved=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)"' 2>&1 || true)
  [[ $gw == *"Read-only file system"* && $gw == *data-writable* && $gw == *reserved=50051-50055* && $(grep -c 'CapEff: 0000000000000000' <<<"$gw") == 2 ]] \
    || fail "p2p-gateway: expected no capabilities, a read-only /app, a writable /app/data and ports 50051-50055 reserved, got: $(tr '\n' ' ' <<<"$gw")"
}

# `docker stats` of every running container of the two hosts, printed; a
# container above 90 % of its memory limit fails (the limits are too tight).
hardening_stats() {
  local stats
  stats=$(docker stats --no-stream --format '{{.Name}} {{.MemUsage}} {{.MemPerc}} pids {{.PIDs}}' $(docker ps -q --filter "name=$1") 2>&1) || fail "docker stats: $stats"
  printf '%s\n' "$stats" | sed 's/^/  /'
  if awk '{ p = $5; sub("%", "", p); if (p + 0 > 90) bad = 1 } END { exit bad ? 0 : 1 }' <<<"$stats"; then
    fail "a container is above 90 % of its memory limit"
  fi
}
