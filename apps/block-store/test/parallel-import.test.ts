// Validation on worker threads against the old sequential path, on real
// LMDB stores in temp dirs: same outcomes, same commits, in order; a
// worker that ends mid-put; stop() draining the puts it accepted.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { clone } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { DEVNET, hashHex } from "@timenet/chain";
import { BlockInvalidReason, BlockSchema, PutResult, type Block } from "@timenet/proto";
import { tempDir } from "@timenet/testkit";
import { BlockStore, type PutOutcome } from "../src/block-store.js";
import { ImportPipeline } from "../src/import-pipeline.js";
import { StoreMetrics } from "../src/metrics.js";
import { VerifyPool } from "../src/verify-pool.js";
import { batches, buildChain, endOf, GENESIS } from "./chain-builder.js";
import { startTestStore, testLogger } from "./harness.js";

const logger = testLogger("parallel");
const limits = { maxTxs: DEVNET.maxTxs, maxBlockBytes: DEVNET.maxBlockBytes };
// One clock for both paths: "ms ahead of our clock" details are compared too.
const NOW = Date.now();

interface Opened {
  store: BlockStore;
  importer: ImportPipeline;
  pool: VerifyPool | undefined;
  metrics: StoreMetrics;
  path: string;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function open(validation: "workers" | "sequential", path?: string, maxQueuedPuts?: number, parentWaitMs?: number): Promise<Opened> {
  let dbPath = path;
  if (dbPath === undefined) {
    const dir = await tempDir("parallel-import-");
    cleanups.push(() => dir.remove());
    dbPath = join(dir.path, "blocks");
  }
  const metrics = new StoreMetrics(new Registry());
  const store = await BlockStore.open(dbPath, { network: DEVNET, metrics, logger, now: () => NOW });
  const pool = validation === "workers" ? new VerifyPool({ limits, logger, metrics, threads: 2, minChunk: 4 }) : undefined;
  await pool?.ready();
  const importer = new ImportPipeline(store, pool, metrics, { maxQueuedPuts, parentWaitMs });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await importer.stop();
    await store.close();
  };
  cleanups.push(close);
  return { store, importer, pool, metrics, path: dbPath, close };
}

/** What must be identical between the two paths. */
const summary = (o: PutOutcome) => ({
  result: o.result,
  applied: o.applied,
  tip: o.tip.height,
  tipHash: hashHex(o.tip.hash),
  invalid: o.invalid,
  held: o.held,
  detail: o.detail,
});

const valueOf = async (metric: { get(): Promise<{ values: Array<{ value: number }> }> }) => (await metric.get()).values.reduce((n, v) => n + v.value, 0);

const mainChain = (s: BlockStore) => Array.from({ length: s.tip.height + 1 }, (_, h) => hashHex(s.hashAt(h)!));

function badSignature(b: Block): Block {
  const c = clone(BlockSchema, b);
  c.header!.signature = new Uint8Array(c.header!.signature);
  c.header!.signature[3]! ^= 0x01;
  return c;
}

function badMerkle(b: Block): Block {
  const c = clone(BlockSchema, b);
  c.txs[0] = new TextEncoder().encode("a tx the producer did not sign");
  return c;
}

function repeatedTx(b: Block): Block {
  const c = clone(BlockSchema, b);
  c.txs.push(c.txs[0]!);
  return c;
}

/** Puts every run at once (in flight together), and their outcomes in order. */
const putAll = (o: Opened, runs: Block[][]) => Promise.all(runs.map((r) => o.importer.put(r)));

describe("validation on worker threads", () => {
  test("a bad signature in the middle of the puts in flight: the puts before it commit in order, it and the later ones do not; outcomes equal the sequential path's", async () => {
    const chain = buildChain(GENESIS, 200, { padBytes: 500 });
    const runs = batches(chain, 40);
    runs[2] = [...runs[2]!.slice(0, 17), badSignature(runs[2]![17]!), ...runs[2]!.slice(18)];
    const seq = await open("sequential");
    const par = await open("workers");
    const expected = (await putAll(seq, runs)).map(summary);
    const got = (await putAll(par, runs)).map(summary);
    assert.deepEqual(got, expected);
    assert.deepEqual(
      got.map((o) => o.result),
      [PutResult.APPLIED, PutResult.APPLIED, PutResult.INVALID, PutResult.PARENT_UNKNOWN, PutResult.PARENT_UNKNOWN],
    );
    assert.deepEqual(got[2]!.invalid, { reason: BlockInvalidReason.BAD_SIGNATURE, index: 17 });
    assert.equal(par.store.tip.height, 80);
    assert.deepEqual(mainChain(par.store), mainChain(seq.store));
    assert.equal(mainChain(par.store)[80], hashHex(endOf(chain[79]!).hash));
    assert.equal(par.store.blockAt(81), undefined, "nothing of the refused put is on the main chain");
    assert.equal(par.store.blockByHash(endOf(chain[80]!).hash), undefined, "nor stored at all");
  });

  test("every kind of failure, early blocks held, and a run offered again give the sequential path's outcomes", async () => {
    const chain = buildChain(GENESIS, 120);
    // Ahead of our clock by the drift bound and more: a minute more is held, ten are too early to hold.
    const behind = NOW - Number(endOf(chain.at(-1)!).timestampMs) + DEVNET.maxFutureDriftMs;
    const held = buildChain(endOf(chain.at(-1)!), 10, { lateByMs: behind + 60_000 });
    const tooEarly = buildChain(endOf(chain.at(-1)!), 10, { lateByMs: behind + 10 * 60_000, salt: "later" });
    const scenarios: Block[][] = [
      chain.slice(0, 30),
      [...chain.slice(30, 40), badMerkle(chain[40]!), ...chain.slice(41, 60)],
      [...chain.slice(30, 45), repeatedTx(chain[45]!), ...chain.slice(46, 60)],
      chain.slice(30, 60),
      chain.slice(20, 70), // the first 30 already on the chain: skipped
      chain.slice(70, 70), // no blocks
      chain.slice(70, 120),
      chain.slice(0, 50), // all on the main chain
      tooEarly,
      held,
    ];
    const seq = await open("sequential");
    const par = await open("workers");
    const outcomes: PutResult[] = [];
    for (const [i, run] of scenarios.entries()) {
      const expected = summary(seq.store.put(run));
      const got = summary(await par.importer.put(run));
      assert.deepEqual(got, expected, `scenario ${i}`);
      outcomes.push(got.result);
    }
    assert.deepEqual(outcomes, [
      PutResult.APPLIED,
      PutResult.INVALID,
      PutResult.INVALID,
      PutResult.APPLIED,
      PutResult.APPLIED,
      PutResult.INVALID,
      PutResult.APPLIED,
      PutResult.ALREADY_HAVE,
      PutResult.TOO_EARLY,
      PutResult.HELD,
    ]);
    assert.equal(par.store.tip.height, 120);
    assert.deepEqual(mainChain(par.store), mainChain(seq.store));
    assert.equal(par.store.nextDueMs() !== undefined, true, "the early run is held");
  });

  test("a worker that ends while it holds a chunk: the put is checked on the writer's thread, applied whole, and the worker replaced", async () => {
    const chain = buildChain(GENESIS, 160);
    const par = await open("workers");
    const dying = par.pool!.workers[0]!;
    const exited = once(dying, "exit");
    void dying.terminate();
    // Handed out before the exit is seen: the first chunk goes to the dying worker.
    const outcome = await par.importer.put(chain.slice(0, 80));
    await exited;
    assert.equal(outcome.result, PutResult.APPLIED, outcome.detail);
    assert.equal(outcome.applied, 80);
    assert.equal(par.pool!.restarts, 1);
    assert.equal((await par.metrics.verifyFallbacks.get()).values.find((v) => v.labels.reason === "worker_exited")?.value, 1);
    assert.notEqual(par.pool!.workers[0], dying);
    const next = await par.importer.put(chain.slice(80));
    assert.equal(next.result, PutResult.APPLIED, next.detail);
    // Reopened from disk: every block whole, the tip where the puts left it.
    await par.close();
    const again = await open("sequential", par.path);
    assert.equal(again.store.tip.height, 160);
    for (let h = 1; h <= 160; h++) assert.equal(hashHex(endOf(again.store.blockAt(h)!).hash), hashHex(endOf(chain[h - 1]!).hash), `block ${h}`);
  });

  test("stop() commits every put it accepted, in order, refuses later ones, and ends the workers", async () => {
    const chain = buildChain(GENESIS, 250);
    const par = await open("workers");
    const pending = batches(chain, 50).map((run) => par.importer.put(run));
    const workers = par.pool!.workers;
    const exits = workers.map((w) => once(w, "exit"));
    const stopped = par.importer.stop();
    await assert.rejects(par.importer.put(chain.slice(0, 1)), { code: "ERR_IMPORT_STOPPED" });
    await stopped;
    const outcomes = await Promise.all(pending);
    assert.deepEqual(
      outcomes.map((o) => [o.result, o.tip.height]),
      [50, 100, 150, 200, 250].map((h) => [PutResult.APPLIED, h]),
    );
    await Promise.all(exits);
    assert.equal(par.store.tip.height, 250);
  });

  test("at most maxQueuedPuts wait for the writer: the next is refused before any work (ERR_IMPORT_BUSY), counted, and taken once one is answered", async () => {
    const chain = buildChain(GENESIS, 200);
    const par = await open("workers", undefined, 2);
    const [first, second, third, fourth] = batches(chain, 50);
    const accepted = [par.importer.put(first!), par.importer.put(second!)];
    await assert.rejects(par.importer.put(third!), { code: "ERR_IMPORT_BUSY" });
    assert.equal(await valueOf(par.metrics.importRefused), 1);
    assert.equal(await valueOf(par.metrics.importQueue), 2);
    assert.deepEqual((await Promise.all(accepted)).map((o) => o.result), [PutResult.APPLIED, PutResult.APPLIED]);
    // Nothing of the refused put was written: it is offered again, whole, and applies after the others.
    assert.equal(par.store.tip.height, 100);
    assert.equal((await par.importer.put(third!)).result, PutResult.APPLIED);
    assert.equal((await par.importer.put(fourth!)).result, PutResult.APPLIED);
    assert.equal(par.store.tip.height, 200);
    assert.equal(await valueOf(par.metrics.importQueue), 0);
  });

  test("a put whose parent is neither stored nor queued is not verified ahead: answered parent_unknown on the writer's path; one that links to a queued put is", async () => {
    const chain = buildChain(GENESIS, 90);
    const [first, second, third] = batches(chain, 30);
    const par = await open("workers");
    const seq = await open("sequential");
    const early = await par.importer.put(second!);
    assert.deepEqual(summary(early), summary(seq.store.put(second!)));
    assert.equal(early.result, PutResult.PARENT_UNKNOWN);
    assert.equal(par.pool!.blocksSent, 0, "no signature of it was verified");
    const deferred = async (outcome: string) => (await par.metrics.checksDeferred.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    assert.equal(await deferred("parent_unknown"), 1);
    // In flight together, each links to the one queued before it: all verified ahead, all applied.
    const outcomes = await putAll(par, [first!, second!, third!]);
    assert.deepEqual(outcomes.map((o) => o.result), [PutResult.APPLIED, PutResult.APPLIED, PutResult.APPLIED]);
    assert.equal(par.pool!.blocksSent, 90);
    assert.equal(await deferred("parent_unknown"), 1);
    assert.equal(par.store.tip.height, 90);
  });

  test("a put whose parent comes only behind it in the queue is not verified at its turn either: it could only be parent_unknown", async () => {
    const chain = buildChain(GENESIS, 90);
    const [first, second, third] = batches(chain, 30);
    const par = await open("workers");
    // third before second: when third's turn comes, second is still queued behind it.
    const outcomes = await putAll(par, [first!, third!, second!]);
    assert.deepEqual(outcomes.map((o) => o.result), [PutResult.APPLIED, PutResult.PARENT_UNKNOWN, PutResult.APPLIED]);
    assert.equal(par.pool!.blocksSent, 60, "only the first and second puts were verified");
    assert.equal((await par.metrics.checksDeferred.get()).values.find((v) => v.labels.outcome === "parent_unknown")?.value, 1);
    assert.equal((await par.importer.put(third!)).result, PutResult.APPLIED, "offered again after its parent, it applies");
  });

  test("puts that come before their parent's put wait for it: each is verified and written right behind it, none answered parent_unknown", async () => {
    const chain = buildChain(GENESIS, 120);
    const runs = batches(chain, 30);
    // A wait far longer than the test: a put released by its parent's put, never by its timer.
    const par = await open("workers", undefined, undefined, 60_000);
    // The whole chain in reverse: each put waits for the next one to come, the first (from genesis) releases them all.
    const outcomes = await putAll(par, [...runs].reverse());
    assert.deepEqual(outcomes.map((o) => o.result), [PutResult.APPLIED, PutResult.APPLIED, PutResult.APPLIED, PutResult.APPLIED]);
    assert.equal(par.store.tip.height, 120);
    assert.equal(par.pool!.blocksSent, 120, "every block verified once");
    const reordered = async (outcome: string) => (await par.metrics.putsReordered.get()).values.find((v) => v.labels.outcome === outcome)?.value;
    assert.deepEqual([await reordered("parent_came"), await reordered("waited_out")], [3, 0]);
    assert.equal(await valueOf(par.metrics.checksDeferred), 0, "no put reached the writer without its parent");
  });

  test("a put whose parent's put never comes is answered parent_unknown when its wait ends, unverified; waiting puts count against the queue's bound; stop() answers them at once", async () => {
    const chain = buildChain(GENESIS, 90);
    const [first, second, third] = batches(chain, 30);
    const par = await open("workers", undefined, undefined, 50);
    const orphan = await par.importer.put(second!);
    assert.equal(orphan.result, PutResult.PARENT_UNKNOWN);
    assert.equal(par.pool!.blocksSent, 0, "no signature of it was verified");
    assert.equal((await par.metrics.putsReordered.get()).values.find((v) => v.labels.outcome === "waited_out")?.value, 1);
    // Offered again after its parent, it applies.
    assert.deepEqual((await putAll(par, [first!, second!])).map((o) => o.result), [PutResult.APPLIED, PutResult.APPLIED]);

    const bounded = await open("workers", undefined, 1, 60_000);
    const waiting = bounded.importer.put(third!);
    await assert.rejects(bounded.importer.put(first!), (err: Error & { code?: string }) => err.code === "ERR_IMPORT_BUSY");
    const stopped = bounded.close();
    assert.equal((await waiting).result, PutResult.PARENT_UNKNOWN, "answered by stop(), not after its 60 s wait");
    await stopped;
  });

  test("a put waiting for a parent that comes inside a longer put is queued as soon as that put is written, not when its wait ends", async () => {
    const chain = buildChain(GENESIS, 60);
    const par = await open("workers", undefined, undefined, 60_000);
    const started = Date.now();
    // Blocks 41..60 first: their parent, block 40, comes inside a put of 1..50, which ends at 50, not at 40.
    const waiting = par.importer.put(chain.slice(40, 60));
    const longer = await par.importer.put(chain.slice(0, 50));
    assert.equal(longer.result, PutResult.APPLIED);
    const released = await waiting;
    assert.deepEqual([released.result, released.applied, par.store.tip.height], [PutResult.APPLIED, 10, 60]);
    assert.ok(Date.now() - started < 10_000, "answered after the longer put, not after its 60 s wait");
    const reordered = async (outcome: string) => (await par.metrics.putsReordered.get()).values.find((v) => v.labels.outcome === outcome)?.value;
    assert.deepEqual([await reordered("parent_stored"), await reordered("waited_out")], [1, 0]);
  });

  test("puts that queue for the writer are written in one transaction each group, with the outcomes and chain of one put at a time", async () => {
    const chain = buildChain(GENESIS, 150);
    const runs = batches(chain, 30);
    runs[2] = [...runs[2]!.slice(0, 5), badSignature(runs[2]![5]!), ...runs[2]!.slice(6)];
    const seq = await open("sequential");
    const expected = runs.map((r) => summary(seq.store.put(r)));
    // One put at a time into a second store, then the same puts queued together on the writer's path.
    const grouped = await open("sequential");
    const got = await putAll(grouped, runs);
    assert.deepEqual(got.map(summary), expected);
    assert.deepEqual(
      got.map((o) => o.result),
      [PutResult.APPLIED, PutResult.APPLIED, PutResult.INVALID, PutResult.PARENT_UNKNOWN, PutResult.PARENT_UNKNOWN],
    );
    // The first put found the writer idle; the other four queued behind it and were written together.
    const perCommit = (await grouped.metrics.putsPerCommit.get()).values;
    const of = (suffix: string) => perCommit.find((v) => v.metricName === `timenet_store_puts_per_commit_${suffix}`)?.value;
    assert.deepEqual([of("count"), of("sum")], [2, 5]);
    assert.deepEqual(mainChain(grouped.store), mainChain(seq.store));
    // Reopened from disk: what the group committed is there, and nothing of the refused puts.
    await grouped.close();
    const again = await open("sequential", grouped.path);
    assert.deepEqual(mainChain(again.store), mainChain(seq.store));
    assert.equal(again.store.hasBlock(endOf(runs[2]![0]!).hash), false, "nothing of the invalid put is stored");
  });

  test("a put that throws inside a group answers with its error alone; the others of the group commit", async () => {
    const chain = buildChain(GENESIS, 60);
    const [first, second] = batches(chain, 30);
    const o = await open("sequential");
    // A block whose txs cannot be read throws in validation, not an outcome: its put holds the error.
    const broken = [{ ...second![0]!, get txs(): Uint8Array[] { throw new Error("unreadable txs"); } } as Block, ...second!.slice(1)];
    const outcomes = o.store.putGroup([{ blocks: first! }, { blocks: broken }, { blocks: second! }]);
    assert.equal((outcomes[0] as PutOutcome).result, PutResult.APPLIED);
    assert.match(String((outcomes[1] as { error: unknown }).error), /unreadable txs/);
    assert.equal((outcomes[2] as PutOutcome).result, PutResult.APPLIED);
    assert.equal(o.store.tip.height, 60);
    await o.close();
    const again = await open("sequential", o.path);
    assert.equal(again.store.tip.height, 60);
  });
});

describe("PutBlocks in flight together over gRPC", () => {
  test("~130 KiB puts sent at once reach the store out of order; every one applies, none is answered parent_unknown", async () => {
    // Blocks of ~1 KiB in puts of 128, as chain-sync sends them: each request crosses several HTTP/2
    // flow-control windows, so the streams of puts sent together interleave and finish in any order
    // (before the parent wait, most such puts were answered PARENT_UNKNOWN and had to be sent again).
    const chain = buildChain(GENESIS, 12 * 128, { padBytes: 900 });
    const s = await startTestStore();
    cleanups.push(() => s.stop());
    const outcomes = await Promise.all(batches(chain, 128).map((blocks) => s.client.putBlocks({ blocks })));
    assert.deepEqual(
      outcomes.map((o) => PutResult[o.result]),
      outcomes.map(() => "APPLIED"),
    );
    assert.equal(s.handle.store.tip.height, chain.length);
    assert.equal(await s.metric("timenet_store_puts_reordered_total", { outcome: "waited_out" }), 0);
  });
});
