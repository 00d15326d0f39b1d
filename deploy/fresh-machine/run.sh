#!/usr/bin/env bash
# npm run test:fresh-machine — the README's two commands on a fresh machine:
# a clean clone of HEAD (no node_modules, no dist) in a fresh container of the
# stand-in Debian bookworm + Node image (no nats-server, no prometheus), where
# `npm test` must pass and `npm run devnet` must reach six connected nodes,
# each command installing what it needs by itself (tools/machine/).
# Needs Docker and NODE_IMAGE (from ../shared/offline-containers/setup.sh;
# default node:24-bookworm-slim where a registry is reachable).
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${NODE_IMAGE:-node:24-bookworm-slim}
work=$(mktemp -d /tmp/timenet-fresh.XXXXXX)
name=timenet-fresh-$$
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
# Only what is committed: the machine gets what a newcomer's `git clone` gets.
git clone -q --no-hardlinks . "$work/repo"
[ -z "$(git status --porcelain --untracked-files=no)" ] || echo "fresh-machine: note: uncommitted changes are not part of this test (it clones HEAD)" >&2
echo "fresh-machine: $(git rev-parse --short HEAD) in a fresh $image container"
start=$SECONDS
docker run --rm --name "$name" -v "$work/repo:/repo" -w /repo -e CI=true -e FRESH_MACHINE_ONLY="${FRESH_MACHINE_ONLY:-}" "$image" bash deploy/fresh-machine/in-container.sh
echo "fresh-machine: passed in $((SECONDS - start)) s"
