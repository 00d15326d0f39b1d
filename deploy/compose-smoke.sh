#!/usr/bin/env bash
# End-to-end check of the container deployment on this machine:
#   1. builds every image target of the Dockerfile with the classic builder;
#   2. validates docker-compose.yml with each deploy/hosts/host-N.env;
#   3. brings up one node (host-1.env, no producer/monitoring profile) as the
#      Compose project "timenet-smoke", waits until every container is healthy;
#   4. checks: timenetctl answers inside the stack, ports are published only on
#      the bind address, services run as non-root, NATS has JetStream, auth and
#      an 8 MB max_payload, the node key survives a restart;
#   5. upgrades to another image tag and rolls back with `up -d` (volumes kept);
#   6. scales chain-sync to 3 and sees 3 healthy replicas that know each other;
#   7. stops the node with SIGTERM and checks every service exited 0 in time;
#   8. `down -v` (also on any failure, from a trap).
#
# Nothing is dialled outside this machine: the host file's peers (placeholder
# public addresses) are blanked, and every port is published on a loopback
# address of its own (SMOKE_BIND, default 127.0.0.250) so a devnet or the
# tests (127.0.0.1-160) or a real node on this host are not disturbed.
#
# Options (environment):
#   NODE_IMAGE / NATS_IMAGE   base images (default: offline/node:24 and
#                             offline/nats:2 when those exist — shared/offline-containers/setup.sh —
#                             else node:24-bookworm-slim / nats:2.10-alpine)
#   SMOKE_BIND=127.0.0.250    loopback address for every published port
#   SMOKE_NO_BUILD=1          use the images already tagged timenet/<service>:smoke
#   SMOKE_PRODUCER=1          also run the block-producer (devnet producer key 0 of
#                             NETWORK=devnet-fast) and check that the chain grows
#   SMOKE_SOURCE_IP=1         (root, iproute2) connect to the P2P port from a network
#                             namespace of its own, as a remote peer would, and check
#                             the gateway sees that peer's own address, not Docker's
#   SMOKE_KEEP=1              leave the stack running (no down -v) for a look
# Exit 0 when every check passed; prints one line per check and the timings.
set -euo pipefail
cd "$(dirname "$0")/.."

LOG_TAG=smoke
# shellcheck source=deploy/compose-lib.sh
source deploy/compose-lib.sh
require_docker
default_images
BIND=${SMOKE_BIND:-127.0.0.250}
TAG=smoke
PROJECT=timenet-smoke
HOST_ENV=deploy/hosts/host-1.env
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo smoke)

# The variables docker-compose.yml reads; the shell's values win over the env file's.
export NODE_IMAGE NATS_IMAGE TIMENET_TAG=$TAG TIMENET_IMAGE_PREFIX=timenet
export OPERATOR_BIND=$BIND P2P_BIND=$BIND NATS_BIND=$BIND
# Random NATS passwords: the env file's CHANGE-ME placeholders stop the stack.
# shellcheck disable=SC2046
export $(nats_passwords)
export BOOTSTRAP_PEERS= ALLOW_LIST= NAMED_PEERS= PUBLIC_IP=$BIND
# devnet-fast (deploy/networks/devnet-fast.json): the devnet's genesis and public
# keys, 500 ms blocks. The shipped testnet.json holds placeholders for the
# operator's producer keys, which every service refuses to start with.
export COMPOSE_PROFILES= SYNC_WORKERS=2 LOG_LEVEL=info NETWORK=devnet-fast
if [[ -n ${SMOKE_PRODUCER:-} ]]; then
  export COMPOSE_PROFILES=producer PRODUCER_DEVNET_INDEX=0
fi
compose() { docker-compose --env-file "$HOST_ENV" -p "$PROJECT" "$@"; }

NETNS=tn-smoke-peer VETH_HOST=tn-smoke-h VETH_PEER=tn-smoke-p
NS_HOST_IP=10.231.7.1 NS_PEER_IP=10.231.7.2
cleanup() {
  local rc=$?
  if [[ -n ${SMOKE_KEEP:-} ]]; then
    log "SMOKE_KEEP: leaving project $PROJECT up (docker-compose -p $PROJECT --env-file $HOST_ENV down -v)"
  else
    if ((rc != 0)); then
      log "logs of the last 40 lines per service:"
      compose logs --no-color --tail 40 2>&1 | sed 's/^/  /' || true
      compose ps 2>&1 | sed 's/^/  /' || true
    fi
    compose down -v --remove-orphans -t 15 >/dev/null 2>&1 || true
    [[ -n ${TLS_WORK:-} ]] && rm -rf "$TLS_WORK"
  fi
  if [[ -n ${SMOKE_SOURCE_IP:-} ]]; then
    ip netns del "$NETNS" 2>/dev/null || true
    ip link del "$VETH_HOST" 2>/dev/null || true
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build -------------------------------------------------------------
t0=$(now)
if [[ -z ${SMOKE_NO_BUILD:-} ]]; then
  build_images "$TAG" "$VERSION"
fi
build_s=$(($(now) - t0))
ok "images built (${build_s}s; NODE_IMAGE=$NODE_IMAGE, version $VERSION)"
# Operator TLS (deploy/README.md "Operator TLS"): the services bind 0.0.0.0 in
# their containers and refuse to start without it. A CA, this host's cert (for
# $BIND, where the published ports are) and an operator's client cert.
TLS_WORK=$(mktemp -d /tmp/timenet-smoke-tls.XXXXXX)
operator_tls "$TAG" "$TLS_WORK" host "$BIND"
operator_tls "$TAG" "$TLS_WORK" operator
export OPERATOR_TLS_HOST_DIR=$TLS_WORK/host

# --- 2. config ------------------------------------------------------------
for f in deploy/hosts/host-*.env; do
  docker-compose --env-file "$f" config -q || fail "docker-compose --env-file $f config"
done
ok "docker-compose config validates with every deploy/hosts/host-*.env"

if [[ -n ${SMOKE_SOURCE_IP:-} ]]; then
  # A "remote peer": its own network namespace, linked to the host by a veth pair.
  ip netns del "$NETNS" 2>/dev/null || true
  ip link del "$VETH_HOST" 2>/dev/null || true
  ip netns add "$NETNS"
  ip link add "$VETH_HOST" type veth peer name "$VETH_PEER"
  ip link set "$VETH_PEER" netns "$NETNS"
  ip addr add "$NS_HOST_IP/30" dev "$VETH_HOST"
  ip link set "$VETH_HOST" up
  ip -n "$NETNS" addr add "$NS_PEER_IP/30" dev "$VETH_PEER"
  ip -n "$NETNS" link set "$VETH_PEER" up
  ip -n "$NETNS" link set lo up
  export P2P_BIND=$NS_HOST_IP   # the P2P port is published on the host's side of the link
fi

# --- 3. up, wait healthy ----------------------------------------------------
compose down -v --remove-orphans >/dev/null 2>&1 || true
t1=$(now)
compose up -d --no-build >/tmp/timenet-smoke-up.log 2>&1 || { cat /tmp/timenet-smoke-up.log >&2; fail "docker-compose up -d"; }

expected=6 # nats, registry, store, gateway, 2 chain-sync
[[ -n ${SMOKE_PRODUCER:-} ]] && expected=7
wait_healthy "$expected" 180 || fail "not every container became healthy within 180 s"
healthy_s=$(($(now) - t1))
ok "$expected containers healthy ${healthy_s}s after 'up -d'"

# --- 4. checks ---------------------------------------------------------------
stats=$(compose exec -T p2p-gateway timenetctl --node peer-registry stats) || fail "timenetctl stats"
grep -q '^book size:' <<<"$stats" || fail "timenetctl stats answered: $stats"
ok "docker-compose exec p2p-gateway timenetctl --node peer-registry stats answers"
compose exec -T p2p-gateway timenetctl --node peer-registry peers >/dev/null || fail "timenetctl peers"
ok "timenetctl peers answers"

# From the host too, through the published gRPC ports (the image's CLI, host networking).
docker run --rm --network host -v "$TLS_WORK/operator:/tls:ro" "timenet/timenetctl:$TAG" --tls-dir /tls --node "$BIND" stats >/dev/null || fail "timenetctl --node $BIND stats from the host"
ok "timenetctl --node $BIND stats answers from the host (published 50052)"

# Published ports: P2P on P2P_BIND, everything else on OPERATOR_BIND, chain-sync none.
for svc_port in p2p-gateway:24100 p2p-gateway:50051 p2p-gateway:9101 peer-registry:50052 peer-registry:9102 block-store:50054 block-store:9104 nats:4222 nats:8222; do
  svc=${svc_port%%:*} port=${svc_port#*:}
  got=$(compose port "$svc" "$port")
  want_ip=$BIND
  [[ $port == 24100 ]] && want_ip=$P2P_BIND
  [[ $got == "$want_ip:$port" ]] || fail "$svc:$port is published on '$got', expected $want_ip:$port"
done
published=$(docker inspect -f '{{range $p, $b := .NetworkSettings.Ports}}{{if $b}}{{$p}} {{end}}{{end}}' $(compose ps -q chain-sync))
[[ -z ${published// /} ]] || fail "chain-sync publishes host ports: $published"
ok "ports published only on the bind addresses; chain-sync publishes none"

uid=$(compose exec -T p2p-gateway id -u | tr -d '\r')
[[ $uid == 10001 ]] || fail "p2p-gateway runs as uid $uid"
ok "services run as the non-root user timenet (uid 10001)"

varz=$(compose exec -T p2p-gateway node -e "fetch('http://nats:8222/varz').then(r=>r.json()).then(v=>console.log(JSON.stringify({mp:v.max_payload,auth:v.auth_required,js:!!(v.jetstream&&v.jetstream.config)})))") || fail "NATS /varz"
grep -q '"mp":8388608' <<<"$varz" || fail "NATS max_payload is not 8 MiB: $varz"
grep -q '"auth":true' <<<"$varz" || fail "NATS does not require auth: $varz"
grep -q '"js":true' <<<"$varz" || fail "NATS JetStream is off: $varz"
ok "NATS: JetStream on, auth required, max_payload 8 MiB ($varz)"

for svc in p2p-gateway peer-registry block-store; do
  compose exec -T "$svc" node -e "fetch('http://127.0.0.1:'+process.env.METRICS_PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))" \
    || fail "$svc /readyz is not ready"
done
ok "/readyz of gateway, registry and block-store answers 200"

# The node key lives on the volume: the same node id after a restart.
node_id() { compose logs --no-color p2p-gateway | grep -o '"node_id":"[0-9a-f]*"' | tail -1; }
id_before=$(node_id)
compose restart -t 15 p2p-gateway >/dev/null 2>&1
wait_healthy "$expected" 120 || fail "not healthy again after restarting p2p-gateway"
compose logs --no-color p2p-gateway | grep -q '"msg":"loaded node key"' || fail "the restarted gateway did not load its key from the volume"
[[ $(node_id) == "$id_before" && -n $id_before ]] || fail "node id changed across a restart: $id_before -> $(node_id)"
ok "node key kept across a gateway restart ($id_before)"

if [[ -n ${SMOKE_PRODUCER:-} ]]; then
  height=0 deadline=$(($(now) + 60))
  while ((height < 3)) && (($(now) < deadline)); do
    sleep 2
    height=$(compose exec -T block-store node -e "const f=require('fs'),d=process.env.OPERATOR_TLS_DIR,o={ca:f.readFileSync(d+'/ca.crt'),cert:f.readFileSync(d+'/tls.crt'),key:f.readFileSync(d+'/tls.key')};require('https').get('https://127.0.0.1:9104/metrics',o,r=>{let t='';r.on('data',c=>t+=c).on('end',()=>{const m=t.match(/^timenet_store_height(?:\{[^}]*\})? (\d+)/m);console.log(m?m[1]:0)})})" | tr -d '\r')
  done
  ((height >= 3)) || fail "the chain did not grow with the producer (height $height)"
  ok "block-producer -> block-store: height $height"
fi

if [[ -n ${SMOKE_SOURCE_IP:-} ]]; then
  # Open a socket from the namespace and hold it past the gateway's handshake timeout:
  # the gateway logs the close with the peer_ip it saw.
  ip netns exec "$NETNS" node -e "
    const s=require('net').connect(24100,'$NS_HOST_IP');
    s.on('connect',()=>console.log('connected from '+s.localAddress));
    s.on('error',e=>{console.error(e.message);process.exit(1)});
    setTimeout(()=>process.exit(0),12000);" || fail "cannot connect to $NS_HOST_IP:24100 from namespace $NETNS"
  seen=$(compose logs --no-color p2p-gateway | grep -o '"peer_ip":"[^"]*"' | sort -u | tr '\n' ' ')
  grep -q "\"peer_ip\":\"$NS_PEER_IP\"" <<<"$seen" || fail "the gateway saw ${seen:-no peer}, not the peer's $NS_PEER_IP"
  ok "the gateway sees a remote peer's own address through the published port ($seen)"
fi

# No dial may leave the machine (the host file's peers are blanked above).
if compose logs --no-color p2p-gateway | grep -q '"msg":"dialling peer"'; then fail "the gateway dialled a peer"; fi

# --- 5. upgrade and roll back by image tag -------------------------------------------
# A "next release": the same code with another version (its own image ids), as
# timenet/<service>:$TAG-next. Up with it, then back to $TAG; the volumes stay.
gateway_version() { compose exec -T p2p-gateway timenetctl --node p2p-gateway status | sed -n 's/^version: *//p' | tr -d '\r'; }
build_images "$TAG-next" "$VERSION-next"
id_before=$(node_id)
TIMENET_TAG=$TAG-next compose up -d --no-build >/dev/null 2>&1 || fail "up -d with TIMENET_TAG=$TAG-next"
wait_healthy "$expected" 120 || fail "not healthy after the upgrade to $TAG-next"
[[ $(gateway_version) == "$VERSION-next" ]] || fail "after the upgrade the gateway runs '$(gateway_version)'"
compose up -d --no-build >/dev/null 2>&1 || fail "up -d back to TIMENET_TAG=$TAG"
wait_healthy "$expected" 120 || fail "not healthy after the roll back to $TAG"
[[ $(gateway_version) == "$VERSION" ]] || fail "after the roll back the gateway runs '$(gateway_version)'"
[[ $(node_id) == "$id_before" ]] || fail "the node id changed across upgrade and roll back"
ok "upgrade to $TAG-next ($VERSION-next) and roll back to $TAG ($VERSION) with up -d; node key kept"
for t in "${TIMENET_TARGETS[@]}"; do docker rmi "timenet/$t:$TAG-next" >/dev/null 2>&1 || true; done

# --- 6. scale ----------------------------------------------------------------
t2=$(now)
compose up -d --no-build --no-recreate --scale chain-sync=3 >/tmp/timenet-smoke-scale.log 2>&1 \
  || { cat /tmp/timenet-smoke-scale.log >&2; fail "up --scale chain-sync=3"; }
wait_healthy $((expected + 1)) 120 || fail "3 chain-sync replicas did not become healthy"
n=$(compose ps -q chain-sync | wc -l)
((n == 3)) || fail "$n chain-sync replicas, expected 3"
seen=0 deadline=$(($(now) + 60))
while ((seen < 3)) && (($(now) < deadline)); do
  sleep 2
  seen=$(compose exec -T --index=1 chain-sync node -e "const f=require('fs'),d=process.env.OPERATOR_TLS_DIR,o={ca:f.readFileSync(d+'/ca.crt'),cert:f.readFileSync(d+'/tls.crt'),key:f.readFileSync(d+'/tls.key')};require('https').get('https://127.0.0.1:9103/metrics',o,r=>{let t='';r.on('data',c=>t+=c).on('end',()=>{const m=t.match(/^timenet_sync_workers_seen(?:\{[^}]*\})? (\d+)/m);console.log(m?m[1]:0)})})" | tr -d '\r')
done
((seen == 3)) || fail "replica 1 sees $seen chain-sync workers, expected 3"
ok "--scale chain-sync=3: 3 healthy replicas, each seen by the others ($(($(now) - t2))s)"

# --- 7. SIGTERM ----------------------------------------------------------------
t3=$(now)
compose stop -t 15 >/dev/null 2>&1
stop_s=$(($(now) - t3))
codes=$(docker inspect -f '{{.Name}} {{.State.ExitCode}}' $(compose ps -q))
if grep -v ' 0$' <<<"$codes" | grep -q .; then fail "not every service exited 0 on SIGTERM: $(tr '\n' ' ' <<<"$codes")"; fi
((stop_s < 15)) || fail "stopping took ${stop_s}s (grace period 15s: something was SIGKILLed)"
ok "docker-compose stop: every container exited 0 on SIGTERM in ${stop_s}s"

log "timings: build ${build_s}s, up -d to all healthy ${healthy_s}s, stop ${stop_s}s"
log "all checks passed"
