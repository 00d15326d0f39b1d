// npm run bench:store [-- --blocks 20000 --batch 128 --inflight 4 --threads 2 --rounds 3 --only sequential|workers]
// The block-store's raw import rate (BlockStore behind ImportPipeline, real
// LMDB in a temp dir, no gRPC) for the same blocks, in the same run:
//   - the machine's limit: their signatures verified on 2 worker threads
//     with keys parsed once;
//   - before: validation = "sequential" (the old single-threaded path);
//   - after: validation on worker threads, one put at a time and with
//     several puts in flight (what lets verifying k+1 overlap committing k).
// The measurements take turns, `rounds` times, and each row is its median:
// on a shared machine the load drifts, and this spreads the drift evenly.
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { DEVNET, signatureRate } from "@timenet/chain";
import { BlockSchema, PutResult } from "@timenet/proto";
import { createLogger } from "@timenet/telemetry";
import { median, parseCommandLine, tempDir } from "@timenet/testkit";
import { BlockStore } from "../src/block-store.js";
import { ImportPipeline } from "../src/import-pipeline.js";
import { StoreMetrics } from "../src/metrics.js";
import { VerifyPool } from "../src/verify-pool.js";
import { buildChain, GENESIS } from "../test/chain-builder.js";

const cli = parseCommandLine({
  command: "npm run bench:store",
  about: "The block-store's raw import rate (no gRPC) of the same blocks: sequential validation, validation on worker threads, one put and several in flight, against the two-thread signature rate.",
  options: {
    blocks: { type: "string", default: "20000", arg: "N", help: "blocks to import" },
    batch: { type: "string", default: "128", arg: "N", help: "blocks per put" },
    inflight: { type: "string", default: "4", arg: "N", help: "puts in flight in the last row" },
    threads: { type: "string", default: "2", arg: "N", help: "verification threads" },
    rounds: { type: "string", default: "3", arg: "R", help: "rounds; each row is the median" },
    only: { type: "string", arg: "sequential|workers", help: "measure only this validation" },
  },
});
const N = cli.number("blocks", { min: 1 });
const BATCH = cli.number("batch", { min: 1 });
const INFLIGHT = cli.number("inflight", { min: 1 });
const THREADS = cli.number("threads", { min: 1, max: 64 });
const only = cli.oneOf("only", ["sequential", "workers"]);
const ROUNDS = cli.number("rounds", { min: 1 });

const logger = createLogger({ service: "block-store", node: "bench", level: "warn", pretty: false });

const t0 = performance.now();
// ~1 KiB blocks; decoded from their bytes, as PutBlocks hands them to the store.
// Their bytes are kept too: PutBlocks keeps each block's bytes as sent (decodePutBlocksRequest).
const encodedChain = buildChain(GENESIS, N, { padBytes: 960 }).map((b) => toBinary(BlockSchema, b));
const chain = encodedChain.map((bytes) => fromBinary(BlockSchema, bytes));
const meanBytes = encodedChain.reduce((n, b) => n + b.length, 0) / N;
console.log(`built and signed ${N} blocks of ${Math.round(meanBytes)} bytes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const commitsSeen: string[] = [];

/** Blocks/s of importing the chain into a fresh store, `inflight` puts outstanding at a time. */
async function importRate(validation: "sequential" | "workers", inflight: number): Promise<number> {
  const dir = await tempDir("import-rate-");
  const metrics = new StoreMetrics(new Registry());
  const store = await BlockStore.open(join(dir.path, "blocks"), { network: DEVNET, metrics, logger });
  const pool = validation === "workers" ? new VerifyPool({ limits: { maxTxs: DEVNET.maxTxs, maxBlockBytes: DEVNET.maxBlockBytes }, logger, metrics, threads: THREADS }) : undefined;
  const importer = new ImportPipeline(store, pool, metrics);
  try {
    await pool?.ready();
    const started = performance.now();
    const outstanding = new Set<Promise<void>>();
    for (let i = 0; i < N; i += BATCH) {
      const p = importer.put(chain.slice(i, i + BATCH), validation === "workers" ? encodedChain.slice(i, i + BATCH) : undefined).then((o) => {
        if (o.result !== PutResult.APPLIED) throw new Error(`bench: put at ${i}: ${o.detail}`);
        outstanding.delete(p);
      });
      outstanding.add(p);
      if (outstanding.size >= inflight) await Promise.race(outstanding);
    }
    await Promise.all(outstanding);
    await store.flushed();
    const rate = N / ((performance.now() - started) / 1000);
    if (store.tip.height !== N) throw new Error(`bench: tip ${store.tip.height}, expected ${N}`);
    const perCommit = (await metrics.putsPerCommit.get()).values;
    const sum = perCommit.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0;
    const count = perCommit.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    commitsSeen.push(`${validation}/${inflight}: ${count} commits, ${(sum / Math.max(count, 1)).toFixed(2)} puts each`);
    return rate;
  } finally {
    await importer.stop();
    await store.close();
    await dir.remove();
  }
}

const measures: Array<{ key: string; what: string; run: () => Promise<number> }> = [];
if (!only) measures.push({ key: "limit", what: "limit: signatures verified on 2 threads (keys cached)", run: () => signatureRate(chain, 2) });
if (!only || only === "sequential") measures.push({ key: "before", what: "store, before: validation=sequential, 1 put at a time", run: () => importRate("sequential", 1) });
if (!only || only === "workers") {
  measures.push({ key: "after1", what: `store, after: validation=workers (${THREADS} threads), 1 put at a time`, run: () => importRate("workers", 1) });
  measures.push({ key: "afterN", what: `store, after: validation=workers (${THREADS} threads), ${INFLIGHT} puts in flight`, run: () => importRate("workers", INFLIGHT) });
}
const samples = new Map<string, number[]>(measures.map((m) => [m.key, []]));
for (let round = 1; round <= ROUNDS; round++) {
  for (const m of measures) samples.get(m.key)!.push(await m.run());
  console.log(`round ${round}: ${commitsSeen.splice(0).join("; ")}`);
  console.log(`round ${round}: ${measures.map((m) => `${m.key} ${Math.round(samples.get(m.key)!.at(-1)!)}`).join(", ")} blocks/s`);
}
const rate = (key: string) => (samples.has(key) ? median(samples.get(key)!) : undefined);
const sig = rate("limit");
const before = rate("before");
console.log(`\n${N} blocks of ~${Math.round(meanBytes)} bytes, puts of ${BATCH}, ${DEVNET.name}, median of ${ROUNDS} rounds:\n`);
console.log("| path | blocks/s | ratio to the 2-thread signature limit | ratio to before |");
console.log("|---|---|---|---|");
const ratio = (a: number, b: number | undefined) => (b === undefined ? "-" : `${(a / b).toFixed(2)}x`);
for (const m of measures) console.log(`| ${m.what} | ${Math.round(rate(m.key)!)} | ${ratio(rate(m.key)!, sig)} | ${ratio(rate(m.key)!, before)} |`);
