#!/usr/bin/env bash
# Runs inside the fresh container of run.sh: exactly the README's two commands.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
echo "fresh-machine: node $(node --version), npm $(npm --version);" \
  "nats-server $(have nats-server && echo present || echo absent), prometheus $(have prometheus && echo present || echo absent)," \
  "node_modules $([ -d node_modules ] && echo present || echo absent)"

# FRESH_MACHINE_ONLY=devnet skips the tests (a quicker check of the devnet path alone).
if [ "${FRESH_MACHINE_ONLY:-}" != devnet ]; then
  echo "fresh-machine: \$ npm test"
  npm test
fi

echo "fresh-machine: \$ npm run devnet   (until all six nodes are connected to each other)"
setsid npm run devnet >/tmp/devnet.out 2>&1 &
devnet=$!
deadline=$((SECONDS + 300))
# `timenetctl status --all` exits 0 only when every host answers, every pair
# is connected and no drift or fork shows: the devnet as six connected nodes.
until [ -f devnet/fleet.json ] && npx timenetctl status --all --hosts devnet/fleet.json >/tmp/fleet.out 2>&1; do
  if ! kill -0 "$devnet" 2>/dev/null; then tail -40 /tmp/devnet.out; echo "fresh-machine: npm run devnet exited" >&2; exit 1; fi
  if [ "$SECONDS" -gt "$deadline" ]; then tail -40 /tmp/devnet.out; cat /tmp/fleet.out 2>/dev/null; echo "fresh-machine: the devnet did not reach six connected nodes in 300 s" >&2; exit 1; fi
  sleep 2
done
cat /tmp/fleet.out
grep -m1 "the devnet as a fleet" /tmp/devnet.out || { echo "fresh-machine: npm run devnet did not print its fleet line" >&2; exit 1; }
kill -INT -- "-$devnet" 2>/dev/null || true
wait "$devnet" || true
echo "fresh-machine: both README commands worked"
