#!/usr/bin/env node
// npm run soak [-- --minutes 10 --nodes 6 --workers 2 --p99-bound-ms 3000]
//
// The seed's acceptance test: runs the devnet with producers, samples every
// node each second, and fails unless every node had exactly nodes-1 peers
// after the first 30 s, no connection was ever replaced (the same connection
// ids from then to the end), no connection closed with PING_TIMEOUT, no node
// reported an offence against another (every node is honest), all nodes end
// within one block of each other, and block propagation (first to last node
// seeing a new tip) has a p99 under the bound. At the end it prints each
// service's peak RSS, thread count and CPU (from /proc), the figures the
// Compose mem_limit / pids_limit are sized from, and the machine's CPU over
// the soak (busy, the devnet's share, steal): a propagation p99 measured on a
// machine that something else kept busy says so.
import { devnetCommandLine } from "./command-line.mjs";
import { build, ipOf, metricsText, sample, startDevnet } from "./network.mjs";

const { values, int } = devnetCommandLine("npm run soak", "Runs the devnet with producers and fails unless every node kept exactly nodes-1 peers, no connection was replaced or timed out, no offence was reported, heights agree and block propagation's p99 is under the bound.", {
  minutes: { type: "string", default: "10", arg: "M", help: "how long the network is sampled (the first 30 s settle)" },
  nodes: { type: "string", default: "6", arg: "N", help: "nodes (2..50)" },
  workers: { type: "string", default: "2", arg: "K", help: "chain-sync replicas per node (1..16)" },
  "p99-bound-ms": { type: "string", default: "3000", arg: "MS", help: "the bound on block propagation's p99" },
  "no-build": { type: "boolean", help: "run the services as built (skip nx build)" },
});
const MINUTES = int("minutes", 1, 24 * 60);
const NODES = int("nodes", 2, 50);
const WORKERS = int("workers", 1, 16);
const BOUND = int("p99-bound-ms", 1, 600_000);
const SETTLE_MS = 30_000;
if (!values["no-build"]) build();

// Built libs (after the build): typed NATS and gRPC clients on the real contracts.
const { Bus } = await import("../../libs/bus/dist/src/index.js");
const { createGrpcClient } = await import("../../libs/grpc/dist/src/index.js");
const { ChainTipSchema, GatewayService, Subjects } = await import("../../libs/proto/dist/src/index.js");
const { formatProcTable, startProcSampler } = await import("./proc-sampler.mjs");

const unexpectedExits = [];
const net = await startDevnet({
  nodes: NODES,
  workers: WORKERS,
  producers: Math.min(2, NODES),
  reset: true,
  onNodeStarting: (k) => console.log(`soak: starting node ${k} on ${ipOf(k)}`),
  onExit: (name, code) => unexpectedExits.push(`${name} exited (${code})`),
});
const started = Date.now();
const sampler = startProcSampler(net.processes);
const failures = [];
const buses = [];
const clients = [];
try {
  // Tip arrivals per node: height -> time each node's store reported it.
  const arrivals = new Map();
  for (let k = 1; k <= NODES; k++) {
    const bus = await Bus.connect({ servers: `nats://${ipOf(k)}:${net.ports.nats}`, name: `soak-${k}`, ...net.natsOperator });
    buses.push(bus);
    bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => {
      const key = `${t.height}:${Buffer.from(t.hash).toString("hex")}`;
      let m = arrivals.get(key);
      if (!m) arrivals.set(key, (m = new Map()));
      if (!m.has(k)) m.set(k, performance.now());
    });
    clients.push(createGrpcClient(GatewayService, `${ipOf(k)}:${net.ports.services["p2p-gateway"].grpc}`));
  }

  const firstConnIds = new Map(); // "k->ip" -> conn id seen first after the settle time
  const replaced = new Set();
  const wrongPeerCount = new Map(); // node -> samples with a count other than nodes-1
  let samples = 0;
  const endAt = started + MINUTES * 60_000;
  while (Date.now() < endAt) {
    await new Promise((r) => setTimeout(r, 1_000));
    if (Date.now() - started < SETTLE_MS) continue;
    samples++;
    await Promise.all(
      clients.map(async (c, i) => {
        const k = i + 1;
        let conns;
        try {
          conns = (await c.listConnections({}, { deadlineMs: 2_000 })).connections;
        } catch (err) {
          wrongPeerCount.set(k, (wrongPeerCount.get(k) ?? 0) + 1);
          return;
        }
        if (conns.length !== NODES - 1) wrongPeerCount.set(k, (wrongPeerCount.get(k) ?? 0) + 1);
        for (const conn of conns) {
          const key = `n${k}->${conn.ip}`;
          const first = firstConnIds.get(key);
          if (first === undefined) firstConnIds.set(key, conn.connId);
          else if (first !== conn.connId) replaced.add(key);
        }
      }),
    );
    if (samples % 30 === 0) console.log(`soak: ${Math.round((Date.now() - started) / 1000)} s, ${samples} samples, replaced ${replaced.size}, wrong peer counts ${[...wrongPeerCount.values()].reduce((a, b) => a + b, 0)}`);
  }

  // Verdicts.
  for (const [k, n] of wrongPeerCount) failures.push(`node ${k}: ${n} of ${samples} samples did not have exactly ${NODES - 1} peers`);
  if (replaced.size > 0) failures.push(`connections replaced: ${[...replaced].join(", ")}`);
  let pingTimeouts = 0;
  let offences = 0;
  const heights = [];
  for (let k = 1; k <= NODES; k++) {
    const gw = await metricsText(`http://${ipOf(k)}:${net.ports.services["p2p-gateway"].metrics}/metrics`);
    pingTimeouts += sample(gw, "timenet_gateway_disconnects_total", { reason: "ping_timeout" }) ?? 0;
    // Every devnet node is honest: an offence is a false accusation (the
    // registry log of that node names the peer and the kind).
    offences += sample(await metricsText(`http://${ipOf(k)}:${net.ports.services["peer-registry"].metrics}/metrics`), "timenet_registry_offences_total") ?? 0;
    heights.push(sample(await metricsText(`http://${ipOf(k)}:${net.ports.services["block-store"].metrics}/metrics`), "timenet_store_height") ?? -1);
  }
  if (pingTimeouts > 0) failures.push(`${pingTimeouts} connections closed with PING_TIMEOUT`);
  if (offences > 0) failures.push(`${offences} offences reported between honest nodes (see devnet/logs/n*-peer-registry.log)`);
  const spread = Math.max(...heights) - Math.min(...heights);
  if (spread > 1) failures.push(`heights differ by ${spread}: ${heights.join(", ")}`);
  // Blocks made after the settle time: before it, nodes are still starting and catching up.
  const settledAt = performance.now() - (Date.now() - started) + SETTLE_MS;
  const spreads = [...arrivals.values()]
    .filter((m) => m.size === NODES && Math.min(...m.values()) >= settledAt)
    .map((m) => Math.max(...m.values()) - Math.min(...m.values()));
  spreads.sort((a, b) => a - b);
  const p99 = spreads.length ? spreads[Math.min(spreads.length - 1, Math.floor(spreads.length * 0.99))] : NaN;
  const p50 = spreads.length ? spreads[Math.floor(spreads.length * 0.5)] : NaN;
  if (!(p99 < BOUND)) failures.push(`block propagation p99 ${Math.round(p99)} ms is not under ${BOUND} ms (${spreads.length} blocks)`);
  failures.push(...unexpectedExits);

  console.log(`\nsoak: ${MINUTES} min, ${NODES} nodes, ${samples} samples after the first ${SETTLE_MS / 1000} s`);
  console.log(`  connections: ${firstConnIds.size} directed links, replaced ${replaced.size}, PING_TIMEOUT ${pingTimeouts}, offences ${offences}`);
  console.log(`  heights at the end: ${heights.join(", ")} (spread ${spread})`);
  console.log(`  block propagation over the ${spreads.length} blocks made after the settle time (first to last node): p50 ${Math.round(p50)} ms, p99 ${Math.round(p99)} ms (bound ${BOUND} ms)`);
  console.log(`  memory, threads (largest process of each) and CPU per service:\n${formatProcTable(sampler.stop())}`);
} finally {
  for (const c of clients) c.close();
  await Promise.all(buses.map((b) => b.close()));
  await net.stop();
}
if (failures.length > 0) {
  console.error(`soak: FAILED\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log("soak: passed");
