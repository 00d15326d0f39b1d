// npm run bench:serve [-- --peers 4 --rate 20 --puts 150 --batch 32 --rounds 1 --modes main-unbudgeted,worker-unbudgeted,worker]
// PutBlocks latency (p50/p99) of a block-store with no serving load, then
// while simulated peers flood it with GetBlocks (each at the gateway's
// per-peer limit, 20/s, 256 blocks of ~16 KiB: 4 MiB answers), in the same
// run, per serving mode: the ratio flood/baseline is what to compare.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { BlockStoreService, PeerMessageSchema, PutResult, Subjects, type Block } from "@timenet/proto";
import { Bus } from "@timenet/bus";
import { createGrpcClient } from "@timenet/grpc";
import { freePort, natsServerBinary, parseCommandLine, tempDir } from "@timenet/testkit";
import type { BlockStoreOptions } from "../src/index.js";
import { batches, buildChain, endOf, GENESIS } from "../test/chain-builder.js";

const cli = parseCommandLine({
  command: "npm run bench:serve",
  about: "PutBlocks latency of a block-store with no serving load, then while simulated peers flood it with GetBlocks, per serving mode, in the same run.",
  options: {
    peers: { type: "string", default: "4", arg: "N", help: "flooding peers" },
    rate: { type: "string", default: "20", arg: "N", help: "GetBlocks per second per peer" },
    puts: { type: "string", default: "150", arg: "N", help: "PutBlocks timed per phase" },
    batch: { type: "string", default: "32", arg: "N", help: "blocks per put" },
    served: { type: "string", default: "2048", arg: "N", help: "blocks the peers ask for" },
    modes: { type: "string", default: "main-unbudgeted,worker-unbudgeted,worker", arg: "MODE[,MODE]", help: "serving modes to measure" },
    "max-rss": { type: "string", default: "3072", arg: "MIB", help: "a flood phase ends early when the store's RSS passes this" },
    rounds: { type: "string", default: "1", arg: "R", help: "rounds; the modes take turns" },
  },
});
const { values } = cli;
const PEERS = cli.number("peers", { min: 1 });
const RATE = cli.number("rate", { min: 1 });
const PUTS = cli.number("puts", { min: 1 });
const BATCH = cli.number("batch", { min: 1 });
const SERVED = cli.number("served", { min: 1 });
/** Every mode runs once per round, interleaved, and its samples are pooled: load from elsewhere spreads over all modes alike. */
const ROUNDS = cli.number("rounds", { min: 1 });
const UNLIMITED = 1024 ** 4;
/** The flood phase ends early when the store's resident memory passes this (MiB): an unbounded backlog would take the machine. */
const MAX_RSS_MIB = cli.number("max-rss", { min: 64 });

/** A process's resident memory now and at its peak, in MiB (Linux). */
function rssMiB(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { now: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** What each mode changes in the store's options (a store built before the worker ignores them all). */
const MODES: Record<string, Partial<BlockStoreOptions>> = {
  "main-unbudgeted": { serveThread: "main", servePeerRate: UNLIMITED, servePeerBurst: UNLIMITED, serveGlobalRate: UNLIMITED, serveGlobalBurst: UNLIMITED },
  "worker-unbudgeted": { serveThread: "worker", servePeerRate: UNLIMITED, servePeerBurst: UNLIMITED, serveGlobalRate: UNLIMITED, serveGlobalBurst: UNLIMITED },
  worker: { serveThread: "worker" },
};
const modes = values.modes.split(",");
for (const m of modes) if (!MODES[m]) cli.fail(`--modes: no mode "${m}" (one of ${Object.keys(MODES).join(", ")})`);

/** A nats-server as deployed (deploy/nats/nats.conf): max_payload 8 MB, so 4 MiB answers fit. */
async function startNats(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const bin = natsServerBinary();
  if (!bin) throw new Error("nats-server not found on PATH");
  const port = await freePort();
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 8MB\n`);
  const child = spawn(bin, ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stderr!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Server is ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`nats-server exited with ${code}: ${out}`)));
  });
  child.stderr!.resume();
  return { url: `nats://127.0.0.1:${port}`, child };
}

/**
 * The store's main-thread event-loop delay p99 (ms) since the last call:
 * prom-client's monitor restarts at every scrape, so a scrape before a phase
 * and one after it measure that phase.
 */
async function loopDelayP99(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return Number(/^nodejs_eventloop_lag_p99_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
}

async function startStore(options: object): Promise<{ grpcPort: number; metricsPort: number; child: ChildProcess }> {
  const child = fork(fileURLToPath(new URL("./serve-store.js", import.meta.url)), [JSON.stringify(options)], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const ports = await new Promise<{ grpcPort: number; metricsPort: number }>((resolve, reject) => {
    child.once("message", (m) => resolve(m as { grpcPort: number; metricsPort: number }));
    child.once("exit", (code) => reject(new Error(`the block-store exited with ${code} before it was ready`)));
  });
  return { ...ports, child };
}

async function stopStore(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  if (child.connected) child.disconnect(); // not after the watchdog's SIGKILL
  await exited;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Phase {
  p50: number;
  p99: number;
  max: number;
}

function summarise(ms: number[]): Phase {
  if (ms.length === 0) return { p50: NaN, p99: NaN, max: NaN };
  const s = [...ms].sort((a, b) => a - b);
  return { p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1)! };
}

/** Simulated gateways: PEERS peers each asking RATE GetBlocks a second for 256 blocks at random heights of the served range. */
function flood(bus: Bus): { stop(): void; sent: () => number } {
  let requestId = 1;
  let sent = 0;
  const timers = Array.from({ length: PEERS }, (_, p) =>
    setInterval(() => {
      const fromHeight = 1 + Math.floor(Math.random() * (SERVED - 256));
      bus.publishEncoded(
        Subjects.peerIn("get_blocks"),
        toBinary(PeerMessageSchema, create(PeerMessageSchema, { peerIp: `198.51.100.${p + 1}`, connId: p + 1, envelope: { requestId: requestId++, payload: { case: "getBlocks", value: { fromHeight, count: 256 } } } })),
      );
      sent++;
    }, 1000 / RATE),
  );
  return { stop: () => timers.forEach(clearInterval), sent: () => sent };
}

interface ModeRun {
  baseline: number[];
  flood: number[];
  asked: number;
  answered: number;
  empty: number;
  servedMiB: number;
  floodSecs: number;
  lagBaseline: number;
  lagFlood: number;
  peakRssMiB: number;
  stopped?: string;
}

const t0 = performance.now();
const served = buildChain(GENESIS, SERVED, { padBytes: 16 * 1024 });
const measured = buildChain(endOf(served.at(-1)!), ROUNDS * modes.length * (2 * PUTS + 10) * BATCH, { salt: "put" });
console.log(`built and signed ${served.length} blocks of ~16 KiB and ${measured.length} of ~100 B in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const dir = await tempDir("bench-serve-");
const nats = await startNats(dir.path);
const bus = await Bus.connect({ servers: nats.url, name: "bench-gateway" });
// The gateway's side of the answers: counted, not decoded (a gateway only frames them).
let replies = 0;
let replyBytes = 0;
let emptyReplies = 0;
bus.connection.subscribe(Subjects.peerOutSend, {
  callback: (_err, m) => {
    replies++;
    replyBytes += m.data.length;
    if (m.data.length < 64) emptyReplies++;
  },
});
await bus.flush();

// One queue of batches for every run: a batch whose put failed (a run stopped early) is offered again by the next.
const queue = batches(measured, BATCH);
type Client = ReturnType<typeof createGrpcClient<typeof BlockStoreService>>;
async function putBatch(client: Client, blocks: Block[]): Promise<number> {
  const started = performance.now();
  const r = await client.putBlocks({ blocks });
  // ALREADY_HAVE: a batch offered again that had gone in although its call failed.
  if (r.result !== PutResult.APPLIED && r.result !== PutResult.ALREADY_HAVE) throw new Error(`PutBlocks answered ${PutResult[r.result]}: ${r.detail}`);
  return performance.now() - started;
}

/** One store with the mode's options: PUTS puts without load, then PUTS under the flood. */
async function runMode(mode: string, dbPath: string, fill: boolean): Promise<ModeRun> {
  const store = await startStore({ natsUrl: nats.url, dbPath, ...MODES[mode] });
  const client = createGrpcClient(BlockStoreService, `127.0.0.1:${store.grpcPort}`);
  try {
    if (fill) for (const b of batches(served, 128)) await putBatch(client, b);
    for (const b of queue.splice(0, 10)) await putBatch(client, b); // warm-up
    await loopDelayP99(store.metricsPort);
    const baseline: number[] = [];
    for (const b of queue.splice(0, PUTS)) baseline.push(await putBatch(client, b));
    const lagBaseline = await loopDelayP99(store.metricsPort);

    const before = { replies, replyBytes, emptyReplies };
    const f = flood(bus);
    const during: number[] = [];
    let stopped: string | undefined;
    // Checked often, not only between puts: a store that buffers without bound takes gigabytes in seconds.
    let peak = 0;
    const watchdog = setInterval(() => {
      if (stopped) return;
      const rss = rssMiB(store.child.pid!);
      peak = Math.max(peak, rss.peak);
      if (rss.now <= MAX_RSS_MIB) return;
      stopped = `store RSS ${rss.now.toFixed(0)} MiB: killed`;
      f.stop();
      store.child.kill("SIGKILL");
    }, 100);
    await new Promise((r) => setTimeout(r, 1_000)); // let the flood reach its rate
    await loopDelayP99(store.metricsPort).catch(() => NaN);
    const floodStart = performance.now();
    for (let i = 0; i < PUTS && !stopped; i++) {
      const b = queue.shift()!;
      try {
        during.push(await putBatch(client, b));
      } catch (err) {
        queue.unshift(b);
        stopped ||= (err as Error).message.split("\n")[0]!;
      }
    }
    clearInterval(watchdog);
    const floodSecs = (performance.now() - floodStart) / 1000;
    const lagFlood = stopped ? NaN : await loopDelayP99(store.metricsPort).catch(() => NaN);
    f.stop();
    await bus.flush();
    if (!stopped) peak = Math.max(peak, rssMiB(store.child.pid!).peak);
    return {
      baseline,
      flood: during,
      asked: f.sent(),
      answered: replies - before.replies,
      empty: emptyReplies - before.emptyReplies,
      servedMiB: (replyBytes - before.replyBytes) / 1024 ** 2,
      floodSecs: floodSecs + 1,
      lagBaseline,
      lagFlood,
      peakRssMiB: peak,
      ...(stopped && { stopped: `stopped after ${during.length} puts: ${stopped}` }),
    };
  } finally {
    client.close();
    await stopStore(store.child);
  }
}

const fmt = (p: Phase) => `${p.p50.toFixed(1)} / ${p.p99.toFixed(1)}`;
try {
  const dbPath = join(dir.path, "blocks");
  const runs = new Map<string, ModeRun[]>(modes.map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) {
      const r = await runMode(mode, dbPath, round === 0 && mode === modes[0]);
      runs.get(mode)!.push(r);
      console.log(`round ${round + 1}, ${mode}: PutBlocks p50 ${summarise(r.baseline).p50.toFixed(1)} -> ${summarise(r.flood).p50.toFixed(1)} ms${r.stopped ? ` (${r.stopped})` : ""}`);
    }
  }
  console.log(`\nPutBlocks of ${BATCH} blocks (ms, p50 / p99 of ${ROUNDS} × ${PUTS} calls each), ${PEERS} peers × ${RATE} GetBlocks/s × 256 blocks of ~16 KiB:\n`);
  console.log("| serving | baseline p50 / p99 | flood p50 / p99 | flood/baseline | flood: asked, answered (empty), served | store loop delay p99, baseline / flood | store peak RSS |");
  console.log("|---|---|---|---|---|---|---|");
  for (const [mode, rs] of runs) {
    const b = summarise(rs.flatMap((r) => r.baseline));
    const f = summarise(rs.flatMap((r) => r.flood));
    const sum = (k: "asked" | "answered" | "empty" | "servedMiB" | "floodSecs") => rs.reduce((n, r) => n + r[k], 0);
    const worst = (k: "lagBaseline" | "lagFlood" | "peakRssMiB") => Math.max(...rs.map((r) => r[k]));
    const stopped = rs.filter((r) => r.stopped).map((r) => r.stopped);
    console.log(
      `| ${mode}${stopped.length ? ` (${stopped.join("; ")})` : ""} | ${fmt(b)} | ${fmt(f)} | ${(f.p50 / b.p50).toFixed(1)}× / ${(f.p99 / b.p99).toFixed(1)}× | ` +
        `${sum("asked")}, ${sum("answered")} (${sum("empty")}), ${(sum("servedMiB") / sum("floodSecs")).toFixed(0)} MiB/s | ${worst("lagBaseline").toFixed(0)} / ${worst("lagFlood").toFixed(0)} ms | ${worst("peakRssMiB").toFixed(0)} MiB |`,
    );
  }
} finally {
  await bus.close();
  nats.child.kill("SIGTERM");
  await dir.remove();
}
