// A peer that connects while a node syncs is asked once, to measure it,
// and given more only by the rate its answers show: a stranger that claims
// the chain and never answers must not take every question of a replica
// (before, a peer not yet measured counted as answering in 0 ms however
// many questions it had, and got them all until its first one timed out).
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { OffenceKind, OffenceSchema, Subjects } from "@timenet/proto";
import { blockHash, DEVNET } from "@timenet/chain";
import { waitFor } from "@timenet/testkit";
import { answerInPlaceOfStore, buildChain, dialClaiming, nodePool, putChain, waitHeight } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

// Long enough that the newcomer arrives mid-sync: ~5 s from one peer here (3 000-5 000 blocks/s in bench:sync).
const CHAIN = buildChain(DEVNET.genesis.header!, 20_000);
const ip = (k: number) => ({ ip: `127.0.13.${k}` });

describe("a newcomer that never answers", () => {
  test("it holds one question of the replica until its timeout; the honest peer is asked the rest, the node syncs, and only the timeout is reported", async (t) => {
    const good = await node(0, ip(211));
    await putChain(good, CHAIN);
    // A real gateway with no store behind it: it claims the chain, reads every GetBlocks, and answers none.
    const silent = await node(0, ip(212));
    const asked: string[] = [];
    await answerInPlaceOfStore(silent, (q) => void asked.push(`${q.fromHeight}+${q.count}`), CHAIN.length);

    const c = await node(0, ip(213));
    const offences: string[] = [];
    c.bus.subscribe(Subjects.offence, OffenceSchema, (off) => void offences.push(`${off.ip} ${off.kind}`));
    // One replica, four questions at a time, a question given up after 2 s (the harness's FAST).
    await c.startSync();
    await c.dial(good);
    await waitHeight(c, 256, 30_000);
    await dialClaiming(c, silent, CHAIN.length);
    await waitFor(() => asked.length > 0, { timeoutMs: 10_000, message: "the newcomer is asked, to measure it" });
    // Until its first question times out (2 s), the newcomer has that one question and no other.
    await new Promise((r) => setTimeout(r, 1_500));
    const heightThen = await c.height();
    t.diagnostic(`the newcomer was asked ${asked.join(", ")} in 1.5 s; the node at ${heightThen} of ${CHAIN.length}`);
    assert.ok(heightThen < CHAIN.length, "those 1.5 s were within the sync (else they prove nothing)");
    // After its timeout it has a failure and the honest peer none: it is not asked again before the end either way.
    assert.equal(asked.length, 1, `one question to the newcomer before its first answer or timeout: ${JSON.stringify(asked)}`);
    await waitHeight(c, CHAIN.length, 60_000);
    assert.equal(await c.tipHash(), Buffer.from(blockHash(CHAIN.at(-1)!.header!)).toString("hex"));
    // A question it let time out is its one low-severity offence (REQUEST_TIMEOUT); the honest peer is never reported.
    assert.deepEqual([...new Set(offences)], [`${silent.ip} ${OffenceKind.REQUEST_TIMEOUT}`]);
  });
});
