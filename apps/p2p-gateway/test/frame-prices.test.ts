// Every frame is priced from its length and head before its body is read: a
// real peer on a real socket sends what is too big, not asked for, unknown,
// or shaped to be costly to decode, beside an honest link that must not
// notice. The gateway runs in this process, so its event loop is ours to
// measure.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { create, toBinary } from "@bufbuild/protobuf";
import { DisconnectReason, EnvelopeSchema, HelloSchema, OffenceKind, OffenceSchema, PeerMessageSchema, PeerRequestErrorCode, PeerRequestSchema, PeerResponseSchema, Subjects } from "@timenet/proto";
import { encodeVarint, FIELD_LIMITS } from "@timenet/wire";
import { maxTxBytes, DEVNET } from "@timenet/chain";
import { waitFor } from "@timenet/testkit";
import type { PeerIp } from "@timenet/net-address";
import { attacker, dialVia, metricValue, nodePool, rawFrame, record, ScriptedPeer, waitConnected, type TestNode } from "./harness.js";

const { node, stopAll } = nodePool();
after(stopAll);

const MiB = 1024 * 1024;

/** A Blocks payload of `n` empty entries: 2 bytes each, the costliest thing to decode per byte. */
const emptyBlocks = (n: number) => Buffer.alloc(n * 2, Buffer.from([0x0a, 0x00]));

const FIELD = { ping: 12, blocks: 17, tx: 19 } as const;

async function honestPair(ka: number, kb: number): Promise<{ a: TestNode; b: TestNode; connId: number }> {
  const [a, b] = await Promise.all([node(ka), node(kb)]);
  await dialVia(b, a);
  await waitConnected(a, b);
  return { a, b, connId: a.gateway.manager.get(b.ip)!.connId };
}

describe("frames priced before they are read", () => {
  test("Blocks nobody asked for close the connection from the header; a late 8 MiB answer is skipped unread: no decode, the honest link and the event loop untouched", async () => {
    const { a, b, connId } = await honestPair(242, 243);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const rogue = await attacker(a, "127.0.2.13");
    rogue.send(rawFrame(FIELD.blocks, emptyBlocks(4 * MiB - 8)).subarray(0, 64));
    await rogue.waitClosed();
    assert.equal(rogue.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
    await a.bus.flush();
    await waitFor(() => offences.length === 1, { message: "the rogue reported" });
    assert.equal(offences[0]!.ip, "127.0.2.13");

    const p = await attacker(a, "127.0.2.1");
    const asked = a.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.2.1", envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 2 } } }, timeoutMs: 200 },
      PeerResponseSchema,
      { timeoutMs: 5_000 },
    );
    const q = await p.next((e) => e.payload.case === "getBlocks");
    assert.equal(((await asked).result.value as { code: number }).code, PeerRequestErrorCode.TIMEOUT);
    const frame = rawFrame(FIELD.blocks, emptyBlocks(4 * MiB - 8), q!.requestId);
    assert.ok(frame.length > 8 * MiB - 64 && frame.length <= 8 * MiB + 4);
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    p.send(frame);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_frames_skipped_total", { kind: "blocks", why: "late" })) === 1, {
      timeoutMs: 20_000,
      message: "the late answer skipped",
    });
    loop.disable();
    assert.equal(await metricValue(a.gateway, "timenet_gateway_decode_seconds_total", { kind: "blocks" }), 0, "nothing of it was decoded");
    // Decoding one such frame took ~1.4 s before frames were priced.
    assert.ok(loop.max / 1e6 < 200, `event-loop delay peaked at ${(loop.max / 1e6).toFixed(0)} ms`);
    assert.equal(a.gateway.manager.isConnected("127.0.2.1" as PeerIp), true, "a late answer is not the peer's fault");
    assert.equal(a.gateway.manager.get(b.ip)?.connId, connId, "the honest link stayed");
    p.close();
  });

  test("a peer that keeps sending what is skipped is not read beyond its budget: TCP holds it back, and its bytes cost no decryption", async () => {
    // Its own pongs wait behind its flood: at the tests' 100 ms pings, a loaded machine could close it for
    // PING_TIMEOUT before its first 16 MiB were read, and the budget would never be reached. Pings here are slow.
    const a = await node("127.0.2.100", { pingIntervalMs: 10_000 });
    const p = await attacker(a, "127.0.2.11");
    const frame = rawFrame(30, Buffer.alloc(64 * 1024 - 8)); // a kind this protocol does not have, at its size limit
    const started = Date.now();
    for (let i = 0; i < 1500; i++) p.send(frame); // 96 MiB queued on our side of the socket
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_read_pauses_total")) >= 1, { timeoutMs: 20_000, message: "reading paused" }).catch(async (err: Error) => {
      const read = await metricValue(a.gateway, "timenet_gateway_bytes_total", { kind: "unknown", direction: "in" });
      const closes = (await a.gateway.registry.getSingleMetric("timenet_gateway_disconnects_total")?.get())?.values.map((v) => `${String(v.labels.reason)}=${v.value}`) ?? [];
      throw new Error(`${err.message}: ${(read / MiB).toFixed(1)} MiB read, attacker ${p.closed ? "closed" : "open"}, closes [${closes.join(", ")}]`);
    });
    await new Promise<void>((r) => setTimeout(r, 1_500)); // let the pauses and refills run: the bound below is what they allow
    const elapsedS = (Date.now() - started) / 1000;
    const read = await metricValue(a.gateway, "timenet_gateway_bytes_total", { kind: "unknown", direction: "in" });
    // The default budget: a burst of 16 MiB, then 4 MiB/s (plus the frame read as the pause began). A frame over the
    // budget is charged too, as debt: when it went free, the sustained rate was twice the budget (28 MiB here).
    assert.ok(read <= (16 + 4 * elapsedS + 1) * MiB, `${(read / MiB).toFixed(0)} MiB read in ${elapsedS.toFixed(1)} s`);
    assert.ok(read < 1500 * 64 * 1024, "not everything was read");
    // (Its pongs wait behind its own flood in the stream: a peer that keeps this up times out on its own.)
    p.close();
  });

  test("a frame above its kind's price closes from its header: a 1 MiB Ping, and any Blocks before the Hello", async () => {
    const a = await node(244);
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const p = await attacker(a, "127.0.2.2");
    // Only the header and the head of the body: the gateway must not wait for the rest.
    p.send(rawFrame(FIELD.ping, Buffer.alloc(MiB)).subarray(0, 4 + 16));
    await p.waitClosed();
    assert.equal(p.goodbyeReason(), DisconnectReason.FRAME_TOO_LARGE);

    const early = await ScriptedPeer.dial(a.endpoint, "127.0.2.3");
    early.send(rawFrame(FIELD.blocks, emptyBlocks(16)).subarray(0, 20));
    await early.waitClosed();
    assert.equal(early.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
    await a.bus.flush();
    await waitFor(() => offences.length === 2, { message: "two offences" });
    assert.deepEqual(offences.map((o) => [o.ip, o.kind]).sort(), [
      ["127.0.2.2", OffenceKind.FRAME_TOO_LARGE],
      ["127.0.2.3", OffenceKind.PROTOCOL_VIOLATION],
    ]);
  });

  test("a Tx above the network's transaction limit is refused from its header; one within it is relayed once", async () => {
    const { a, b } = await honestPair(245, 246);
    const txs = record(b.bus, Subjects.peerIn("tx"), PeerMessageSchema);
    const big = await attacker(a, "127.0.2.4");
    big.send(rawFrame(FIELD.tx, Buffer.concat([Buffer.from([0x0a, ...encodeVarint(maxTxBytes(DEVNET) + 1)]), Buffer.alloc(maxTxBytes(DEVNET) + 1)])));
    await big.waitClosed();
    assert.equal(big.goodbyeReason(), DisconnectReason.FRAME_TOO_LARGE);

    const fine = await attacker(a, "127.0.2.5");
    const tx = create(EnvelopeSchema, { payload: { case: "tx", value: { data: Buffer.alloc(maxTxBytes(DEVNET), 7) } } });
    fine.send(tx);
    fine.send(tx);
    await waitFor(() => txs.length === 1, { message: "relayed to the honest peer" });
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_gossip_total", { kind: "tx", result: "duplicate" })) === 1, { message: "second copy not relayed" });
    assert.equal(txs.length, 1);
    fine.close();
  });

  test("an answer with more blocks than we asked for is refused before it is decoded", async () => {
    const a = await node(247);
    const p = await attacker(a, "127.0.2.6");
    const asked = a.bus.request(
      Subjects.peerRequest,
      PeerRequestSchema,
      { peerIp: "127.0.2.6", envelope: { payload: { case: "getBlocks", value: { fromHeight: 1, count: 2 } } }, timeoutMs: 5_000 },
      PeerResponseSchema,
      { timeoutMs: 10_000 },
    );
    const q = await p.next((e) => e.payload.case === "getBlocks");
    p.send(rawFrame(FIELD.blocks, emptyBlocks(100_000), q!.requestId));
    await p.waitClosed();
    assert.equal(p.goodbyeReason(), DisconnectReason.BAD_FRAME);
    const res = await asked;
    assert.equal(res.result.case, "error");
    assert.equal((res.result.value as { code: number }).code, PeerRequestErrorCode.PEER_CLOSED);
    assert.equal(await metricValue(a.gateway, "timenet_gateway_decode_seconds_total", { kind: "blocks" }), 0);
  });

  test("unknown kinds are skipped unread, and a flood of them is a bounded trickle of RATE_LIMIT offences; an empty envelope is a protocol error", async () => {
    const a = await node(248, { rateLimits: { gossip: { count: 100, periodMs: 1_000, burst: 100 }, abuse: { count: 1, periodMs: 60_000, burst: 50 } } });
    const offences = record(a.bus, Subjects.offence, OffenceSchema);
    const p = await attacker(a, "127.0.2.7");
    const unknown = rawFrame(30, Buffer.alloc(64));
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => unknown));
    p.send(burst);
    await waitFor(async () => (await metricValue(a.gateway, "timenet_gateway_frames_skipped_total")) === 1000, { message: "all skipped" });
    await a.bus.flush();
    await waitFor(() => offences.length >= 1, { message: "abuse reported" });
    assert.ok(offences.every((o) => o.kind === OffenceKind.RATE_LIMIT && o.ip === "127.0.2.7"));
    assert.equal(offences.length, 1, "one offence per minute of flood");

    const empty = await attacker(a, "127.0.2.12");
    empty.send(Buffer.alloc(4));
    await empty.waitClosed();
    assert.equal(empty.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
    p.close();
  });

  test("envelopes in non-canonical form, and fields beyond their rules, close the connection", async () => {
    const a = await node(249);
    // Padding after the payload (room for unknown fields that nobody priced).
    const padded = await attacker(a, "127.0.2.8");
    const ping = Buffer.from([0x62, 0x02, 0x08, 0x01]); // ping { nonce: 1 }
    const body = Buffer.concat([ping, Buffer.from([0xfa, 0x01, 0x03, 1, 2, 3])]);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    padded.send(Buffer.concat([header, body]));
    await padded.waitClosed();
    assert.equal(padded.goodbyeReason(), DisconnectReason.BAD_FRAME);

    // A Goodbye longer than its rule: refused, not logged or stored.
    const chatty = await attacker(a, "127.0.2.9");
    chatty.send(create(EnvelopeSchema, { payload: { case: "goodbye", value: { reason: DisconnectReason.SHUTDOWN, message: "x".repeat(FIELD_LIMITS.goodbyeChars + 1) } } }));
    await chatty.waitClosed();
    assert.equal(chatty.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);

    // A Hello (in our handshake message) whose best_hash is not 32 bytes never reaches the Hello's checks.
    const liar = await ScriptedPeer.dial(a.endpoint, "127.0.2.10", ScriptedPeer.identity(), {
      hello: (peer, binding) => toBinary(HelloSchema, { ...peer.hello(binding), bestHash: Buffer.alloc(40) }),
    });
    await liar.waitClosed();
    assert.equal(liar.goodbyeReason(), DisconnectReason.PROTOCOL_ERROR);
  });
});
