// npm run bench:sync [-- --blocks 20000 --workers 1,2,4,8 --peers 1,4 --rtt 0,20,100 --rounds 1 --batch B --tx-bytes T --timers production|test --concurrency C --replicas inprocess|process --sources serving|node --sources-nice N --raw-each run|round --verify --counters --cpu --trace]
// Time to sync N blocks (~1 KiB each unless --tx-bytes) with 1..8 chain-sync workers from 1 or
// more source peers, each behind a relay that delays every chunk by RTT/2 per
// direction, beside the block-store's raw PutBlocks rate for the same blocks
// in the same run (the limit): the ratio is what to compare. --verify adds
// the two-core ed25519 verification rate of the same headers (the machine's limit), and the store's
// PutBlocks rate with 4 puts in flight (its import as chain-sync drives it) against it.
// --cpu prints, per run, the CPU each part of the node spent per 1,000 blocks. --sources-nice N runs the
// sources' processes at that nice level (default 0: the node's equal on the two cores). The sources are
// serving peers (--sources serving, the default: one light process answering from memory, p2p-gateway's
// bench/serving-peer.ts), so the node shares the two cores with next to nothing of its peers, as it would
// on a real network, where they are other machines; --sources node makes each a full node (gateway, store,
// NATS) on the node's own cores, as every table before the twenty-second session.
// Each run is compared with the raw rate measured just before and just after it (--raw-each round: once
// per round, before its runs). With --rounds R, a row's rate is the median of its R runs, its ratio the
// median of their R ratios, and a step between worker counts the median of the R ratios of runs made
// back to back (see below).
import { writeFileSync } from "node:fs";
import { setPriority } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { CpuMeter, type CpuParts } from "./cpu-meter.js";
import { DEVNET, signatureRate } from "@timenet/chain";
import { DialRequestSchema, Subjects } from "@timenet/proto";
import { freePort, median, parseCommandLine, tempDir } from "@timenet/testkit";
import type { ServiceProcess } from "@timenet/testkit";
import { buildChain, putChain, startNode, startSyncProcess, type SyncNode } from "../test/harness.js";
import type { DelayRelay } from "./delay-relay.js";
import { startDelayRelayThread } from "./delay-relay-thread.js";
import { EncodedChain } from "./encoded-chain.js";
import { TipWatch } from "./tip-watch.js";
import { BusTrace } from "./bus-trace.js";
import { CHAIN_SYNC_DEFAULTS } from "../src/options.js";
import { startServingPeers, type ServingPeers } from "./serving-peers.js";

const cli = parseCommandLine({
  command: "npm run bench:sync",
  about: "Blocks/s of a node syncing N blocks of ~1 KiB from source peers behind delaying relays, with 1..8 chain-sync workers, against the block-store's raw PutBlocks rate in the same run.",
  options: {
    blocks: { type: "string", default: "20000", arg: "N", help: "blocks to sync" },
    workers: { type: "string", default: "1,2,4,8", arg: "N[,N]", help: "chain-sync replicas, one run each" },
    peers: { type: "string", default: "1,4", arg: "N[,N]", help: "source peers" },
    rtt: { type: "string", default: "0,20,100", arg: "MS[,MS]", help: "round-trip time through each source's relay" },
    verify: { type: "boolean", help: "add the two-thread ed25519 rate (the machine's limit) and PutBlocks with 4 in flight" },
    counters: { type: "boolean", help: "print each run's batches, puts and fetches by result" },
    cpu: { type: "boolean", help: "print the CPU each part of the node spent per 1,000 blocks" },
    idle: { type: "boolean", help: "with --cpu, also each part's CPU per second over 3 s before the dial (what the processes cost doing nothing)" },
    trace: { type: "boolean", help: "print every message on the node's NATS (and the source nodes') from the dial to its first block" },
    rounds: { type: "string", default: "1", arg: "R", help: "rounds; a row is the median of its R runs" },
    timers: { type: "string", default: "production", arg: "production|test", help: "the replicas' lease, planner tick and heartbeat" },
    concurrency: { type: "string", arg: "C", help: "every replica's SYNC_CONCURRENCY (default chain-sync's)" },
    batch: { type: "string", arg: "B", help: "blocks per batch: every replica's SYNC_BATCH_SIZE and the raw reference's puts (default chain-sync's)" },
    "tx-bytes": { type: "string", default: "1000", arg: "T", help: "bytes of the one transaction of each block (1000: ~1 KiB blocks)" },
    replicas: { type: "string", default: "inprocess", arg: "inprocess|process", help: "replicas in the bench's process, or each its own chain-sync process" },
    sources: { type: "string", default: "serving", arg: "serving|node", help: "one light serving process for all sources (their CPU off the node's cores, as other machines'), or each source a full node (gateway, store, NATS) on the node's cores" },
    "sources-nice": { type: "string", default: "0", arg: "N", help: "nice level of the sources' processes once they hold the chain" },
    "raw-each": { type: "string", default: "run", arg: "run|round", help: "measure the raw reference after every run (each run against the mean of the raw before and after it) or once per round (before its runs)" },
  },
});
const { values } = cli;
const N = cli.number("blocks", { min: 128 });
const workerCounts = cli.numbers("workers", { min: 1, max: 64 });
const peerCounts = cli.numbers("peers", { min: 1, max: 16 });
const rtts = cli.numbers("rtt", { min: 0, max: 10_000 });
const ROUNDS = cli.number("rounds", { min: 1 });
const SOURCES_NICE = cli.number("sources-nice", { min: 0, max: 19 });
const SERVING_SOURCES = cli.oneOf("sources", ["node", "serving"]) === "serving";
// The raw reference beside each run, not only at the start of its round: this VM's speed moves within the
// ~40 s of a round (two raw measures a minute apart differed by up to 20 %), and a run is best compared with
// the raw rate of the same seconds. A run's baseline is the mean of the raw measured just before and just after it.
const RAW_EACH_RUN = cli.oneOf("raw-each", ["run", "round"]) === "run";
// The raw reference puts the blocks in the replicas' batches: a bigger put pays the store's fixed cost per put
// (its transaction, its sync) over more blocks, so the reference and the sync are compared at the same size.
const BATCH = values.batch === undefined ? CHAIN_SYNC_DEFAULTS.batchSize : cli.number("batch", { min: 1, max: 1_000 });
const TX_BYTES = cli.number("tx-bytes", { min: 1, max: 1_000_000 });
// chain-sync puts each answer as it comes, and a default peer's answer holds at most 4 MiB of blocks (the
// store's SERVE_MAX_BYTES): with big blocks the raw reference's puts are cut the same way.
const SERVE_MAX_BYTES = 4 * 1024 * 1024;
// A block's bytes: its transaction, and ~200 bytes of header and framing.
const BLOCK_BYTES = TX_BYTES + 200;
const PUT_BLOCKS = Math.max(1, Math.min(BATCH, Math.floor(SERVE_MAX_BYTES / BLOCK_BYTES)));
const SIZE = TX_BYTES === 1000 ? "~1 KiB" : `${TX_BYTES} bytes of transaction`;
// Every replica's options (SYNC_CONCURRENCY chain-sync's default unless given), in-process or as a process's environment.
const REPLICA = { batchSize: BATCH, ackWaitMs: 30_000, requestTimeoutMs: 10_000, maxWaitMs: 20_000, replanAfterMs: 30_000, ...(values.concurrency === undefined ? {} : { concurrency: cli.number("concurrency", { min: 1 }) }) };
const REPLICA_ENV: Record<string, string> = {
  SYNC_BATCH_SIZE: String(BATCH),
  SYNC_ACK_WAIT: String(REPLICA.ackWaitMs),
  SYNC_REQUEST_TIMEOUT: String(REPLICA.requestTimeoutMs),
  SYNC_MAX_WAIT: String(REPLICA.maxWaitMs),
  SYNC_REPLAN_AFTER: String(REPLICA.replanAfterMs),
  ...(REPLICA.concurrency === undefined ? {} : { SYNC_CONCURRENCY: String(REPLICA.concurrency) }),
};
// --idle: each part's CPU over this long before the dial.
const IDLE_MS = 3_000;
if (values.idle && !values.cpu) cli.fail("--idle goes with --cpu");
// The replicas in the bench's own process (each its own NATS connection, consumer and store client; --counters
// reads their registries), or each a real chain-sync process as `--scale chain-sync=N` runs them (production's
// timers; one event loop each, on whichever core is free).
const AS_PROCESSES = cli.oneOf("replicas", ["inprocess", "process"]) === "process";
if (AS_PROCESSES && (values.timers !== "production" || values.counters)) cli.fail("--replicas process runs production's timers and has no --counters");
// The replicas' lease, planner tick and heartbeat: production's defaults, or the tests' short ones
// (`--timers test`: every replica renewing, ticking and beating several times a second).
cli.oneOf("timers", ["production", "test"]);
const TIMERS =
  values.timers === "production"
    ? { leaseTtlMs: CHAIN_SYNC_DEFAULTS.leaseTtlMs, planIntervalMs: CHAIN_SYNC_DEFAULTS.planIntervalMs, heartbeatMs: CHAIN_SYNC_DEFAULTS.heartbeatMs }
    : {};
// The bench's own loopback range (sources, targets) and its relays' range.
const NODE_IP = (i: number) => `127.0.13.${i}`;
const RELAY_IP = (i: number) => `127.0.14.${i}`;

// The decoded blocks live only as long as this block: the bench then holds its chain as bytes (EncodedChain).
const { chain, sigRate } = await (async () => {
  const t0 = performance.now();
  const blocks = buildChain(DEVNET.genesis.header!, N, { txBytes: TX_BYTES });
  console.log(`built and signed ${N} blocks in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { sigRate: values.verify ? await signatureRate(blocks, 2) : undefined, chain: new EncodedChain(blocks) };
})();

/** A sync replica's counters (batches, puts, fetches by result), summed over the target's replicas. */
async function counters(target: SyncNode): Promise<string> {
  const sums = new Map<string, number>();
  for (const s of target.syncs) {
    for (const m of await s.registry.getMetricsAsJSON()) {
      const short = { timenet_sync_batches_total: "batch", timenet_sync_puts_total: "put", timenet_sync_fetches_total: "fetch" }[m.name];
      if (!short) continue;
      for (const v of m.values) {
        const key = `${short}.${String(v.labels.result)}`;
        sums.set(key, (sums.get(key) ?? 0) + v.value);
      }
    }
  }
  return [...sums].sort().map(([k, v]) => `${k}=${v}`).join(" ");
}

/** The processes whose CPU --cpu reads: the bench's own (replicas unless they are processes, and relays), the target's services, the sources'. */
function cpuParts(target: SyncNode, sources: BenchSources, peers: number, replicaProcesses: ServiceProcess[]): CpuParts {
  const pids = (n: SyncNode) => ({ gateway: n.gateway.child.pid!, store: n.storeProcess.child.pid!, nats: n.nats.pid });
  const t = pids(target);
  return {
    ...(AS_PROCESSES ? { relays: "self", replicas: replicaProcesses.map((p) => p.child.pid!) } : { "replicas+relays": "self" }),
    "target store": [t.store],
    "target gateway": [t.gateway],
    "target nats": [t.nats],
    // The sources apart: what serving costs each part (on a real network, other machines' cores).
    ...(sources.serving
      ? { "serving peers": [sources.serving.process.child.pid!] }
      : {
          "source stores": sources.nodes.slice(0, peers).map((s) => pids(s).store),
          "source gateways": sources.nodes.slice(0, peers).map((s) => pids(s).gateway),
          "source nats": sources.nodes.slice(0, peers).map((s) => pids(s).nats),
        }),
  };
}

// Every node's NATS as deployed (deploy/nats/nats.conf): 8 MB payloads, so that an answer carries up to the store's
// SERVE_MAX_BYTES (4 MiB) as on a real host, not nats-server's default 1 MB (which only big blocks would reach).
const natsConf = await tempDir("bench-sync-nats-");
const natsConfigFile = join(natsConf.path, "nats.conf");
writeFileSync(natsConfigFile, "max_payload: 8MB\n");
const startBenchNode = (ip: string) => startNode(0, { ip, natsConfigFile });

/** The sources: full nodes, or serving peers (--sources serving). */
interface BenchSources {
  nodes: SyncNode[];
  serving?: ServingPeers;
}

const nodes: SyncNode[] = [];
let relays: DelayRelay[] = [];
const sources: BenchSources = { nodes: [] };
// Interrupted: the nodes' child processes (nats-server, gateway, store) are stopped, not orphaned.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void Promise.allSettled([...relays.map((r) => r.stop()), ...nodes.map((n) => n.stop()), sources.serving?.process.stop()]).then(() => process.exit(130));
  });
}
try {
  const sourceIps = Array.from({ length: Math.max(...peerCounts) }, (_, i) => NODE_IP(1 + i));
  if (SERVING_SOURCES) sources.serving = await startServingPeers(sourceIps, chain, natsConf.path);
  else for (const ip of sourceIps) sources.nodes.push(await startBenchNode(ip));
  nodes.push(...sources.nodes);
  const sourceEndpoints = sources.serving ? sources.serving.endpoints : sources.nodes.map((s) => ({ ip: s.ip, port: s.p2pPort }));
  const rawRates: number[] = [];
  /** PutBlocks' rate for the whole chain in the replicas' batches, `inFlight` at once, into a store, fresh unless given. */
  const putRate = async (inFlight: number, ip: string, into?: SyncNode): Promise<{ rate: number; cpuReport?: string }> => {
    const store = into ?? (await startBenchNode(ip));
    // --cpu: the store's own CPU for the same blocks, to set beside the target store's during a sync.
    const cpu = values.cpu ? new CpuMeter({ store: [store.storeProcess.child.pid!], "store nats": [store.nats.pid], "bench (client)": "self" }) : undefined;
    const putStart = performance.now();
    await putChain(store, chain, PUT_BLOCKS, inFlight);
    const wallMs = performance.now() - putStart;
    const rate = N / (wallMs / 1000);
    const cpuReport = cpu?.report(N, wallMs);
    if (!into) await store.stop();
    return { rate, cpuReport };
  };
  /** The store's raw PutBlocks rate (one at a time): the reference of every ratio. */
  const measureRaw = async (into?: SyncNode): Promise<number> => {
    const { rate, cpuReport } = await putRate(1, NODE_IP(99), into);
    rawRates.push(rate);
    console.log(`block-store PutBlocks (raw, puts of ${PUT_BLOCKS}): ${Math.round(rate)} blocks/s`);
    if (cpuReport) console.log(`  ${cpuReport}`);
    return rate;
  };
  // The first raw measure fills the first source node's store (a fresh store's, as every raw measure).
  await measureRaw(sources.nodes[0]);
  await Promise.all(sources.nodes.slice(1).map((s) => putChain(s, chain, Math.max(1, Math.min(512, Math.floor((8 * SERVE_MAX_BYTES) / BLOCK_BYTES))))));
  // The sources stand for other machines. At a lower priority serving takes the cycles the node leaves
  // idle, as other machines' cores would: what is left is the node's own limit. Their CPU is still reported.
  if (SOURCES_NICE !== 0) {
    const pids = sources.serving ? [sources.serving.process.child.pid!] : sources.nodes.flatMap((s) => [s.gateway.child.pid!, s.storeProcess.child.pid!, s.nats.pid]);
    for (const pid of pids) setPriority(pid, SOURCES_NICE);
  }
  let pipelined: number | undefined;
  if (sigRate) {
    console.log(`ed25519 verification of the same headers, 2 threads: ${Math.round(sigRate)}/s (store raw = ${(rawRates[0]! / sigRate).toFixed(2)}x of it)`);
    // The store's import as chain-sync drives it (several puts in flight, verified while the one before is
    // committed), into a fresh store: what the store itself can take, against the machine's limit.
    pipelined = (await putRate(4, NODE_IP(98))).rate;
    console.log(`block-store PutBlocks, 4 in flight: ${Math.round(pipelined)} blocks/s (${(pipelined / sigRate).toFixed(2)}x of the 2-thread verification)`);
  }

  // Each row is the median of `rounds` runs; the worker counts of a row group take turns, and the raw
  // rate is measured again after every run (or at the start of every round): this VM's speed drifts (by
  // 1.7x within one run here, with the hypervisor's steal), so each run is compared with a raw rate taken beside it.
  const groups: Array<{ rtt: number; peers: number; samples: Map<number, number[]>; ratios: Map<number, number[]> }> = [];
  let run = 0;
  // With a raw measure after every run, the last one is the next run's "before", across rounds and groups too.
  let lastRaw: number | undefined;
  for (const rtt of rtts) {
    for (const peers of peerCounts) {
      relays = [];
      for (let i = 0; i < peers; i++) {
        const host = RELAY_IP(1 + i);
        relays.push(await startDelayRelayThread({ host, port: await freePort(host), target: { host: sourceEndpoints[i]!.ip, port: sourceEndpoints[i]!.port }, oneWayMs: rtt / 2, upstreamLocalAddress: host }));
      }
      const samples = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
      // Each run's rate over its raw reference, in the same order as its samples.
      const ratios = new Map<number, number[]>(workerCounts.map((w) => [w, []]));
      groups.push({ rtt, peers, samples, ratios });
      for (let round = 1; round <= ROUNDS; round++) {
        let rawBefore = RAW_EACH_RUN && lastRaw !== undefined ? lastRaw : await measureRaw();
        // Every other round runs the worker counts in reverse: a drift of the machine's speed within a
        // round then favours neither end of a step (and a step's two runs are always next to each other).
        for (const w of round % 2 === 1 ? workerCounts : [...workerCounts].reverse()) {
          const target = await startBenchNode(NODE_IP(100 + (run++ % 100)));
          nodes.push(target);
          const replicaProcesses: ServiceProcess[] = [];
          for (let k = 0; k < w; k++) {
            if (!AS_PROCESSES) await target.startSync({ ...REPLICA, ...TIMERS });
            else replicaProcesses.push(await startSyncProcess(target, `${target.ip}-w${k}`, REPLICA_ENV));
          }
          const cpu = values.cpu ? new CpuMeter(cpuParts(target, sources, peers, replicaProcesses)) : undefined;
          // Times from the store's own tip announcements, not from polling it: a poll every 20 ms cost the
          // target store and this process CPU the node would otherwise use.
          const watch = new TipWatch(target, N, { timeoutMs: 900_000 });
          await watch.ready();
          if (values.cpu && values.idle) {
            // The same parts doing nothing (before the dial): what of each 1,000 blocks' CPU is only the processes being there.
            const idle = new CpuMeter(cpuParts(target, sources, peers, replicaProcesses));
            await sleep(IDLE_MS);
            console.log(`  idle: ${idle.report(IDLE_MS, IDLE_MS).replace("per 1,000 blocks", "per second")}`);
          }
          const started = performance.now();
          const trace = values.trace ? new BusTrace(target, started) : undefined;
          const sourceTraces = values.trace ? sources.nodes.slice(0, peers).map((s) => new BusTrace(s, started)) : [];
          for (const r of relays) target.bus.publish(Subjects.registryDial, DialRequestSchema, { ip: r.host, port: r.port, reason: "bench" });
          await target.bus.flush();
          // The first block marks the end of start-up (dial, handshake, status, the first plan): printed apart.
          const { firstAt, reachedAt: ended } = await watch.reached();
          watch.stop();
          const rate = N / ((ended - started) / 1000);
          samples.get(w)!.push(rate);
          console.log(`${rtt} ms, ${peers} peers, ${w} workers, round ${round}: ${Math.round(rate)} blocks/s (start-up ${Math.round(firstAt! - started)} ms, then ${Math.round(N / ((ended - firstAt!) / 1000))} blocks/s)`, values.counters ? await counters(target) : "");
          if (cpu) console.log(`  ${cpu.report(N, performance.now() - started)}`);
          if (trace) console.log(`  start-up, the node's NATS:\n${trace.report(firstAt!)}`);
          sourceTraces.forEach((t, i) => console.log(`  start-up, source ${i + 1}'s NATS:\n${t.report(firstAt!)}`));
          await Promise.all(replicaProcesses.map((p) => p.stop()));
          await target.stop();
          nodes.pop();
          // Measured once the target is gone (its processes would take the raw store's cores); it is also the next run's "before".
          const rawAfter = RAW_EACH_RUN ? await measureRaw() : rawBefore;
          const baseline = (rawBefore + rawAfter) / 2;
          ratios.get(w)!.push(rate / baseline);
          if (RAW_EACH_RUN) console.log(`  against the raw rate beside it (${Math.round(rawBefore)} before, ${Math.round(rawAfter)} after): ${(rate / baseline).toFixed(2)}x`);
          rawBefore = lastRaw = rawAfter;
        }
      }
      await Promise.all(relays.map((r) => r.stop()));
      relays = [];
    }
  }
  const rawRate = median(rawRates);
  const rows: string[] = [];
  for (const { rtt, peers, samples, ratios: ratiosOf } of groups) {
    let prev: number[] | undefined;
    for (const w of workerCounts) {
      const runs = samples.get(w)!;
      const rate = median(runs);
      // Each run against the raw rate beside it (or its round's), then the median: the machine's drift cancels.
      const ratios = ratiosOf.get(w)!;
      // A step is judged on its pairs: round r's N+1 run against round r's N run, measured back to back
      // on the same machine, each against its own raw reference, then the median of those ratios. Medians
      // of each column taken apart would compare runs minutes apart, whose difference is the machine's
      // drift as much as the workers'.
      const step = prev === undefined ? undefined : median(ratios.map((r, i) => r / prev![i]!));
      const vsPrev = step === undefined ? "" : `${step.toFixed(2)}x`;
      const spread = runs.length > 1 ? ` | ${Math.round(Math.min(...runs))}–${Math.round(Math.max(...runs))}` : "";
      prev = ratios;
      const ratio = median(ratios);
      rows.push(`| ${rtt} ms | ${peers} | ${w} | ${Math.round(rate)}${spread} | ${ratio.toFixed(2)}x | ${vsPrev} |`);
    }
  }
  const rounds = ROUNDS > 1 ? `, each row the median of ${ROUNDS} rounds` : "";
  console.log(`\n${N} blocks of ${SIZE} in batches of ${BATCH} (raw: puts of ${PUT_BLOCKS}), loopback, ${SERVING_SOURCES ? "serving peers" : "source nodes"} behind a relay delaying RTT/2 each way${SOURCES_NICE ? ` at nice ${SOURCES_NICE}` : ""}${rounds}; raw PutBlocks ${Math.round(rawRate)} blocks/s (median of ${rawRates.length}: ${Math.round(Math.min(...rawRates))}–${Math.round(Math.max(...rawRates))}; each run against the raw rate ${RAW_EACH_RUN ? "just before and after it" : "at the start of its round"})${sigRate ? `, 2-thread ed25519 verify ${Math.round(sigRate)}/s, PutBlocks 4 in flight ${Math.round(pipelined!)} blocks/s (${(pipelined! / sigRate).toFixed(2)}x of it)` : ""}:\n`);
  const range = ROUNDS > 1 ? " | single rounds" : "";
  console.log(`| RTT | peers | workers | blocks/s${range} | ratio to raw PutBlocks${ROUNDS > 1 ? " (median of the rounds')" : ""} | vs previous worker count${ROUNDS > 1 ? " (median of the rounds' pairs)" : ""} |`);
  console.log(`|---|---|---|---|---|---|${ROUNDS > 1 ? "---|" : ""}`);
  for (const r of rows) console.log(r);
} finally {
  await Promise.all(relays.map((r) => r.stop()));
  await Promise.all(nodes.map((n) => n.stop()));
  await sources.serving?.process.stop();
  await natsConf.remove();
}
