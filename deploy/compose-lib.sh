# Shared by deploy/compose-smoke.sh and deploy/compose-e2e.sh (source it, from
# the repository root, after `set -euo pipefail`). Defines:
#   log/ok/fail/now          one-line output, `fail` exits 1
#   require_docker           docker, docker-compose v1 and a daemon, or fail
#   default_images           NODE_IMAGE / NATS_IMAGE / PROMETHEUS_IMAGE: the
#                            offline stand-ins (shared/offline-containers/setup.sh)
#                            when they exist, else the public images
#   build_images TAG VERSION every image target, classic builder, as timenet/<target>:TAG
#   wait_healthy N SECS      every container of `compose` (a function the caller
#                            defines) healthy, and at least N of them
#   nats_passwords           NATS_PASS_<USER>=p<random hex> lines, one per NATS
#                            user of deploy/nats/users.conf
#   operator_tls TAG DIR NAME IP...  the operator plane's TLS (deploy/README.md
#                            "Operator TLS") made by the built timenetctl image:
#                            once an operator CA in DIR/ca, then DIR/NAME, a
#                            host's TLS directory (the service names and each IP
#                            as SANs; "operator" for timenetctl's client cert),
#                            owned by the services' uid 10001, tls.key 0640
# LOG_TAG names the script in the output.

TIMENET_TARGETS=(p2p-gateway peer-registry chain-sync block-store block-producer timenetctl)

log() { printf '[%s %s] %s\n' "${LOG_TAG:-compose}" "$(date +%H:%M:%S)" "$*"; }
fail() { FAILED_WITH="$*"; printf '[%s] FAIL: %s\n' "${LOG_TAG:-compose}" "$*" >&2; exit 1; }
ok() { printf '[%s] ok: %s\n' "${LOG_TAG:-compose}" "$*"; }
now() { date +%s; }

require_docker() {
  command -v docker >/dev/null || fail "docker is not installed (shared/offline-containers/setup.sh installs it)"
  command -v docker-compose >/dev/null || fail "docker-compose (v1) is not installed"
  docker info >/dev/null 2>&1 || fail "no Docker daemon answers"
}

nats_passwords() {
  local v
  for v in GATEWAY REGISTRY SYNC STORE PRODUCER OPERATOR; do
    printf 'NATS_PASS_%s=p%s\n' "$v" "$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  done
}

operator_tls() {
  local tag=$1 dir=$2 name=$3 ips
  shift 3
  ips=$(IFS=,; echo "$*")
  mkdir -p "$dir"
  ctl_tls() { docker run --rm -u 0 -v "$dir:/tls" "timenet/timenetctl:$tag" "$@" >/dev/null; }
  [[ -f $dir/ca/ca.crt ]] || ctl_tls operator-ca create --out /tls/ca || fail "timenetctl operator-ca create"
  ctl_tls operator-cert create --ca /tls/ca --out "/tls/$name" --name "$name" \
    --dns p2p-gateway,peer-registry,chain-sync,block-store,block-producer ${ips:+--ip "$ips"} || fail "timenetctl operator-cert create --name $name"
  docker run --rm -u 0 --entrypoint sh -v "$dir/$name:/tls" "timenet/timenetctl:$tag" \
    -c 'chown -R 10001:10001 /tls && chmod 0750 /tls && chmod 0640 /tls/tls.key' || fail "chown $dir/$name"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

default_images() {
  if [[ -z ${NODE_IMAGE:-} ]]; then
    if have_image offline/node:24; then NODE_IMAGE=offline/node:24; else NODE_IMAGE=node:24-bookworm-slim; fi
  fi
  if [[ -z ${NATS_IMAGE:-} ]]; then
    if have_image offline/nats:2; then NATS_IMAGE=offline/nats:2; else NATS_IMAGE=nats:2.10-alpine; fi
  fi
  if [[ -z ${PROMETHEUS_IMAGE:-} ]]; then
    if have_image offline/prometheus:2; then PROMETHEUS_IMAGE=offline/prometheus:2; else PROMETHEUS_IMAGE=prom/prometheus; fi
  fi
  export NODE_IMAGE NATS_IMAGE PROMETHEUS_IMAGE
}

build_images() {
  local tag=$1 version=$2 t ts
  for t in "${TIMENET_TARGETS[@]}"; do
    ts=$(now)
    DOCKER_BUILDKIT=0 docker build -q --build-arg NODE_IMAGE="$NODE_IMAGE" --build-arg TIMENET_VERSION="$version" \
      --target "$t" -t "timenet/$t:$tag" . >"/tmp/timenet-build-$t.log" 2>&1 \
      || { tail -30 "/tmp/timenet-build-$t.log" >&2; fail "docker build --target $t"; }
    log "built timenet/$t:$tag in $(($(now) - ts))s"
  done
}

wait_healthy() {
  local want=$1 deadline=$(($(now) + ${2:-180})) ids states
  while :; do
    ids=$(compose ps -q)
    states=$(docker inspect -f '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' $ids 2>/dev/null || true)
    if [[ $(grep -c ' healthy$' <<<"$states") -ge $want ]] && ! grep -qv ' healthy$' <<<"$states"; then return 0; fi
    if (($(now) > deadline)); then printf '%s\n' "$states" >&2; return 1; fi
    sleep 1
  done
}
