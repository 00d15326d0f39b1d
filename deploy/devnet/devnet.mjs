#!/usr/bin/env node
// npm run devnet [-- --nodes N --workers K --producers P --reset]
//
// The whole network on this machine: node k on 127.0.0.k with its own
// nats-server and the same ports as a real host (P2P 24100, gRPC 50051-50055,
// metrics 9101-9105), every service a real process, logs in devnet/logs/,
// state in devnet/data/. Shows height and peers per node every second until
// Ctrl-C, which stops everything cleanly (gateways say Goodbye{SHUTDOWN}).
import { relative } from "node:path";
import { devnetCommandLine } from "./command-line.mjs";
import { build, ipOf, metricsText, sample, startDevnet } from "./network.mjs";

const { values, int } = devnetCommandLine("npm run devnet", "The whole network on this machine: node k on 127.0.0.k, every service a real process; a status table every second until Ctrl-C.", {
  nodes: { type: "string", default: "6", arg: "N", help: "nodes (1..50)" },
  workers: { type: "string", default: "2", arg: "K", help: "chain-sync replicas per node (1..16)" },
  producers: { type: "string", default: "2", arg: "P", help: "nodes that make blocks (at most 3: the devnet has three producer keys)" },
  reset: { type: "boolean", help: "start afresh: delete devnet/data first" },
  "no-build": { type: "boolean", help: "run the services as built (skip nx build)" },
});
const NODES = int("nodes", 1, 50);
const WORKERS = int("workers", 1, 16);
const PRODUCERS = Math.min(int("producers", 0, 50), NODES, 3);
if (!values["no-build"]) build();

let stopping = false;
let net;
async function stopAll() {
  if (stopping) return;
  stopping = true;
  console.log("\ndevnet: stopping (SIGTERM to every service; gateways say Goodbye)...");
  await net?.stop();
  console.log("devnet: stopped. Logs are in devnet/logs/, state in devnet/data/ (--reset starts afresh).");
  process.exit(0);
}
process.on("SIGINT", () => void stopAll());
process.on("SIGTERM", () => void stopAll());

try {
  net = await startDevnet({
    nodes: NODES,
    workers: WORKERS,
    producers: PRODUCERS,
    reset: values.reset,
    onNodeStarting: (k) => process.stdout.write(`devnet: starting node ${k} on ${ipOf(k)}...\n`),
    onExit: (name, code) => console.error(`\ndevnet: ${name} exited (${code}); see devnet/logs/${name}.log`),
  });
} catch (err) {
  console.error(`devnet: ${err.message}`);
  process.exit(1);
}

async function statusTable() {
  const rows = await Promise.all(
    Array.from({ length: NODES }, async (_, i) => {
      const ip = ipOf(i + 1);
      const services = ["p2p-gateway", "peer-registry", "chain-sync", "block-store"];
      const [gw, reg, sync, store] = await Promise.all(services.map((s) => metricsText(`http://${ip}:${net.ports.services[s].metrics}/metrics`)));
      const fmt = (v) => (v === undefined ? "-" : String(Math.round(v)));
      return [
        `n${i + 1}`,
        ip,
        fmt(sample(store, "timenet_store_height")),
        fmt(sample(sync, "timenet_sync_best_peer_height")),
        fmt(sample(gw, "timenet_gateway_peers", { direction: "inbound" })),
        fmt(sample(gw, "timenet_gateway_peers", { direction: "outbound" })),
        fmt(sample(reg, "timenet_registry_peers", { state: "connected" })),
        fmt(sample(gw, "timenet_gateway_disconnects_total") ?? 0),
        i < PRODUCERS ? "yes" : "",
      ];
    }),
  );
  const head = ["node", "ip", "height", "best peer", "in", "out", "registry", "disconnects", "producer"];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells) => cells.map((s, c) => s.padEnd(widths[c])).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

// The one line that shows the devnet as a fleet (connection matrix, drift, forks).
const fleetLine = `npx timenetctl status --all --hosts ${relative(process.cwd(), net.fleetFile) || net.fleetFile}`;
console.log(`devnet: all ${NODES} nodes started; the devnet as a fleet:  ${fleetLine}`);

const tty = process.stdout.isTTY;
let ticks = 0;
setInterval(async () => {
  if (stopping) return;
  const table = await statusTable();
  if (tty) process.stdout.write(`\x1b[2J\x1b[H timenet devnet: ${NODES} nodes, ${WORKERS} sync workers each, ${PRODUCERS} producers — Ctrl-C stops\n\n${table}\n\nfleet view: ${fleetLine}\n`);
  else if (ticks++ % 10 === 0) process.stdout.write(`${new Date().toISOString()}\n${table}\n`);
}, 1_000);
