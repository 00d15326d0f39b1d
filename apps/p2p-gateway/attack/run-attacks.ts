// npm run attack [-- --only name[,name] --seconds N --no-build --report-only --trace --list]
//   [--settle-seconds 4 --max-mib 4096 --victims 1 --ip-base 127.0.1 --dir /tmp/timenet-attack
//    --sample-ms 400 --block-interval-ms MS]
//
// The attack suite (issue #12): starts a 3-node devnet of real service
// processes (2 producers) on 127.0.1.1-3, then runs each attack in turn, for
// a bounded time and byte count, from worker threads bound to strangers'
// /24s of 127.0.0.0/8, while sampling every honest node. Prints one table:
// what each attack sent, honest links closed, offences and bans against
// honest IPs, the gateways' peak RSS and event-loop delay p99, the honest
// height spread and how fast a new block reached every honest node. Exits
// non-zero when an attack broke a budget (unless --report-only).
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { writeFileSync } from "node:fs";
import { parseCommandLine } from "@timenet/testkit";
import { DEVNET, networkFileJson, withLimits } from "@timenet/chain";
import type { PeerEndpoint, PeerIp } from "@timenet/net-address";
import { addSent, addTally, emptySent, type Attack, type Sent, type Subnet, type Tally, type VictimScrapes } from "./attack.js";
import { ATTACKS } from "./attacks/index.js";
import { SUITE_MAX_BANS } from "./attacks/ban-list-overflow.js";
import type { WorkerInput, WorkerOutput } from "./attack-worker.js";
import { BlockReach } from "./block-reach.js";
import { BLOCK_WAIT_MS, BUDGETS, violations } from "./budgets.js";
import { loadNetworkLib, type DevnetHandle } from "./devnet.js";
import { HonestNode } from "./honest-nodes.js";
import { GATEWAY_SCRAPE_MS, Observation } from "./observation.js";
import { answers, details, table, type Row } from "./report.js";
import { SubnetAllocator } from "./subnets.js";

const NODES = 3;
const PRODUCERS = 2;
/** A worker still running this long after its deadline is stopped (its sockets die with it). */
const WORKER_GRACE_MS = 20_000;
/** For the first connections and block. */
const START_WAIT_MS = 90_000;
/** Before each attack, for links an earlier one broke to come back and backlogs to drain (a bound on the suite's time). */
const RECOVERY_WAIT_MS = 30_000;

const cli = parseCommandLine({
  command: "npm run attack",
  about: "Runs each attack in turn against a 3-node devnet of real processes and prints what the honest nodes saw; exits 1 when an attack broke a budget.",
  options: {
    only: { type: "string", arg: "NAME[,NAME]", help: "run only these attacks (see --list)" },
    seconds: { type: "string", default: "15", arg: "N", help: "how long each attack runs" },
    "settle-seconds": { type: "string", default: "4", arg: "N", help: "after each attack, before its figures are read (at least the propagation bound)" },
    "max-mib": { type: "string", default: "4096", arg: "MIB", help: "bytes one attack may send" },
    victims: { type: "string", default: "1", arg: "K[,K]", help: "the honest nodes attacked (1..3)" },
    "ip-base": { type: "string", default: "127.0.1", arg: "A.B.C", help: "the honest nodes' addresses are A.B.C.1-3" },
    dir: { type: "string", default: join(tmpdir(), "timenet-attack"), arg: "DIR", help: "the devnet's data and logs" },
    "sample-ms": { type: "string", default: "400", arg: "MS", help: "how often the honest nodes are sampled" },
    "block-interval-ms": { type: "string", arg: "MS", help: "the devnet's block interval (default: the devnet network's)" },
    "no-build": { type: "boolean", help: "run the services as built (skip nx build)" },
    "report-only": { type: "boolean", help: "exit 0 even when a budget broke" },
    trace: { type: "boolean", help: "print every sample" },
    list: { type: "boolean", help: "list the attacks and exit" },
  },
});
const { values } = cli;
const say = (line: string) => process.stdout.write(`${line}\n`);

if (values.list) {
  for (const a of ATTACKS) say(`${a.name.padEnd(28)} ${a.description}`);
  process.exit(0);
}
const only = values.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((n) => !ATTACKS.some((a) => a.name === n)) ?? [];
if (unknown.length > 0) {
  cli.fail(`no attack named ${unknown.join(", ")} (see --list)`);
}
const selected = ATTACKS.filter((a) => !only || only.includes(a.name));
const SECONDS = cli.number("seconds", { min: 1 });
// A block made at the attack's last instant needs the propagation bound to reach everyone.
const SETTLE_MS = Math.max(cli.number("settle-seconds", { min: 0 }) * 1000, BUDGETS.propagationMs + 500);
const MAX_BYTES = cli.number("max-mib", { min: 1 }) * 1024 * 1024;
const VICTIMS = cli.numbers("victims", { min: 1, max: NODES });
const SAMPLE_MS = cli.number("sample-ms", { min: 50 });

// The devnet as `npm run soak` runs it, unless asked for another block interval (more blocks per attack to time, and more forks).
let network = "devnet";
if (values["block-interval-ms"]) {
  network = `${values.dir}-network.json`;
  const interval = cli.number("block-interval-ms", { min: 100 });
  writeFileSync(network, networkFileJson(withLimits(DEVNET, { blockIntervalMs: interval, maxFutureDriftMs: Math.min(DEVNET.maxFutureDriftMs, interval / 2) })));
}

const lib = await loadNetworkLib();
if (!values["no-build"]) lib.build();

const exits: Array<{ name: string; code: unknown; at: number }> = [];
say(`attack: starting a ${NODES}-node devnet on ${values["ip-base"]}.1-${NODES} (data and logs in ${values.dir})`);
const net: DevnetHandle = await lib.startDevnet({
  nodes: NODES,
  workers: 1,
  producers: PRODUCERS,
  reset: true,
  ipBase: values["ip-base"],
  dir: values.dir,
  network,
  // Low enough for ban-list-overflow to overflow it (the default 1024 would take it minutes).
  env: { MAX_BANS: String(SUITE_MAX_BANS) },
  onNodeStarting: (k) => say(`attack: starting node ${k}`),
  onExit: (name, code) => exits.push({ name, code, at: performance.now() }),
});
let nodes: HonestNode[] = [];
let stopping = false;
const stopAll = async () => {
  if (stopping) return;
  stopping = true;
  await Promise.all(nodes.map((n) => n.close()));
  await net.stop();
};
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stopAll().then(() => process.exit(130)));

const reach = new BlockReach(Array.from({ length: NODES }, (_, i) => i + 1));
try {
  nodes = await Promise.all(Array.from({ length: NODES }, (_, i) => HonestNode.connect(net, i + 1, (k, h) => reach.tip(k, h))));
} catch (err) {
  await stopAll();
  throw err;
}
const honestIps = nodes.map((n) => n.ip);
const targets: PeerEndpoint[] = VICTIMS.map((k) => ({ ip: net.ipOf(k) as PeerIp, port: net.ports.p2p }));

/**
 * Every honest node connected to every other, every gateway's event loop
 * and memory back under their budgets (an earlier attack's backlog
 * drained), the honest heights within a block of each other and, at the
 * start, a block on all of them.
 */
async function ready(timeoutMs: number, needBlock: boolean): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  await Promise.all(nodes.map((n) => n.gatewayMetrics())); // the p99 below is over the wait that follows
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, GATEWAY_SCRAPE_MS));
    const [conns, scrapes, stores] = await Promise.all([
      Promise.all(nodes.map((n) => n.connections())),
      Promise.all(nodes.map((n) => n.gatewayMetrics())),
      Promise.all(nodes.map((n) => n.storeMetrics())),
    ]);
    const linked = conns.every((c, i) => c !== undefined && honestIps.every((ip, j) => i === j || c.has(ip)));
    const calm = scrapes.every(
      (s) =>
        (lib.sample(s.text, "nodejs_eventloop_lag_p99_seconds") ?? Infinity) * 1000 < BUDGETS.eventLoopP99Ms &&
        (lib.sample(s.text, "process_resident_memory_bytes") ?? Infinity) < BUDGETS.gatewayRssBytes,
    );
    const heights = stores.map((s) => lib.sample(s.text, "timenet_store_height") ?? NaN);
    const inStep = Math.max(...heights) - Math.min(...heights) <= BUDGETS.heightSpread;
    if (linked && calm && inStep && (!needBlock || reach.over(0, performance.now(), 0).blocks > 0)) return true;
  }
  return false;
}

async function runThreads(attack: Attack, subnets: Subnet[], probeSubnets: Subnet[], deadline: number): Promise<{ sent: Sent; tally: Tally; error?: string }> {
  const threads = attack.threads ?? 1;
  const inputs: WorkerInput[] = Array.from({ length: threads }, (_, t) => ({
    attack: attack.name,
    setup: { targets, honestIps, subnets: subnets.filter((_, i) => i % threads === t), deadline, maxBytes: Math.floor(MAX_BYTES / threads) },
  }));
  if (attack.probe) inputs.push({ attack: attack.name, probe: true, setup: { targets, honestIps, subnets: probeSubnets, deadline, maxBytes: MAX_BYTES } });
  const outputs = await Promise.all(
    inputs.map((input) => {
      const w = new Worker(new URL("./attack-worker.js", import.meta.url), { workerData: input });
      return new Promise<WorkerOutput>((resolve) => {
        const kill = setTimeout(() => void w.terminate(), deadline - Date.now() + WORKER_GRACE_MS);
        w.once("message", (m: WorkerOutput) => resolve(m));
        w.once("error", (err) => resolve({ sent: emptySent(), tally: {}, error: err.stack ?? String(err) }));
        w.once("exit", () => {
          clearTimeout(kill);
          resolve({ sent: emptySent(), tally: {}, error: "worker exited without a report (stopped after its deadline)" });
        });
      });
    }),
  );
  const error = outputs.find((o) => o.error)?.error;
  // The probe is an honest client: what it sent is not the attack's.
  return { sent: outputs.filter((_, i) => !inputs[i]!.probe).reduce((a, o) => addSent(a, o.sent), emptySent()), tally: outputs.reduce((a, o) => addTally(a, o.tally), {}), ...(error ? { error } : {}) };
}

/** The victims' gateway and registry metrics now (an unanswered scrape reads as empty). */
async function victimMetrics(): Promise<Array<{ node: number; gateway: string; registry: string }>> {
  const victims = nodes.filter((n) => VICTIMS.includes(n.k));
  return Promise.all(victims.map(async (n) => ({ node: n.k, gateway: (await n.gatewayMetrics()).text, registry: (await n.registryMetrics()).text })));
}

/**
 * A bound on one attack's whole cycle (recovery wait, attack, worker grace,
 * settle, block wait, scrapes): every wait inside it is bounded, so past this
 * something is stuck, and the suite stops saying where instead of holding
 * CI until its own limit.
 */
const CYCLE_LIMIT_MS = RECOVERY_WAIT_MS + SECONDS * 1000 + WORKER_GRACE_MS + SETTLE_MS + BLOCK_WAIT_MS + 60_000;
let phase = "starting";
const rows: Row[] = [];
try {
  say("attack: waiting for the honest mesh and a first block");
  if (!(await ready(START_WAIT_MS, true))) throw new Error(`the honest nodes did not connect and agree on a block within ${START_WAIT_MS / 1000} s (see ${net.logs})`);
  const allocator = new SubnetAllocator();
  for (const attack of selected) {
    const watchdog = setTimeout(() => {
      console.error(`attack: ${attack.name}: still ${phase} after ${CYCLE_LIMIT_MS / 1000} s (every wait in a cycle is bounded): stopping the suite`);
      void stopAll().finally(() => process.exit(1));
    }, CYCLE_LIMIT_MS);
    phase = "waiting for the honest nodes to recover";
    const recovered = await ready(RECOVERY_WAIT_MS, false);
    if (!recovered) say(`attack: the honest nodes have not recovered before ${attack.name} (an earlier attack's doing); running it anyway`);
    const windowStart = performance.now();
    phase = "reading the victims' metrics and starting the observation";
    const before = attack.verify ? await victimMetrics() : [];
    const obs = await Observation.begin(nodes, reach, lib.sample, SAMPLE_MS, values.trace ? say : undefined);
    const deadline = Date.now() + SECONDS * 1000;
    say(`attack: ${attack.name}: ${attack.description}`);
    phase = "waiting for the attack's workers";
    const { sent, tally, error } = await runThreads(attack, allocator.take(attack.subnets), allocator.take(attack.probeSubnets ?? 0), deadline);
    obs.attackEnded();
    phase = "settling and ending the observation";
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const measured = await obs.end(BUDGETS.propagationMs, BLOCK_WAIT_MS);
    phase = "judging the attack";
    const broken = violations(measured);
    if (attack.verify) {
      const after = (await victimMetrics()).map((m): VictimScrapes => {
        const b = before.find((x) => x.node === m.node);
        return { ...m, before: { gateway: b?.gateway ?? "", registry: b?.registry ?? "" } };
      });
      const checked = attack.verify(after, lib.sample, tally);
      say(`attack: ${attack.name}: ${checked.seen}`);
      broken.push(...checked.broken);
    }
    for (const e of exits.filter((x) => x.at >= windowStart)) broken.push(`${e.name} exited (${String(e.code)})`);
    rows.push({ attack: attack.name, sent, seconds: SECONDS, measured, violations: broken, recovered, ...(error ? { error } : {}) });
    clearTimeout(watchdog);
    say(`attack: ${attack.name}: ${broken.length === 0 && !error ? "ok" : (error ? ["the attack failed", ...broken] : broken).join("; ")}`);
    if (exits.some((x) => x.name.includes("p2p-gateway"))) {
      say("attack: a gateway exited; the rest of the suite would measure a broken devnet, stopping here");
      break;
    }
  }
} finally {
  await stopAll();
}

say(`\nattack suite: ${NODES} honest nodes (${PRODUCERS} producers), victim(s) ${targets.map((t) => t.ip).join(", ")}, ${SECONDS} s per attack, at most ${values["max-mib"]} MiB each`);
say(table(rows));
say(`\nhow the gateways answered the strangers:\n${answers(rows)}`);
const why = details(rows);
if (why) say(`\nbudgets broken:\n${why}`);
say(`\nlogs: ${net.logs}`);
const failed = rows.filter((r) => r.violations.length > 0 || r.error);
if (failed.length > 0 && !values["report-only"]) {
  console.error(`attack: ${failed.length} of ${rows.length} attacks broke a budget: ${failed.map((r) => r.attack).join(", ")}`);
  process.exit(1);
}
say(values["report-only"] ? "attack: report only (budgets not enforced)" : "attack: every budget held");
