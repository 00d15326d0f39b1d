#!/usr/bin/env bash
# `npm run test:compose`: the Compose deployment end to end, two hosts on one
# machine. Builds the images (classic builder), then brings up two Compose
# projects, "host A" (deploy/hosts/host-1.env, producer) and "host B"
# (deploy/hosts/host-2.env, no producer), each filled in as an operator would:
# its PUBLIC_IP, the other as BOOTSTRAP_PEERS/ALLOW_LIST. Each project keeps its
# own private network; the gateways are also on one shared Docker network that
# plays the internet (deploy/e2e/two-hosts.yml), each with its own address.
# Grafana is not started (there is no local image for it).
#
# Checks, in order:
#   1. A starts alone and makes blocks; B starts later, from height 0
#   2. B dials A (the higher IP dials): one connection, both registries agree
#   3. B catches up with A's chain through the batch queue, and follows it
#   4. the connection stays the same across many ping intervals, with pongs
#      seen in both directions; it is Noise XX both ways and each host sees
#      the other's own node id; timenetctl status --all finds the two hosts
#      connected, on the same genesis and chain
#   5. --scale chain-sync=3 on B: three workers, B keeps following A
#   6. B's gateway process is killed (SIGKILL, as a crash or the OOM killer
#      would); its restart policy brings it back and the hosts reconnect once
#   7. each host's Prometheus scrapes every target of its node "up"
#   8. B's gateway stopped by Compose: A records Goodbye{SHUTDOWN}; then every
#      container of both hosts exits 0 on SIGTERM within the grace period
# Hardening (deploy/e2e/hardening.sh), along the way: before anything starts,
# `docker-compose config` has every service read-only, without capabilities,
# with no-new-privileges and memory/pids limits, pinned monitoring images and
# Grafana's entrypoint refusing admin/admin; once A is up, Docker applied it
# (and the gateway has no capabilities and cannot write /app); after step 7,
# `docker stats` of every container (none above 90 % of its memory limit).
# Everything is torn down at the end, also on failure (docker-compose down -v,
# the shared network removed).
#
# Why not `docker kill`: Docker counts `docker kill` as a manual stop, and no
# restart policy restarts a manually stopped container (moby/moby#28396); a
# process that dies of SIGKILL without Docker's doing is what restart policies
# exist for, so step 6 sends SIGKILL to the container's process from the host.
#
# Options (environment): NODE_IMAGE / NATS_IMAGE / PROMETHEUS_IMAGE (default:
# the offline stand-ins of shared/offline-containers/setup.sh when present),
# E2E_NO_BUILD=1 (use images tagged timenet/<service>:e2e), E2E_KEEP=1 (leave
# both projects up), E2E_SUBNET (default 10.231.250.0/24).
set -euo pipefail
cd "$(dirname "$0")/.."

LOG_TAG=e2e
# shellcheck source=deploy/compose-lib.sh
source deploy/compose-lib.sh
# shellcheck source=deploy/e2e/hardening.sh
source deploy/e2e/hardening.sh
require_docker
default_images

TAG=e2e
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo e2e)
SUBNET=${E2E_SUBNET:-10.231.250.0/24}
NET_PREFIX=${SUBNET%.*}
WAN=timenet-e2e-wan
IP_A=$NET_PREFIX.11 IP_B=$NET_PREFIX.12
BIND_A=127.0.0.251 BIND_B=127.0.0.252
WORK=$(mktemp -d /tmp/timenet-e2e.XXXXXX)
A_SERVICES=(nats peer-registry block-store p2p-gateway chain-sync block-producer prometheus)
B_SERVICES=(nats peer-registry block-store p2p-gateway chain-sync prometheus)

# fill_env SRC DEST KEY=VALUE...: the host file with those lines replaced (or added).
fill_env() {
  local src=$1 dest=$2 kv key
  shift 2
  cp "$src" "$dest"
  for kv in "$@"; do
    key=${kv%%=*}
    grep -v "^$key=" "$dest" >"$dest.tmp" || true
    printf '%s\n' "$kv" >>"$dest.tmp"
    mv "$dest.tmp" "$dest"
  done
}
# devnet-fast (deploy/networks/devnet-fast.json): the devnet's genesis and public
# keys, so host A can produce with devnet key 0; its block interval (500 ms) is
# the network's rule, not a producer setting.
common=(TIMENET_TAG=$TAG TIMENET_IMAGE_PREFIX=timenet NETWORK=devnet-fast E2E_WAN_NETWORK=$WAN LOG_LEVEL=info SYNC_WORKERS=2)
fill_env deploy/hosts/host-1.env "$WORK/a.env" "${common[@]}" COMPOSE_PROFILES=producer,monitoring NODE_NAME=e2e-a \
  PUBLIC_IP=$IP_A E2E_PUBLIC_IP=$IP_A BOOTSTRAP_PEERS=$IP_B:24100 ALLOW_LIST=$IP_B OPERATOR_TLS_HOST_DIR=$WORK/tls/host-a \
  OPERATOR_BIND=$BIND_A P2P_BIND=$BIND_A NATS_BIND=$BIND_A $(nats_passwords) \
  PRODUCER_DEVNET_INDEX=0
fill_env deploy/hosts/host-2.env "$WORK/b.env" "${common[@]}" COMPOSE_PROFILES=monitoring NODE_NAME=e2e-b \
  PUBLIC_IP=$IP_B E2E_PUBLIC_IP=$IP_B BOOTSTRAP_PEERS=$IP_A:24100 ALLOW_LIST=$IP_A OPERATOR_TLS_HOST_DIR=$WORK/tls/host-b \
  OPERATOR_BIND=$BIND_B P2P_BIND=$BIND_B NATS_BIND=$BIND_B $(nats_passwords)

# host a|b CMD...: run CMD with `compose` bound to that host's project.
HOST=a
compose() { docker-compose -f docker-compose.yml -f deploy/e2e/two-hosts.yml --env-file "$WORK/$HOST.env" -p "timenet-e2e-$HOST" "$@"; }
host() { local saved=$HOST; HOST=$1; shift; "$@"; local rc=$?; HOST=$saved; return $rc; }

cleanup() {
  local rc=$?
  set +e
  for h in a b; do
    if [[ -n ${E2E_KEEP:-} ]]; then
      log "E2E_KEEP: project timenet-e2e-$h left up (env file $WORK/$h.env)"
      continue
    fi
    if ((rc != 0)); then
      log "host $h: last 30 log lines per service"
      host "$h" compose logs --no-color --tail 30 2>&1 | sed 's/^/  /'
      host "$h" compose ps 2>&1 | sed 's/^/  /'
    fi
    host "$h" compose down -v --remove-orphans -t 15 >/dev/null 2>&1
  done
  if [[ -z ${E2E_KEEP:-} ]]; then
    docker network rm "$WAN" >/dev/null 2>&1
    rm -rf "$WORK"
  fi
  # Repeated last: CI shows only the tail of a long log dump.
  if [[ -n ${FAILED_WITH:-} ]]; then printf '[e2e] FAIL (repeated after the logs above): %s\n' "$FAILED_WITH" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# jsq EXPR [DEFAULT]: evaluate a JavaScript expression over the JSON on stdin
# (`j`); DEFAULT (or "") when stdin is not JSON (a service that did not answer).
jsq() {
  node -e 'const f = new Function("j", "return (" + process.argv[1] + ")");
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      let v; try { v = f(JSON.parse(s)); } catch { v = process.argv[2] ?? ""; }
      console.log(typeof v === "object" ? JSON.stringify(v) : String(v)); });' "$@"
}
# status: `timenetctl status --compose --json` inside the current host's network.
# A `docker exec` that times out or prints no JSON (a busy CI machine) is asked
# again, up to three times, so a check never reads "no connection" from a
# status that simply did not answer.
status() {
  local out try
  for try in 1 2 3; do
    out=$(compose exec -T p2p-gateway timenetctl --json --timeout 3000 status --compose 2>/dev/null || true)
    if jsq 'j.gateway && j.gateway.info ? 1 : 0' 0 <<<"$out" | grep -qx 1; then break; fi
    echo "[e2e $(date +%H:%M:%S)] status of host $HOST did not answer (try $try)" >&2
    sleep 1
  done
  printf '%s\n' "$out"
}
height() { status | jsq 'Number(j.blockStore.tip.height ?? 0)' -1; }
# conn IP: "connId direction rtt" of the current host's connection to IP, or "none".
conn() { status | jsq "(() => { const c = (j.gateway.connections ?? []).find((k) => k.ip === '$1'); return c ? [c.connId, c.direction, c.lastRttMs ?? 0].join(' ') : 'none'; })()" none; }
# link IP: "encryption nodeId" of the current host's connection to IP (the node id its Noise handshake proved), or "none".
link() { status | jsq "(() => { const c = (j.gateway.connections ?? []).find((k) => k.ip === '$1'); return c ? [c.encryption || 'plaintext', c.nodeId].join(' ') : 'none'; })()" none; }
own_id() { status | jsq 'j.gateway.info.nodeId' none; }
# registry_peer IP FIELD: a field of the current host's registry entry for IP.
registry_peer() {
  local v try
  for try in 1 2 3; do
    v=$(compose exec -T p2p-gateway timenetctl --json --node peer-registry peer "$1" 2>/dev/null | jsq "j.peer ? (j.peer.$2 ?? 0) : 'none'" unreachable)
    [[ $v != unreachable ]] && break
    sleep 1
  done
  echo "$v"
}
# targets BIND: "up/total" of that Prometheus's active targets.
targets() { curl -fsS -m 3 "http://$1:9090/api/v1/targets?state=active" 2>/dev/null | jsq 'j.data.activeTargets.filter((t) => t.health === "up").length + "/" + j.data.activeTargets.length' 0/0; }
# diag: what each host sees now (printed when a wait fails).
diag() {
  local h
  for h in a b; do
    log "host $h now: height $(host "$h" height), conn to A: $(host "$h" conn "$IP_A"), conn to B: $(host "$h" conn "$IP_B")"
  done
  log "Prometheus targets up: A $(targets "$BIND_A"), B $(targets "$BIND_B")"
}
# until_true SECS WHAT CMD...: poll CMD once a second until it succeeds.
until_true() {
  local deadline=$(($(now) + $1)) what=$2 secs=$1
  shift 2
  until "$@"; do
    if (($(now) >= deadline)); then diag; fail "$what (within $secs s)"; fi
    sleep 1
  done
}

# --- build -----------------------------------------------------------------------------
t0=$(now)
if [[ -z ${E2E_NO_BUILD:-} ]]; then build_images "$TAG" "$VERSION"; fi
ok "images (${VERSION}) ready in $(($(now) - t0))s; NODE_IMAGE=$NODE_IMAGE NATS_IMAGE=$NATS_IMAGE PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE"

hardening_config
hardening_grafana_entrypoint
ok "hardened: ${HARDENED_SERVICES} services read-only, no capabilities, no-new-privileges, memory and pids limits, gRPC ports 50051-50055 reserved from the ephemeral range; monitoring images pinned; Grafana refuses admin/admin"

# Operator TLS: one CA, a cert per host (named for its OPERATOR_BIND, where
# timenetctl on this machine dials it) and one for the operator's timenetctl.
operator_tls "$TAG" "$WORK/tls" host-a "$BIND_A"
operator_tls "$TAG" "$WORK/tls" host-b "$BIND_B"
operator_tls "$TAG" "$WORK/tls" operator
ok "operator TLS: a CA, host-a, host-b and an operator client cert (timenetctl operator-ca/operator-cert create)"

for h in a b; do host "$h" compose down -v --remove-orphans >/dev/null 2>&1 || true; done
docker network rm "$WAN" >/dev/null 2>&1 || true
docker network create --subnet "$SUBNET" "$WAN" >/dev/null || fail "docker network create --subnet $SUBNET $WAN"

# --- 1. host A alone, then host B ---------------------------------------------------------
t1=$(now)
host a compose up -d --no-build "${A_SERVICES[@]}" >"$WORK/up-a.log" 2>&1 || { cat "$WORK/up-a.log" >&2; fail "host A: up -d"; }
host a wait_healthy 8 180 || fail "host A: not every container healthy within 180 s"
ok "host A ($IP_A): 8 containers healthy $(($(now) - t1))s after up -d"
host a hardening_containers
ok "host A's containers run as configured: read-only root, no capabilities, limits, non-root timenet images; the gateway cannot write /app, writes /app/data, and its namespace reserves 50051-50055"
# Three batches' worth of chain (SYNC_BATCH_SIZE 16 in two-hosts.yml) before B exists.
a_height_ge() { (($(host a height) >= $1)); }
until_true 90 "host A did not reach height 48" a_height_ge 48
ok "host A produces blocks: height $(host a height)"

t2=$(now)
host b compose up -d --no-build "${B_SERVICES[@]}" >"$WORK/up-b.log" 2>&1 || { cat "$WORK/up-b.log" >&2; fail "host B: up -d"; }
host b wait_healthy 7 180 || fail "host B: not every container healthy within 180 s"
ok "host B ($IP_B): 7 containers healthy $(($(now) - t2))s after up -d"

# --- 2. one connection, dialled by B -------------------------------------------------------------
connected() { [[ $(host a conn "$IP_B") != none && $(host b conn "$IP_A") != none ]]; }
until_true 60 "A and B did not connect" connected
t_conn=$(now)
read -r a_id a_dir _ <<<"$(host a conn "$IP_B")"
read -r b_id b_dir _ <<<"$(host b conn "$IP_A")"
[[ $a_dir == DIRECTION_INBOUND && $b_dir == DIRECTION_OUTBOUND ]] || fail "A sees $a_dir, B sees $b_dir (the higher IP, B, dials)"
ok "connected: B dialled A (A conn $a_id inbound, B conn $b_id outbound)"

# --- 3. catch-up through the batch queue, then following -------------------------------------------
caught_up() { local a b; a=$(host a height); b=$(host b height); ((b >= 0 && a - b <= 2)); }
t3=$(now)
until_true 180 "host B did not catch up with host A" caught_up
# batchesDone is the answering replica's own count, and B runs two replicas: the catch-up's
# few batches are shared between them, and new blocks now come pushed with their announcement
# (no batch), so one replica may have done none. Each status call resolves the replicas' name
# again (Docker's DNS answers them in turn): asked until one that did a batch answers.
batches_seen() { done_batches=$(host b status | jsq 'Number(j.chainSync.batchesDone ?? 0)' 0); ((done_batches >= 1)); }
until_true 60 "host B caught up with no batch done through the work queue by any replica that answered" batches_seen
ok "host B caught up in $(($(now) - t3))s: A $(host a height), B $(host b height), $done_batches batches through the work queue (one replica's count)"

# --- 4. the connection stays, pongs both ways --------------------------------------------------------
t4=$(now)
while (($(now) - t4 < 20)); do
  read -r id _ <<<"$(host a conn "$IP_B")"
  [[ $id == "$a_id" ]] || fail "A's connection to B changed: $a_id -> $id"
  read -r id _ <<<"$(host b conn "$IP_A")"
  [[ $id == "$b_id" ]] || fail "B's connection to A changed: $b_id -> $id"
  sleep 2
done
read -r _ _ a_rtt <<<"$(host a conn "$IP_B")"
read -r _ _ b_rtt <<<"$(host b conn "$IP_A")"
[[ $a_rtt != 0 && $b_rtt != 0 ]] || fail "a ping went unanswered: RTT A->B '$a_rtt' ms, B->A '$b_rtt' ms"
a_total=$(host a registry_peer "$IP_B" totalConnections)
b_total=$(host b registry_peer "$IP_A" totalConnections)
[[ $a_total == 1 && $b_total == 1 ]] || fail "registry total connections: A sees B $a_total, B sees A $b_total (expected 1 and 1)"
ok "the same connection for $(($(now) - t_conn))s since it opened (PING_INTERVAL 1s), RTT A->B $(printf %.2f "$a_rtt") ms, B->A $(printf %.2f "$b_rtt") ms; each registry counts 1 connection"
read -r a_enc a_sees_b <<<"$(host a link "$IP_B")"
read -r b_enc b_sees_a <<<"$(host b link "$IP_A")"
[[ $a_enc == noise-xx && $b_enc == noise-xx ]] || fail "the link is not encrypted: A->B '$a_enc', B->A '$b_enc'"
[[ $a_sees_b == "$(host b own_id)" && $b_sees_a == "$(host a own_id)" ]] || fail "proven node ids: A sees B as '$a_sees_b', B sees A as '$b_sees_a'"
ok "the link is Noise XX both ways, and each host sees the other's own node id (${a_sees_b:0:16}, ${b_sees_a:0:16})"

printf '[{"name":"host-a","address":"%s","p2p_ip":"%s"},{"name":"host-b","address":"%s","p2p_ip":"%s"}]\n' \
  "$BIND_A" "$IP_A" "$BIND_B" "$IP_B" >"$WORK/fleet.json"
fleet_ok() { docker run --rm --network host -v "$WORK/fleet.json:/fleet.json:ro" -v "$WORK/tls/operator:/tls:ro" "timenet/timenetctl:$TAG" --tls-dir /tls status --all --hosts /fleet.json >"$WORK/fleet.txt" 2>&1; }
until_true 20 "timenetctl status --all: $(cat "$WORK/fleet.txt" 2>/dev/null)" fleet_ok
ok "timenetctl status --all (from the host): $(tail -1 "$WORK/fleet.txt")"

# --- 5. three sync workers on B --------------------------------------------------------------------
t5=$(now)
host b compose up -d --no-build --no-recreate --scale chain-sync=3 "${B_SERVICES[@]}" >"$WORK/scale.log" 2>&1 \
  || { cat "$WORK/scale.log" >&2; fail "host B: up --scale chain-sync=3"; }
host b wait_healthy 8 120 || fail "host B: 3 chain-sync replicas not healthy"
three_workers() { [[ $(host b status | jsq 'Number(j.chainSync.workersSeen ?? 0)' 0) == 3 ]]; }
until_true 60 "host B's chain-sync does not see 3 workers" three_workers
target=$(($(host a height) + 10))
b_reaches() { (($(host b height) >= target)); }
until_true 60 "host B stopped following A with 3 workers (wanted height $target)" b_reaches
ok "--scale chain-sync=3 on B: 3 workers seen, B followed A to height $(host b height) ($(($(now) - t5))s)"

# --- 6. crash of B's gateway, healed by its restart policy ---------------------------------------------
gw_b=$(host b compose ps -q p2p-gateway)
kill -9 "$(docker inspect -f '{{.State.Pid}}' "$gw_b")"
t6=$(now)
restarted() { [[ $(docker inspect -f '{{.RestartCount}} {{.State.Status}}' "$gw_b") == "1 running" ]]; }
until_true 60 "B's gateway was not restarted by its restart policy" restarted
restart_s=$(($(now) - t6))
reconnected() { local c; c=$(host a conn "$IP_B"); [[ $c != none && ${c%% *} != "$a_id" ]]; }
until_true 60 "A and B did not reconnect after the restart" reconnected
reconnect_s=$(($(now) - t6))
host b wait_healthy 8 60 || fail "host B is not healthy again after its gateway's restart"
read -r a_id2 _ <<<"$(host a conn "$IP_B")"
sleep 5 # a window in which a second reconnect (cycling) would show
read -r id _ <<<"$(host a conn "$IP_B")"
[[ $id == "$a_id2" ]] || fail "A's connection to B changed again after the reconnect: $a_id2 -> $id"
a_total=$(host a registry_peer "$IP_B" totalConnections)
[[ $a_total == 2 ]] || fail "A's registry counts $a_total connections with B after one restart (expected 2)"
reason=$(host a registry_peer "$IP_B" lastDisconnectReason)
ok "B's gateway killed: running again after ${restart_s}s (restart policy), reconnected once after ${reconnect_s}s, healthy (A: total 2, last close $reason)"

# --- 7. Prometheus: every target up ------------------------------------------------------------------
all_up() { [[ $(targets "$BIND_A") == 6/6 && $(targets "$BIND_B") == 6/6 ]]; }
until_true 120 "Prometheus targets up: not 6/6 on each host" all_up
ok "Prometheus: A 6/6 targets up (gateway, registry, store, producer, 2 chain-sync), B 6/6 (gateway, registry, store, 3 chain-sync)"
log "docker stats (memory use / limit, pids) after the catch-up, scaling and restart:"
hardening_stats timenet-e2e-
ok "every container below 90 % of its memory limit"

# --- 8. SIGTERM -----------------------------------------------------------------------------------
host b compose stop -t 15 p2p-gateway >/dev/null 2>&1
goodbye() { [[ $(host a registry_peer "$IP_B" lastDisconnectReason) == DISCONNECT_REASON_SHUTDOWN ]]; }
until_true 20 "A did not record B's close as Goodbye{SHUTDOWN}" goodbye
ok "B's gateway stopped: A recorded Goodbye{SHUTDOWN}"
for h in a b; do
  ts=$(now)
  host "$h" compose stop -t 15 >/dev/null 2>&1
  codes=$(docker inspect -f '{{.Name}} {{.State.ExitCode}}' $(host "$h" compose ps -q))
  if grep -v ' 0$' <<<"$codes" | grep -q .; then fail "host $h: not every container exited 0: $(tr '\n' ' ' <<<"$codes")"; fi
  (($(now) - ts < 15)) || fail "host $h: stopping took $(($(now) - ts))s (something was SIGKILLed)"
done
ok "every container of both hosts exited 0 on SIGTERM"
log "all checks passed in $(($(now) - t0))s"
