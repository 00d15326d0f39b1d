import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { PeerIp } from "@timenet/net-address";
import { create } from "@bufbuild/protobuf";
import { ConnectionStateSchema, DisconnectReason, GatewayRunSchema, OffenceKind, StateKeys } from "@timenet/proto";
import { ConnectedPeers } from "../src/connected-peers.js";
import type { BatchOutcome } from "../src/batch-outcome.js";
import { FORK_PROBE_DELIVERIES, probeVerdict, verdict } from "../src/batch-verdict.js";
import { BlockBuffer } from "../src/block-buffer.js";
import { ClaimStanding } from "../src/claim-standing.js";
import { PeerHeights } from "../src/peer-heights.js";
import { SyncProgress } from "../src/sync-progress.js";
import { SyncWindow } from "../src/sync-window.js";
import { TipTracker } from "../src/tip-tracker.js";
import { chainSyncEnvSchema, parseChainSyncEnv } from "../src/config.js";

const ip = (s: string) => s as PeerIp;

test("peer heights: the best peer, and a pick that skips tried peers and prefers the ones that did not fail", () => {
  const h = new PeerHeights();
  h.set(ip("10.0.0.1"), 100);
  h.set(ip("10.0.0.2"), 500);
  h.set(ip("10.0.0.3"), 500);
  h.set(ip("10.0.0.2"), 50); // heights never go down on an announcement
  assert.deepEqual(h.best(), { ip: "10.0.0.2", height: 500 });
  assert.equal(h.pick(400, new Set(["10.0.0.2"])), "10.0.0.3");
  assert.equal(h.pick(600, new Set()), undefined);
  h.failed(ip("10.0.0.3"));
  for (let i = 0; i < 20; i++) assert.equal(h.pick(400, new Set()), "10.0.0.2");
  h.remove(ip("10.0.0.2"));
  assert.equal(h.pick(400, new Set()), "10.0.0.3");
});

test("peer heights: a pick spreads questions by each peer's measured rate and what it already has from us", () => {
  const h = new PeerHeights();
  const [slow, fast, fresh] = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")];
  for (const p of [slow, fast, fresh]) h.set(p, 1_000);
  h.answered(slow, 100, 1_000); // 10 ms a block
  h.answered(fast, 100, 200); // 2 ms a block
  assert.equal(h.pick(500), fresh, "a peer not yet measured is asked first, to measure it");
  h.asking(fresh);
  h.answered(fresh, 0, 5_000); // a failure brings no rate
  h.failed(fresh);
  for (let i = 0; i < 10; i++) assert.equal(h.pick(500), fast);
  // Five questions out to the fast one: (5 + 1) × 2 ms expected, more than the idle slow one's 10 ms.
  for (let i = 0; i < 5; i++) h.asking(fast);
  assert.equal(h.pick(500), slow);
  h.answered(fast, 100, 100);
  assert.equal(h.pick(500), fast, "an answer frees its place");
});

test("peer heights: peers not yet measured share the questions; a newcomer beside a measured peer gets one until it answers", () => {
  const h = new PeerHeights();
  const peers = [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")];
  for (const p of peers) h.set(p, 10_000);
  // A sync starting: eight questions before any answer, as a replica's first window sends them.
  const asked = new Map<string, number>();
  for (let i = 0; i < 8; i++) {
    const p = h.pick(1)!;
    h.asking(p);
    asked.set(p, (asked.get(p) ?? 0) + 1);
  }
  assert.deepEqual([...asked.values()], [2, 2, 2, 2], "two questions each, not eight to whichever was picked first");
  // A newcomer mid-sync beside a measured peer: asked first to measure it, then nothing more until it answers.
  const g = new PeerHeights();
  const [known, newcomer] = [ip("10.0.1.1"), ip("10.0.1.2")];
  g.set(known, 10_000);
  g.answered(known, 256, 512); // 2 ms a block
  g.set(newcomer, 10_000);
  assert.equal(g.pick(1), newcomer, "idle and not yet measured: asked first, to measure it");
  g.asking(newcomer);
  // One question out to it and no answer yet: the measured peer takes the rest, however many it already has, and
  // even after a failure of its own (a newcomer with none yet is not preferred for that).
  g.failed(known);
  for (let i = 0; i < 10; i++) {
    assert.equal(g.pick(1), known);
    g.asking(known);
  }
  // Its first answer measures it (1 ms a block, faster than the known peer's 2 with ten questions out).
  g.answered(newcomer, 256, 256);
  assert.equal(g.pick(1), newcomer, "measured (and without failures), it is asked by its rate");
});

test("peer heights: blocks a peer served this replica are counted (what tells a busy peer that serves others from one that serves nobody), and forgotten with the peer", () => {
  const h = new PeerHeights();
  const p = ip("10.0.0.1");
  assert.equal(h.servedOf(p), 0);
  h.set(p, 1_000);
  h.answered(p, 0, 5); // busy: nothing served
  assert.equal(h.servedOf(p), 0);
  h.answered(p, 3, 5);
  h.answered(p, 2, 5);
  assert.equal(h.servedOf(p), 5);
  h.remove(p);
  assert.equal(h.servedOf(p), 0);
});

test("claim standing: a proven unbacked claim steers nothing for its time, is reported once, and is remembered per IP; failures without proof suspend briefly, doubling", () => {
  let now = 0;
  const distrusted: string[] = [];
  const s = new ClaimStanding({ unbackedForMs: 60_000, suspendMinMs: 1_000, suspendMaxMs: 4_000, maxEntries: 3, now: () => now }, (addr, reason, forMs) => void distrusted.push(`${addr} ${reason} ${forMs}`));
  const liar = ip("10.0.0.66");
  assert.equal(s.credible(liar, 4_294_967_295), 4_294_967_295, "in good standing until shown otherwise");
  s.backed(liar, 120);
  assert.equal(s.unbacked(liar, 4_294_967_295), true, "the first proof is reported");
  assert.equal(s.unbacked(liar, 4_294_967_295), false, "never twice for the same claim");
  assert.equal(s.unbacked(liar, 4_294_967_294), false, "nor again within its time");
  assert.equal(s.credible(liar, 4_294_967_295), 120, "only what it backed counts");
  assert.equal(s.trusts(liar), false);
  now = 60_001;
  assert.equal(s.credible(liar, 4_294_967_295), 4_294_967_295, "standing returns after unbackedForMs");
  assert.equal(s.unbacked(liar, 4_294_967_295), false, "the same claim is not reported again");

  assert.deepEqual(distrusted, ["10.0.0.66 unbacked 60000", "10.0.0.66 unbacked 60000"], "out of standing again, unreported");

  // Failures that prove nothing (it left, timed out): a suspension, doubling up to the cap, ended by a probe that succeeds.
  const honest = ip("10.0.0.7");
  const fail = () => {
    s.probeFailed(honest, 600);
    s.probeFailed(honest, 700); // another batch asked at the same time: the same failure
    assert.equal(s.credible(honest, 5_000), s.backedOf(honest), "suspended: only what it served counts");
    const forMs = Number(distrusted.at(-1)!.split(" ")[2]);
    now += forMs;
    assert.equal(s.credible(honest, 5_000), 5_000, "back after the suspension");
    return forMs;
  };
  assert.deepEqual([fail(), fail(), fail(), fail()], [1_000, 2_000, 4_000, 4_000]);
  s.backed(honest, 650); // the real chain, short of what the failed probes asked for, ends nothing
  assert.equal(fail(), 4_000);
  s.backed(honest, 700); // it served what it failed to: the run is over
  assert.equal(fail(), 1_000);

  // Another replica's report: distrusted here too, and not reported by us.
  const other = ip("10.0.0.8");
  s.reportedElsewhere(other);
  assert.equal(s.trusts(other), false);
  assert.equal(s.unbacked(other, 900), false);
  // Bounded: the entry written to longest ago goes.
  s.backed(ip("10.0.0.9"), 1);
  assert.equal(s.size, 3);
  assert.equal(s.backedOf(liar), 0, "the oldest entry was forgotten");
});

test("peer heights: a claim is planned only a lookahead beyond what is backed; an IP out of standing counts only up to what it served", () => {
  const standing = new ClaimStanding();
  const h = new PeerHeights(standing);
  const [honest, liar] = [ip("10.0.0.1"), ip("10.0.0.2")];
  h.set(honest, 1_000);
  h.set(liar, 4_294_967_295);
  assert.equal(h.horizon(100, 512), 612, "probed a lookahead past our tip, however high the claim");
  standing.backed(liar, 900);
  assert.equal(h.horizon(100, 512), 1_412, "or past what that peer served");
  standing.unbacked(liar, 4_294_967_295);
  assert.equal(h.horizon(100, 512), 900, "out of standing: what it served, no further");
  assert.equal(h.horizon(900, 512), 1_000, "the honest claim, whole once the lookahead covers it");
  assert.deepEqual(h.best(), { ip: "10.0.0.1", height: 1_000 }, "the lie is not the best height");
  assert.equal(h.pick(950, new Set()), "10.0.0.1", "nor is the liar asked beyond what it served");
  assert.equal(h.pick(1_001, new Set()), undefined);
  h.lower(honest, 800);
  assert.equal(h.heightOf(honest), 800, "an answer without a height lowers the claim");
});

test("tip tracker: waits resolve when the tip reaches them, or false after the timeout", async () => {
  const t = new TipTracker(() => assert.fail("no listener throws"));
  const reached = t.waitFor(5, 1_000);
  const missed = t.waitFor(50, 30);
  t.update(3, new Uint8Array(32).fill(3));
  t.update(5, new Uint8Array(32).fill(5));
  assert.equal(await reached, true);
  assert.equal(await missed, false);
  assert.equal(await t.waitFor(4, 0), true);
  const stop = new AbortController();
  const aborted = t.waitFor(50, 60_000, stop.signal);
  stop.abort();
  assert.equal(await aborted, false, "an abort ends the wait at once");
  assert.equal(t.listenerCount("advanced"), 0, "and leaves no listener behind");
});

test("tip tracker: a throwing listener is reported, never thrown into update, and the other listeners still run", async () => {
  const errors: string[] = [];
  const t = new TipTracker((event, err) => errors.push(`${event}: ${(err as Error).message}`));
  t.on("advanced", () => {
    throw new Error("listener bug");
  });
  const reached = t.waitFor(2, 1_000);
  t.update(2, new Uint8Array(32).fill(2));
  assert.equal(t.height, 2);
  assert.equal(await reached, true);
  assert.deepEqual(errors, ["advanced: listener bug"]);
});

test("verdict: a peer is reported only for what is provably its own; our gateway, our store and our waiting blame nobody", () => {
  const peer = ip("10.0.0.9");
  const cases: Array<[BatchOutcome, string, OffenceKind | undefined]> = [
    [{ kind: "applied", peer }, "ack", undefined],
    [{ kind: "fork_too_deep", peer, detail: "" }, "ack", undefined],
    [{ kind: "invalid", peer, height: 5, reason: "bad_signature", detail: "" }, "reassign", OffenceKind.INVALID_BLOCK],
    [{ kind: "timeout", peer, from: 1, detail: "" }, "reassign", OffenceKind.REQUEST_TIMEOUT],
    [{ kind: "empty", peer, from: 1 }, "reassign", undefined],
    [{ kind: "unbacked_claim", peer, from: 1, claim: 4_294_967_295, report: true }, "reassign", OffenceKind.UNBACKED_CLAIM],
    [{ kind: "unbacked_claim", peer, from: 1, claim: 4_294_967_295, report: false }, "reassign", undefined],
    [{ kind: "peer_left", peer, from: 1, detail: "" }, "reassign", undefined],
    [{ kind: "no_peer", deliveries: 1 }, "hand_back", undefined],
    [{ kind: "no_peer", deliveries: 3 }, "ack", undefined],
    [{ kind: "not_blocks", peer, from: 1, answered: "pong" }, "reassign", OffenceKind.PROTOCOL_VIOLATION],
    [{ kind: "malformed", peer, from: 1, detail: "blocks[0].header.prev_hash is 31 bytes, not 32" }, "reassign", OffenceKind.PROTOCOL_VIOLATION],
    [{ kind: "out_of_order", peer, from: 1, index: 0, height: 7 }, "reassign", OffenceKind.INVALID_BLOCK],
    [{ kind: "peer_unreachable", peer, from: 1, detail: "" }, "reassign", undefined],
    [{ kind: "rest_elsewhere", peer, why: "rounds" }, "reassign", undefined],
    [{ kind: "does_not_link", peer, from: 1 }, "reassign", undefined],
    [{ kind: "gateway_silent", peer, from: 1, detail: "" }, "hand_back", undefined],
    [{ kind: "store_failed", detail: "" }, "hand_back", undefined],
    [{ kind: "parent_not_reached" }, "hand_back", undefined],
  ];
  for (const [outcome, action, offence] of cases) {
    const v = verdict(outcome);
    assert.equal(v.action, action, outcome.kind);
    assert.equal(v.action === "reassign" ? v.offence : undefined, offence, outcome.kind);
  }
});

test("the block buffer is bounded", () => {
  const b = new BlockBuffer(300);
  assert.equal(b.tryReserve(128), true);
  assert.equal(b.tryReserve(128), true);
  assert.equal(b.tryReserve(128), false);
  b.release(128);
  assert.equal(b.tryReserve(128), true);
  assert.equal(b.size, 256);
});

test("progress: blocks per second over the window", () => {
  const p = new SyncProgress(10_000);
  p.record(0, 0);
  p.record(500, 1_000);
  p.record(1_000, 2_000);
  assert.equal(p.blocksPerSecond(2_000), 500);
  assert.equal(p.blocksPerSecond(60_000), 0, "stale samples mean no progress");
});

test("sync window: min batches before anything is measured; 2 × store rate × one batch's fetch time, in whole batches, capped; a stale fetch time is forgotten", () => {
  let now = 0;
  let rate = 0;
  const w = new SyncWindow({ batchSize: 128, minBatches: 8, maxBatches: 64, progress: { blocksPerSecond: () => rate }, now: () => now });
  assert.equal(w.blocks(), 8 * 128, "nothing measured");
  rate = 2_000;
  assert.equal(w.blocks(), 8 * 128, "a rate but no fetch time");
  w.fetched(500, 64); // half a batch in 500 ms: a whole one takes 1 s
  assert.equal(w.fetchMs, 1_000);
  assert.equal(w.blocks(), 32 * 128, "2 × 2000 blocks/s × 1 s = 4000 blocks: 32 batches");
  w.fetched(100, 128); // the moving average moves a fifth of the way
  assert.equal(w.fetchMs, 820);
  rate = 100_000;
  assert.equal(w.blocks(), 64 * 128, "capped at max");
  rate = 10;
  assert.equal(w.blocks(), 8 * 128, "never below min");
  rate = 2_000;
  now += 61_000;
  assert.equal(w.fetchMs, undefined, "a minute-old fetch time says nothing about today's peers");
  assert.equal(w.blocks(), 8 * 128);
  w.fetched(250, 128);
  assert.equal(w.fetchMs, 250, "a fresh sample starts the average again");
  assert.throws(() => new SyncWindow({ batchSize: 128, minBatches: 9, maxBatches: 8, progress: { blocksPerSecond: () => 0 } }), RangeError);
});

test("sync window: batches shrink to what one answer carries once the applied blocks are known to be big, and grow back when they are small", () => {
  const w = new SyncWindow({ batchSize: 256, batchMaxBytes: 4 * 1024 * 1024, minBatches: 8, maxBatches: 64, progress: { blocksPerSecond: () => 0 } });
  assert.equal(w.batchBlocks(), 256, "nothing known: a full batch");
  w.sized(64, 64 * 65_536); // 64 KiB blocks: 64 fill one 4 MiB answer
  assert.equal(w.batchBlocks(), 64);
  assert.equal(w.blocks(), 8 * 64, "the window is counted in the shorter batches");
  w.sized(1, 4 * 1024 * 1024); // one block of 4 MiB: the average moves a fifth of the way
  assert.equal(w.batchBlocks(), Math.floor((4 * 1024 * 1024) / (65_536 + 0.2 * (4 * 1024 * 1024 - 65_536))));
  for (let i = 0; i < 60; i++) w.sized(256, 256 * 1_100);
  assert.equal(w.batchBlocks(), 256, "small blocks again: never more than batchSize");
  for (let i = 0; i < 60; i++) w.sized(1, 16 * 1024 * 1024);
  assert.equal(w.batchBlocks(), 1, "never fewer than one block");
  const fixed = new SyncWindow({ batchSize: 128, minBatches: 8, maxBatches: 64, progress: { blocksPerSecond: () => 0 } });
  fixed.sized(1, 4 * 1024 * 1024);
  assert.equal(fixed.batchBlocks(), 128, "without batchMaxBytes every batch is batchSize");
});

test("configuration: defaults follow the port plan; a bad value stops the service with one line", () => {
  const c = parseChainSyncEnv({});
  assert.equal(c.GRPC_PORT, 50053);
  assert.equal(c.METRICS_PORT, 9103);
  assert.equal(c.SYNC_BATCH_SIZE, 256);
  const main = fileURLToPath(new URL("../src/main.js", import.meta.url));
  const r = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, SYNC_BATCH_SIZE: "many" }, encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr.trim(), /^invalid configuration: SYNC_BATCH_SIZE="many": expected an integer/);
  const r2 = spawnSync(process.execPath, [main], { env: { PATH: process.env.PATH, NETWORK: "nosuchnet" }, encoding: "utf8" });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr.trim(), /^invalid configuration: NETWORK="nosuchnet": network file .*nosuchnet.json/);
  assert.equal(r2.stderr.trim().split("\n").length, 1);
});

test("the README's configuration table lists every variable chain-sync reads", () => {
  const readme = readFileSync(fileURLToPath(new URL("../../../../README.md", import.meta.url)), "utf8");
  for (const name of Object.keys(chainSyncEnvSchema)) assert.match(readme, new RegExp("\\| `" + name + "` \\|"), name);
});

test("connected peers follow the gateway's state: established ones of its current run count, ends and a new run take them out", () => {
  const h = new PeerHeights();
  let changes = 0;
  const genesis = new Uint8Array(32).fill(1);
  const peers = new ConnectedPeers(h, Buffer.from(genesis).toString("hex"), () => void changes++);
  const run = (id: number) => ({ op: "put" as const, key: StateKeys.gatewayRun, revision: 1, value: { run: create(GatewayRunSchema, { runId: new Uint8Array(16).fill(id) }) } });
  const conn = (addr: string, o: { run?: number; height?: number; genesis?: Uint8Array; ended?: boolean; connId?: number } = {}) => ({
    op: "put" as const,
    key: StateKeys.connection(addr),
    revision: 1,
    value: {
      connection: create(ConnectionStateSchema, {
        ip: addr,
        connId: o.connId ?? 1,
        runId: new Uint8Array(16).fill(o.run ?? 1),
        hello: { bestHeight: o.height ?? 10, genesisHash: o.genesis ?? genesis },
        ended: o.ended ? { reason: DisconnectReason.PEER_CLOSED } : undefined,
      }),
    },
  });
  peers.apply(run(1));
  peers.apply(conn("10.0.0.1", { height: 50 }));
  peers.apply(conn("10.0.0.2", { height: 70 }));
  peers.apply(conn("10.0.0.3", { genesis: new Uint8Array(32).fill(9), height: 900 })); // another chain
  peers.apply(conn("10.0.0.4", { run: 0, height: 800 })); // an earlier run's leftover
  assert.deepEqual(h.best(), { ip: "10.0.0.2", height: 70 });
  assert.equal(h.size, 2);
  assert.equal(changes, 2);
  peers.apply(conn("10.0.0.2", { ended: true }));
  assert.deepEqual(h.best(), { ip: "10.0.0.1", height: 50 });
  peers.apply({ op: "delete", key: StateKeys.connection("10.0.0.1"), revision: 2 });
  assert.equal(h.size, 0);
  peers.apply(conn("10.0.0.1", { height: 50 }));
  // A losing branch served on one connection is not carried into the next (the gateway replaced it without an end seen).
  h.servedLosingBranch(ip("10.0.0.1"), 1_000);
  peers.apply(conn("10.0.0.1", { height: 50 }));
  assert.deepEqual(h.servedLosingBranch(ip("10.0.0.1"), 2_000), { inARow: 2, forMs: 1_000 }, "the same connection: the row goes on");
  peers.apply(conn("10.0.0.1", { height: 50, connId: 2 }));
  assert.deepEqual(h.servedLosingBranch(ip("10.0.0.1"), 3_000), { inARow: 1, forMs: 0 }, "a new connection: a new row");
  peers.apply(run(2)); // the gateway restarted: nobody it held is connected now
  assert.equal(h.size, 0);
});

test("verdict: a losing branch is reported only after LOSING_BRANCH_TRIES batches in a row and the grace on one connection (a healed partition's honest peer needs time to learn our branch)", () => {
  const peer = ip("10.0.0.9");
  const h = new PeerHeights();
  h.set(peer, 100);
  const graceMs = 10_000;
  const offenceAt = (now: number) => {
    const v = verdict({ kind: "fork_not_preferred", peer, ...h.servedLosingBranch(peer, now), graceMs });
    assert.equal(v.action, "ack");
    return v.action === "ack" ? v.offence : undefined;
  };
  // Three batches within a second: the peer may only lack our blocks yet.
  assert.equal(offenceAt(1_000), undefined);
  assert.equal(offenceAt(1_500), undefined);
  assert.equal(offenceAt(2_000), undefined);
  // Still at it past the grace: reported.
  assert.equal(offenceAt(11_000), OffenceKind.LOSING_BRANCH);
  // A batch it served on our branch ends the row; the grace counts again from the next losing one.
  h.succeeded(peer);
  for (const at of [20_000, 21_000, 22_000, 29_999]) assert.equal(offenceAt(at), undefined, `${at}`);
  assert.equal(offenceAt(30_000), OffenceKind.LOSING_BRANCH);
  // Past the grace but not yet three batches in a row: not reported either.
  h.succeeded(peer);
  assert.equal(offenceAt(40_000), undefined);
  assert.equal(offenceAt(60_000), undefined);
  assert.equal(offenceAt(60_001), OffenceKind.LOSING_BRANCH);
});

test("verdict of a fork probe: one peer's tip, never passed to another peer; offences still reported; handed back at most FORK_PROBE_DELIVERIES times; a losing tip blames nobody", () => {
  const peer = ip("10.0.0.9");
  const probe = (o: BatchOutcome, deliveries = 1) => probeVerdict(verdict(o), deliveries);
  assert.deepEqual(probe({ kind: "losing_tip", peer }).action, "ack");
  assert.equal((probe({ kind: "losing_tip", peer }) as { offence?: OffenceKind }).offence, undefined);
  // What a plan's batch would give to another peer ends here; an invalid block is still the peer's offence.
  const invalid = probe({ kind: "invalid", peer, height: 7, reason: "BAD_SIGNATURE", detail: "x" });
  assert.deepEqual([invalid.action, (invalid as { offence?: OffenceKind }).offence], ["ack", OffenceKind.INVALID_BLOCK]);
  const left = probe({ kind: "peer_left", peer, from: 7, detail: "gone" });
  assert.deepEqual([left.action, (left as { offence?: OffenceKind }).offence], ["ack", undefined]);
  assert.equal(probe({ kind: "does_not_link", peer, from: 7 }).action, "ack");
  // Our side's trouble: handed back, a bounded number of times.
  assert.equal(probe({ kind: "store_failed", detail: "down" }, 1).action, "hand_back");
  assert.equal(probe({ kind: "store_failed", detail: "down" }, FORK_PROBE_DELIVERIES - 1).action, "hand_back");
  assert.equal(probe({ kind: "store_failed", detail: "down" }, FORK_PROBE_DELIVERIES).action, "ack");
});

test("a batch larger than the buffer could never wait for its parent: refused at start with one line", () => {
  assert.throws(() => parseChainSyncEnv({ SYNC_BATCH_SIZE: "512", SYNC_MAX_BUFFERED_BLOCKS: "256" }), {
    message: 'invalid configuration: SYNC_BATCH_SIZE="512", SYNC_MAX_BUFFERED_BLOCKS="256": expected SYNC_BATCH_SIZE <= SYNC_MAX_BUFFERED_BLOCKS',
  });
});
