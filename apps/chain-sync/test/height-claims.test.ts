// Claims steer nothing until backed (issue #12). An honest producer P, an
// honest follower C, and two liars whose real gateways say Hello with
// best_height 4294967295 and serve the real chain (P's blocks, as far as P
// has them) and nothing beyond: L answers a question past the real chain
// with what it has, and leaves with Goodbye{SHUTDOWN} (its gateway stops)
// and comes back every few blocks; V never answers such a question: it
// leaves at once and comes back. C must keep following P at the producer's
// pace, plan only near the real chain, report L once (UNBACKED_CLAIM), never
// ask L about its lie again after a reconnect, probe V ever more rarely, and
// report nobody else. The planner's own rules are checked first, on a real
// work queue.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEVNET, networkFileJson, withLimits } from "@timenet/chain";
import { fromBinary } from "@bufbuild/protobuf";
import { Bus } from "@timenet/bus";
import { ChainTipSchema, enumLabel, OffenceKindSchema, OffenceSchema, Subjects, SyncBatchSchema, type Block } from "@timenet/proto";
import type { PeerIp } from "@timenet/net-address";
import { createLogger } from "@timenet/telemetry";
import { startNatsServer, tempDir, waitFor } from "@timenet/testkit";
import { Registry } from "prom-client";
import { SyncWindow } from "../src/sync-window.js";
import { BatchPlanner } from "../src/batch-planner.js";
import { SyncMetrics } from "../src/metrics.js";
import { CHAIN_SYNC_DEFAULTS } from "../src/options.js";
import { PeerHeights } from "../src/peer-heights.js";
import { TipTracker } from "../src/tip-tracker.js";
import { openWorkQueue, queueDepth, SYNC_STREAM } from "../src/work-queue.js";
import { answerInPlaceOfStore, claimHeight, dialClaiming, FAST, nodePool, startProducerProcess, waitHeight, type SyncNode } from "./harness.js";

const I = 400;
const NETWORK = withLimits(DEVNET, { blockIntervalMs: I, maxFutureDriftMs: 150 });
const LIE = 4_294_967_295;
const LOOKAHEAD = 4;
const BATCH = 32;

const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopAll();
});

/** When a node's tip (its chain.tip) first reached each height, in ms: a tip that jumps reaches every height below it. */
function tipTimes(n: SyncNode): Map<number, number> {
  const at = new Map<number, number>();
  let top = -1;
  n.bus.subscribe(Subjects.chainTip, ChainTipSchema, (t) => {
    for (; top < t.height; top++) at.set(top + 1, Date.now());
  });
  return at;
}

/**
 * A liar on node `l`: its store is stopped (it would serve honestly and say
 * its real height), and its gateway's Hello claims 4294967295. GetBlocks is
 * answered with the real chain, taken from P's store, as far as it goes.
 * `leaves`: a question reaching beyond the real chain is not answered at all:
 * the liar leaves (its gateway stops: Goodbye{SHUTDOWN}) and comes back (C
 * dials it again), so nothing about its claim is ever proven. Every question
 * is recorded, with what it got (-1: left instead).
 */
async function liar(l: SyncNode, p: SyncNode, c: SyncNode, o: { leaves: boolean }) {
  const asks: Array<{ from: number; count: number; served: number; at: number }> = [];
  let leaving: Promise<void> | undefined;
  let done = false;
  const connect = async () => {
    await claimHeight(l, LIE, NETWORK.genesisHash);
    await dialClaiming(c, l, LIE);
  };
  const leaveAndReturn = async () => {
    await l.restartGateway();
    await connect();
  };
  await answerInPlaceOfStore(l, async (q) => {
    const at = Date.now();
    const blocks: Block[] = [];
    for await (const r of p.store.getBlocks({ fromHeight: q.fromHeight, count: Math.min(q.count, 128) })) blocks.push(r.block!);
    if (o.leaves && blocks.length < q.count) {
      asks.push({ from: q.fromHeight, count: q.count, served: -1, at });
      if (!done) leaving ??= leaveAndReturn().finally(() => (leaving = undefined));
      return;
    }
    asks.push({ from: q.fromHeight, count: q.count, served: blocks.length, at });
    q.answer(blocks);
  });
  return {
    ip: l.ip as string,
    asks,
    /** Questions within the lie only: beyond the real chain. */
    probes: () => asks.filter((a) => a.served < a.count),
    connect,
    leaveAndReturn,
    /** Leaves no more (unanswered questions stay unanswered); any leave under way, finished. */
    async stop() {
      done = true;
      await leaving;
    },
  };
}

function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

/** What a planner works with: a real work queue on its own nats-server, and empty heights and tip. */
async function plannerParts() {
  const nats = await startNatsServer({ jetstream: true });
  cleanups.push(() => nats.stop());
  const bus = await Bus.connect({ servers: nats.url, name: "planner" });
  cleanups.push(() => bus.close());
  return {
    queue: await openWorkQueue(bus.connection, { ackWaitMs: 30_000, maxPendingBatches: 100 }),
    metrics: new SyncMetrics(new Registry()),
    logger: createLogger({ service: "chain-sync", node: "planner", level: process.env.TEST_LOG_LEVEL ?? "silent", pretty: false }),
    heights: new PeerHeights(),
    tip: new TipTracker(() => assert.fail("no listener throws")),
  };
}

describe("the planner, on a real work queue", () => {
  test("plans a claim only a lookahead past what is backed, falls back when the claim loses its standing, and plans the next honest height at once", async () => {
    const { queue, metrics, logger, heights, tip } = await plannerParts();
    const planner = new BatchPlanner({ queue, heights, tip, metrics, logger, batchSize: 10, maxPendingBatches: 100, lookaheadBatches: 3, replanAfterMs: 60_000 });
    const [liar, honest] = ["10.0.0.66" as PeerIp, "10.0.0.1" as PeerIp];
    const queued = async () => {
      const out: string[] = [];
      const depth = (await queueDepth(queue)).pending;
      for (let seq = 1, found = 0; found < depth; seq++) {
        const m = await queue.jsm.streams.getMessage(SYNC_STREAM, { seq }).catch(() => undefined);
        if (!m) continue;
        found++;
        const b = fromBinary(SyncBatchSchema, m.data);
        out.push(`${b.fromHeight}+${b.count}`);
      }
      return out;
    };
    planner.reset();
    heights.set(honest, 25);
    heights.set(liar, LIE);
    await planner.plan();
    assert.equal(planner.plannedUpTo, 30, "three batches past our tip, not to 4294967295");
    assert.deepEqual(await queued(), ["1+10", "11+10", "21+10"]);
    tip.update(10, new Uint8Array(32).fill(10));
    await planner.plan();
    assert.equal(planner.plannedUpTo, 40, "what is backed moves the horizon on");
    // The liar's claim is found unbacked: the plan falls to the honest claim.
    heights.standing.unbacked(liar, LIE);
    await planner.plan();
    assert.equal(planner.plannedUpTo, 25);
    assert.equal(await metrics.plannedUpTo.get().then((g) => g.values[0]!.value), 25);
    // The honest producer announces 26: planned at once, not a minute later by a replan.
    heights.set(honest, 26);
    await planner.plan();
    assert.equal(planner.plannedUpTo, 26);
    assert.deepEqual((await queued()).slice(-1), ["26+1"]);
  });

  test("plans no batch that starts beyond the sync window past our tip; the window slides with the tip", async () => {
    const { queue, metrics, logger, heights, tip } = await plannerParts();
    // Nothing measured: the window is its minimum, 2 batches of 10.
    const window = new SyncWindow({ batchSize: 10, minBatches: 2, maxBatches: 4, progress: { blocksPerSecond: () => 0 } });
    const planner = new BatchPlanner({ queue, heights, tip, metrics, logger, batchSize: 10, maxPendingBatches: 100, lookaheadBatches: 100, replanAfterMs: 60_000, window });
    planner.reset();
    heights.set("10.0.0.1" as PeerIp, 1_000);
    heights.standing.backed("10.0.0.1" as PeerIp, 1_000);
    await planner.plan();
    assert.equal(planner.plannedUpTo, 20, "two batches past the tip, though 1000 are claimed and backed");
    assert.equal(await metrics.windowBlocks.get().then((g) => g.values[0]!.value), 20);
    tip.update(15, new Uint8Array(32).fill(15));
    await planner.plan();
    assert.equal(planner.plannedUpTo, 40, "the tip moved 15: the batch that crosses tip + 20 is planned too");
  });
});

describe("peers whose Hello claims height 4294967295", () => {
  test("the honest node keeps following at the producer's pace and plans near the real chain; the liar that answers is reported once across its reconnects, the one that leaves fades", async (t) => {
    const dir = await tempDir("claims-");
    cleanups.push(() => dir.remove());
    const networkFile = join(dir.path, `devnet-${I}ms.json`);
    writeFileSync(networkFile, networkFileJson(NETWORK));
    const [p, c, l, v] = (await Promise.all([238, 239, 240, 241].map((k) => node(k, { network: networkFile })))) as [SyncNode, SyncNode, SyncNode, SyncNode];
    // One liar answers (with the real chain, so no block past it); the other leaves whenever asked past it.
    const [answering, leaving] = await Promise.all([liar(l, p, c, { leaves: false }), liar(v, p, c, { leaves: true })]);

    const offences: Array<{ ip: string; kind: string }> = [];
    for (const n of [p, c]) n.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void offences.push({ ip: o.ip, kind: enumLabel(OffenceKindSchema, o.kind) }));
    const madeAt = tipTimes(p);
    const followedAt = tipTimes(c);

    // A replan (the old way out) is a minute away: only the fix can keep C following.
    const sync = await c.startSync({ ...FAST, batchSize: BATCH, lookaheadBatches: LOOKAHEAD, replanAfterMs: CHAIN_SYNC_DEFAULTS.replanAfterMs });
    await c.dial(p);
    const producer = await startProducerProcess(p, 0, networkFile);
    cleanups.push(() => producer.stop());
    await waitHeight(c, 3, 30_000);

    // Every batch C's planner or workers put on the queue (its subject, seen on C's NATS), against the real chain at that moment.
    let worstAhead = 0;
    c.bus.subscribe(Subjects.syncBatch, SyncBatchSchema, (b) => {
      worstAhead = Math.max(worstAhead, b.fromHeight + b.count - 1 - Math.max(...madeAt.keys()));
    });
    const queue = await openWorkQueue(c.bus.connection, { ackWaitMs: FAST.ackWaitMs!, maxPendingBatches: CHAIN_SYNC_DEFAULTS.maxPendingBatches });
    let worstQueued = 0;
    const sample = async () => {
      const depth = await queueDepth(queue);
      worstQueued = Math.max(worstQueued, depth.pending + depth.inFlight);
    };
    const sampler = setInterval(() => void sample().catch(() => undefined), 100);
    cleanups.push(async () => clearInterval(sampler));

    const liarsFrom = Date.now();
    await Promise.all([answering.connect(), leaving.connect()]);
    // The first connection: C may probe the lie; the answering liar's answer proves it unbacked, and it is reported.
    await waitFor(() => offences.some((o) => o.ip === l.ip && o.kind === "unbacked_claim"), { timeoutMs: 15_000, message: "UNBACKED_CLAIM against the answering liar" });
    // Then it leaves with Goodbye{SHUTDOWN} and comes back, three times, a few blocks apart. Questions are
    // judged from when its first connection is gone: the batches C asked at once before the proof may reach
    // the liar's handler after the offence reached this test (both are NATS deliveries in this process).
    let firstGone = Infinity;
    for (let round = 0; round < 3; round++) {
      const h = await p.height();
      await waitHeight(c, h + 3, 30_000);
      await l.restartGateway();
      firstGone = Math.min(firstGone, Date.now());
      await answering.connect();
    }
    const until = (await p.height()) + 4;
    await waitHeight(c, until, 30_000);
    clearInterval(sampler);
    await sample();
    const liarsFor = Date.now() - liarsFrom;
    await leaving.stop();

    // Following: every block P made while the liars were about reached C within a few block intervals.
    const lags = [...madeAt].filter(([h, at]) => at >= liarsFrom && h <= until).map(([h, at]) => (followedAt.get(h) ?? Infinity) - at);
    lags.sort((a, b) => a - b);
    t.diagnostic(`${lags.length} blocks followed; lag median ${lags[lags.length >> 1]} ms, worst ${lags.at(-1)} ms (block interval ${I} ms)`);
    t.diagnostic(`batches reached at most ${worstAhead} heights past the real chain; at most ${worstQueued} batches queued or in flight`);
    assert.ok(lags.length >= 8, `${lags.length} blocks made`);
    assert.ok(lags.at(-1)! < 8 * I, `every block followed within ${8 * I} ms (worst ${lags.at(-1)} ms)`);

    // Planning stayed near the real chain: never more than the lookahead past it.
    assert.ok(worstAhead <= LOOKAHEAD * BATCH, `a batch reached ${worstAhead} past the real chain`);
    assert.ok((metricValue(await sync.registry.metrics(), "timenet_sync_planned_up_to") ?? 0) <= (await p.height()) + 1, "the plan is back at the real chain");
    // A lookahead for each probe of a lie, and a fallen plan's batches gone within three offers (not SYNC_MAX_PENDING_BATCHES of lies).
    assert.ok(worstQueued <= 4 * LOOKAHEAD, `${worstQueued} batches queued`);
    assert.ok(sync.heights.best()!.height <= (await c.height()) + 1, "the lie is not C's best peer height");

    // The answering liar's standing survived every reconnect: its lie was never asked about again.
    const probes = answering.probes();
    t.diagnostic(`the answering liar's lie was probed ${probes.length} times, all on its first connection; ${answering.asks.length} questions in all`);
    assert.ok(probes.length >= 1, "the lie was probed while it stood");
    assert.deepEqual(probes.filter((a) => a.at >= firstGone), [], "never asked within the lie after it was found out, across three reconnects");
    // The leaving liar proved nothing, but each time it left while asked, its claims were suspended twice as long as before.
    // (One probe is the batches of the lookahead, asked at once: they end together when it leaves.)
    const left = leaving.probes().map((a) => a.at - liarsFrom);
    const episodes = left.filter((at, i) => i === 0 || at - left[i - 1]! > 500);
    t.diagnostic(`the leaving liar was probed ${episodes.length} times in ${liarsFor} ms (at ${episodes.join(", ")} ms; ${left.length} questions)`);
    assert.ok(episodes.length >= 2, "the leaving liar's lie was probed again after its first suspension");
    const allowed = Math.floor(2 + Math.log2(liarsFor / 1_000));
    assert.ok(episodes.length <= allowed, `${episodes.length} probes in ${liarsFor} ms: a suspension doubling from 1 s allows ${allowed}`);

    await Promise.all([p.bus.flush(), c.bus.flush()]);
    const liars = new Set([answering.ip, leaving.ip]);
    assert.deepEqual(offences.filter((o) => !liars.has(o.ip)), [], "no offence against an honest node");
    assert.deepEqual(offences.filter((o) => o.ip === answering.ip).map((o) => o.kind), ["unbacked_claim"], "the answering liar reported once, not per batch or per connection");
    assert.deepEqual(offences.filter((o) => o.ip === leaving.ip && o.kind === "unbacked_claim"), [], "the leaving liar proved nothing, so nothing is said against it");
  });
});
