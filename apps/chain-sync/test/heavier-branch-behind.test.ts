// The fork choice prefers weight, not height: a branch that two producers
// take turns on outweighs a longer one a single key built alone. Two honest
// nodes, one on each, must both end on the heavier one, and report nobody.
// Before fork probes the node on the longer, lighter branch never fetched the
// shorter one (the sync planned only heights above its tip), and the other
// node, served the lighter branch again and again, reported it LOSING_BRANCH
// (a slow-clock CI run: two producers racing at the same rate stayed split).
// Then a peer announcing tips we do not hold as fast as the gateway lets it:
// one fetch per peer per interval, stretched while its fetches bring nothing,
// and the honest chain goes on.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { blockHash, DEVNET, devnetProducerKey, hashHex, networkFileJson, signBlock, withLimits } from "@timenet/chain";
import { BlockHeaderSchema, BroadcastSchema, OffenceSchema, PutResult, Subjects, type Block } from "@timenet/proto";
import { tempDir, waitFor } from "@timenet/testkit";
import type { ChainSync } from "../src/chain-sync.js";
import { answerInPlaceOfStore, FAST, nodePool, putChain, signedBranch, type SyncNode } from "./harness.js";

const NETWORK = withLimits(DEVNET, { blockIntervalMs: 300, maxFutureDriftMs: 100 });
const { node, stopAll } = nodePool();
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await stopAll();
});

let networkFile = "";
async function network(): Promise<string> {
  if (networkFile) return networkFile;
  const dir = await tempDir("heavier-branch-");
  cleanups.push(() => dir.remove());
  networkFile = join(dir.path, "devnet-300ms.json");
  writeFileSync(networkFile, networkFileJson(NETWORK));
  return networkFile;
}

/**
 * A prefix of 5 blocks, then two branches from its tip: `heavier`, 3 blocks
 * by producers 0, 1, 2 in turn (weight 3), and `lighter`, 6 blocks by
 * producer 1 alone (weight 1, the first block only). Recent timestamps: a
 * tip that grows is announced to peers only while fresh.
 */
function branches() {
  const prefix = signedBranch(NETWORK.genesis.header!, [1, 2, 0, 1, 2], { salt: `prefix ${Date.now()}`, params: NETWORK, firstTimestampMs: BigInt(Date.now() - 20_000) });
  const fork = prefix.at(-1)!.header!;
  const heavier = signedBranch(fork, [0, 1, 2], { salt: "heavier", params: NETWORK });
  const lighter = signedBranch(fork, [1, 1, 1, 1, 1, 1], { salt: "lighter", params: NETWORK });
  return { prefix, heavier, lighter, heavierTip: hashHex(blockHash(heavier.at(-1)!.header!)) };
}

function watchOffences(nodes: SyncNode[]): string[] {
  const out: string[] = [];
  for (const n of nodes) n.bus.subscribe(Subjects.offence, OffenceSchema, (o) => void out.push(`${n.ip} reports ${o.ip}: ${o.kind} ${o.detail}`));
  return out;
}

/** Blocks put straight into a node's store: applied, or kept aside if that node's sync brought it the other branch first. */
async function offer(n: SyncNode, blocks: Block[]): Promise<void> {
  const res = await n.store.putBlocks({ blocks }, { deadlineMs: 30_000 });
  assert.ok([PutResult.APPLIED, PutResult.FORK_NOT_PREFERRED, PutResult.ALREADY_HAVE].includes(res.result), `put into ${n.ip}: ${res.result} ${res.detail}`);
}

async function linked(a: SyncNode, b: SyncNode): Promise<void> {
  await a.dial(b);
  await waitFor(
    async () => (await a.gatewayGrpc.listConnections({})).connections.some((c) => c.ip === b.ip) && (await b.gatewayGrpc.listConnections({})).connections.some((c) => c.ip === a.ip),
    { timeoutMs: 15_000, message: `${a.ip} and ${b.ip} linked` },
  );
}

async function bothOn(nodes: SyncNode[], tip: string): Promise<void> {
  let seen: string[] = [];
  await waitFor(
    async () => {
      seen = await Promise.all(nodes.map(async (n) => `${n.ip} at ${await n.height()} ${(await n.tipHash()).slice(0, 12)}`));
      return (await Promise.all(nodes.map((n) => n.tipHash()))).every((h) => h === tip);
    },
    { timeoutMs: 20_000, intervalMs: 100, message: () => `both on the heavier branch (tip ${tip.slice(0, 12)}): ${seen.join(", ")}` },
  );
}

async function counter(s: ChainSync, name: string, labels: string): Promise<number> {
  const text = await s.registry.metrics();
  return Number(new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
}

describe("a heavier branch that is not the longer one", () => {
  test("two linked nodes each given one branch at once: both end on the heavier, nobody is reported", async () => {
    const { prefix, heavier, lighter, heavierTip } = branches();
    const nodes = await Promise.all([200, 201].map(async (k) => node(k, { network: await network() })));
    const [x, y] = nodes as [SyncNode, SyncNode];
    const offences = watchOffences(nodes);
    for (const n of nodes) await putChain(n, prefix);
    const [sx, sy] = [await x.startSync(FAST), await y.startSync(FAST)];
    await linked(x, y);

    await Promise.all([offer(x, lighter), offer(y, heavier)]);
    await bothOn(nodes, heavierTip);
    assert.deepEqual(offences, []);
    // x learnt the heavier branch by probing a tip below its own, or by being told y's tip (or both).
    const probed = await counter(sx, "timenet_sync_fork_probes_total", 'result="queued"');
    const told = await counter(sy, "timenet_sync_tips_announced_total", 'result="sent"');
    assert.ok(probed + told >= 1, `probes ${probed}, tips told ${told}`);
  });

  test("a node on the longer, lighter branch linked to one on the heavier: it probes the tip in its peer's Hello and switches; nobody is reported", async () => {
    const { prefix, heavier, lighter, heavierTip } = branches();
    const nodes = await Promise.all([202, 203].map(async (k) => node(k, { network: await network() })));
    const [z, w] = nodes as [SyncNode, SyncNode];
    const offences = watchOffences(nodes);
    await putChain(z, [...prefix, ...lighter]);
    await putChain(w, [...prefix, ...heavier]);
    const sz = await z.startSync(FAST);
    await w.startSync(FAST);
    await waitFor(() => sz.isPlanner(), { message: "z's replica plans" });
    await linked(w, z);

    await bothOn(nodes, heavierTip);
    assert.deepEqual(offences, []);
    assert.ok((await counter(sz, "timenet_sync_fork_probes_total", 'result="queued"')) >= 1, "z probed w's tip");
  });
});

describe("a peer announcing tips we do not hold, as fast as the gateway lets it", () => {
  test("costs one fetch per interval, doubled by each fetch that brings nothing; malformed announcements none; the honest chain goes on and the honest peer is not reported", async (t) => {
    const { prefix, heavier } = branches();
    const chain = [...prefix, ...heavier];
    const nodes = await Promise.all([204, 205, 206].map(async (k) => node(k, { network: await network() })));
    const [p, c, l] = nodes as [SyncNode, SyncNode, SyncNode];
    const offences = watchOffences([p, c]);
    for (const n of nodes) await putChain(n, chain);
    // l's answers are the test's: a probe's question (its tip's height) gets a signed block whose parent nobody has, and
    // the question from below that follows gets our own chain's blocks short of the tip. So each probe makes c's store
    // verify those and ends "does not link": no offence, and the most a probe can cost without a producer key.
    const asked: number[] = [];
    await answerInPlaceOfStore(l, (q) => {
      if (q.peerIp !== c.ip) return;
      asked.push(Date.now());
      q.answer(
        q.fromHeight >= chain.length
          ? [signBlock({ height: q.fromHeight, prevHash: randomBytes(32), timestampMs: BigInt(Date.now() - 1_000), txs: [randomBytes(8)] }, devnetProducerKey(q.fromHeight % 3))]
          : chain.slice(q.fromHeight - 1, chain.length - 1),
      );
    });
    const sc = await c.startSync(FAST);
    await waitFor(() => sc.isPlanner(), { message: "c's replica plans" });
    await linked(c, p);
    await linked(c, l);

    // 100 announcements a second for 4 s (the gateway's gossip limit is 200/s): at c's height, each a block nobody has;
    // one in two with a header that is not the block announced.
    const floodMs = 4_000;
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < floodMs) {
      const header = create(BlockHeaderSchema, {
        height: chain.length,
        prevHash: randomBytes(32),
        merkleRoot: randomBytes(32),
        timestampMs: BigInt(Date.now()),
        producerId: NETWORK.producers[0]!,
        signature: randomBytes(64),
      });
      const hash = sent % 2 === 0 ? blockHash(header) : randomBytes(32);
      l.bus.publish(Subjects.peerOutBroadcast, BroadcastSchema, { envelope: { payload: { case: "newBlock", value: { height: chain.length, hash, header } } } });
      sent++;
      await new Promise((r) => setTimeout(r, 10));
    }
    const floodEnded = Date.now();
    // The honest chain goes on meanwhile and after: p's next blocks reach c.
    const next = signedBranch(chain.at(-1)!.header!, [0, 1, 2], { salt: "after", params: NETWORK, firstTimestampMs: BigInt(Date.now()) });
    await putChain(p, next);
    await waitFor(async () => (await c.tipHash()) === hashHex(blockHash(next.at(-1)!.header!)), { timeoutMs: 10_000, message: "c follows p's new blocks" });

    const bad = await counter(sc, "timenet_sync_fork_probes_total", 'result="bad_announcement"');
    const queued = await counter(sc, "timenet_sync_fork_probes_total", 'result="queued"');
    const during = asked.filter((at) => at <= floodEnded + 2_000).length;
    t.diagnostic(`${sent} announcements: ${bad} malformed, ${queued} probed, ${during} GetBlocks to the liar`);
    assert.ok(bad >= 1, "malformed announcements were seen and fetched nothing");
    // At most one probe per SYNC_FORK_PROBE_INTERVAL (1 s), and each probe that brings nothing doubles it: probes at
    // 0, 2 and 6 s (the last, the latest tip deferred), three GetBlocks each (the tip, from below, the tip again).
    // Without the backoff: 5 or 6.
    const bound = 4;
    assert.ok(queued >= 1 && queued <= bound, `${queued} probes, at most ${bound}`);
    assert.ok(during >= 3 && during <= 3 * bound, `${during} GetBlocks to the liar, at most ${3 * bound}`);
    assert.ok((await c.gatewayGrpc.listConnections({})).connections.some((x) => x.ip === p.ip), "c still linked to p");
    assert.deepEqual(
      offences.filter((o) => o.includes(`reports ${p.ip}:`)),
      [],
      "nothing against the honest peer",
    );
  });
});
