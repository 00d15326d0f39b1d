# timenet: one Dockerfile, one image per service (build with --target).
#
#   DOCKER_BUILDKIT=0 docker build --target p2p-gateway -t timenet/p2p-gateway:dev .
#   targets: p2p-gateway peer-registry chain-sync block-store block-producer timenetctl
#
# Works with the classic builder (no RUN --mount, no heredocs). NODE_IMAGE
# must be a glibc (Debian) Node 24 image for both build and run time: the
# prebuilt LMDB binding @lmdb/lmdb-linux-x64 (and msgpackr-extract) that npm
# installs in the build stage is the one loaded at run time (no compiler runs:
# package.json's allowScripts keeps lmdb's install script off).
# Offline machines: NODE_IMAGE=offline/node:24 (shared/offline-containers/setup.sh).
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------
# manifests: only package.json files and the lock, so that `npm ci` below is a
# cached layer until a dependency changes. (COPY of apps/*/package.json would
# flatten the tree; a new workspace package needs no Dockerfile change here.)
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir /manifests \
 && cp --parents package.json package-lock.json apps/*/package.json libs/*/package.json /manifests/

# ---------------------------------------------------------------------------
# build: npm ci, Nx build of the six apps and the libs they use (-p: libs only
# tests use, e.g. observability-test, are not built; .dockerignore leaves every
# test/ and bench/ out of the context), then the runtime tree: production
# dependencies only, no TypeScript sources.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false CI=true
COPY --from=manifests /manifests/ ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx nx run-many -t build --outputStyle=stream \
      -p @timenet/p2p-gateway @timenet/peer-registry @timenet/chain-sync \
         @timenet/block-store @timenet/block-producer @timenet/timenetctl
# npm prune --omit=dev works with workspaces: the workspace links stay, dev
# tools (nx, typescript, eslint, buf) go. Then drop what is not run.
RUN npm prune --omit=dev --no-audit --no-fund \
 && rm -rf .nx node_modules/.cache proto \
           apps/*/src apps/*/test apps/*/bench apps/*/attack apps/*/test-results \
           apps/*/dist/test apps/*/dist/bench apps/*/dist/attack apps/*/tsconfig.json \
           libs/*/src libs/*/test libs/*/test-results libs/*/dist/test libs/*/tsconfig.json libs/*/buf.gen.yaml \
           eslint.config.js nx.json tsconfig.base.json \
 && find . -name '*.tsbuildinfo' -delete \
 && node -e "const d=require('lmdb').open({path:'/tmp/lmdb-check'});d.putSync('k',1);console.log('lmdb prebuilt binding works:',d.get('k')===1);d.close()" \
 && rm -rf /tmp/lmdb-check

# ---------------------------------------------------------------------------
# runtime: what every service image has in common. Code owned by root (read
# only for the service); the service user writes only /app/data (a volume).
FROM ${NODE_IMAGE} AS runtime
ARG TIMENET_VERSION=0.1.0
ENV NODE_ENV=production \
    SOFTWARE_VERSION=${TIMENET_VERSION} \
    NATS_URL=nats://nats:4222 \
    GRPC_HOST=0.0.0.0 \
    METRICS_HOST=0.0.0.0 \
    LOG_PRETTY=false
RUN groupadd --system --gid 10001 timenet \
 && useradd --no-log-init --uid 10001 --gid timenet --home-dir /app --no-create-home --shell /usr/sbin/nologin timenet
WORKDIR /app
COPY --from=build /app ./
# timenetctl on the PATH (the workspace bin shim; `npx timenetctl` works too);
# /app/data is created owned by the service user so that a named volume
# mounted there starts with that owner.
RUN chmod 0755 apps/timenetctl/bin/timenetctl.js \
 && ln -s /app/apps/timenetctl/bin/timenetctl.js /usr/local/bin/timenetctl \
 && mkdir -p /app/data \
 && chown timenet:timenet /app/data
USER timenet
# No tini in the base image (nor in the offline stand-in): Compose sets
# `init: true` (Docker's tini) for every service; the services handle SIGTERM.
# Liveness: GET /healthz on this service's METRICS_PORT (node's fetch; no curl).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9101)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM

# ---------------------------------------------------------------------------
# One target per service: its ports (the port plan) and its entry point.
FROM runtime AS p2p-gateway
ENV GRPC_PORT=50051 METRICS_PORT=9101 P2P_HOST=0.0.0.0 P2P_PORT=24100
EXPOSE 24100 50051 9101
CMD ["node", "apps/p2p-gateway/dist/src/main.js"]

FROM runtime AS peer-registry
ENV GRPC_PORT=50052 METRICS_PORT=9102 GATEWAY_GRPC=p2p-gateway:50051
EXPOSE 50052 9102
CMD ["node", "apps/peer-registry/dist/src/main.js"]

FROM runtime AS chain-sync
ENV GRPC_PORT=50053 METRICS_PORT=9103 GATEWAY_GRPC=p2p-gateway:50051 BLOCK_STORE_GRPC=block-store:50054
EXPOSE 50053 9103
CMD ["node", "apps/chain-sync/dist/src/main.js"]

FROM runtime AS block-store
ENV GRPC_PORT=50054 METRICS_PORT=9104
EXPOSE 50054 9104
CMD ["node", "apps/block-store/dist/src/main.js"]

FROM runtime AS block-producer
ENV GRPC_PORT=50055 METRICS_PORT=9105 BLOCK_STORE_GRPC=block-store:50054
EXPOSE 50055 9105
CMD ["node", "apps/block-producer/dist/src/main.js"]

# The CLI alone (e.g. `docker run --rm --network host timenet/timenetctl:dev peers`).
FROM runtime AS timenetctl
HEALTHCHECK NONE
ENTRYPOINT ["timenetctl"]
CMD ["--help"]
